/**
 * The tool registry: the operations agents (and the models behind them) may run as tool calls,
 * each with a JSON Schema of its input. The Runtime owns it so that every call is observable
 * (ToolExecuting / ToolCompleted) and checked against its schema, whichever agent makes it.
 */
import { z } from 'zod';
import type { ToolDescription } from '../agents/contract.ts';
import type { AttachedFile } from '../domain/product.ts';
import type { ClientTool, MessageRecord, RunInput } from '../domain/records.ts';

/** What a tool may read of the run that calls it. */
export interface ToolScope {
  files: readonly AttachedFile[];
  history: readonly MessageRecord[];
  signal: AbortSignal;
}

/** What `needsApproval` may decide from, besides the call's arguments. */
export interface ToolApprovalContext {
  runId: string;
  conversationId: string;
  agentId: string;
  input: RunInput;
}

export interface ToolDefinition extends ToolDescription {
  /** Runs the tool here; a client tool (`executedBy: 'client'`) has none, its frontend runs it. */
  execute?(args: Record<string, unknown>, scope: ToolScope): unknown;
  /** Whether a person must approve a call first: always, or as decided from its arguments and run. */
  needsApproval?: boolean | ((args: Record<string, unknown>, context: ToolApprovalContext) => boolean | Promise<boolean>);
}

/** Which tools need approval besides those that say so themselves (TOOLS_REQUIRING_APPROVAL): some by name, or all. */
export type ApprovalPolicy = ReadonlySet<string> | 'all';

/** How a call of a tool must go before (or instead of) running here. */
export type ToolGate = 'run' | 'approve' | 'client';

/** Why a tool call was refused before it ran: the model (or agent) asked for something wrong. */
export class ToolInputError extends Error {
  constructor(
    readonly code: 'UNKNOWN_TOOL' | 'INVALID_TOOL_INPUT',
    message: string,
  ) {
    super(message);
    this.name = 'ToolInputError';
  }
}

/** Tool names as models accept them, which is also what keeps them readable in events. */
const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

interface RegisteredTool {
  definition: ToolDefinition;
  validate: z.ZodType;
}

/**
 * What an application passes as `tools`: a list adds to the defaults (a tool with a default's
 * name takes its place); a function gets the defaults and returns the whole set.
 */
export type ToolsOption = readonly ToolDefinition[] | ((defaults: readonly ToolDefinition[]) => readonly ToolDefinition[]);

export class ToolRegistry {
  private readonly tools = new Map<string, RegisteredTool>();

  constructor(
    tools: readonly ToolDefinition[] = [],
    private readonly approvals: ApprovalPolicy = new Set(),
  ) {
    for (const tool of tools) this.register(tool);
  }

  /** `defaults` with the application's `option` applied, `approvals` on top of what tools say. */
  static compose(defaults: readonly ToolDefinition[], option: ToolsOption | undefined, approvals?: ApprovalPolicy): ToolRegistry {
    if (option === undefined) return new ToolRegistry(defaults, approvals);
    if (typeof option === 'function') return new ToolRegistry(option(defaults), approvals);
    const replaced = new Set(option.map((tool) => tool.name));
    return new ToolRegistry([...defaults.filter((tool) => !replaced.has(tool.name)), ...option], approvals);
  }

  /**
   * How this call must go: run here, wait for a person's approval first, or be run by the
   * frontend. An unknown tool or bad input is left to `execute`, which refuses it.
   */
  async gate(name: string, args: Record<string, unknown>, context: ToolApprovalContext): Promise<ToolGate> {
    const tool = this.tools.get(name)?.definition;
    if (!tool || !this.validate(name, args).success) return 'run';
    if (tool.executedBy === 'client') return 'client';
    if (this.approvals === 'all' || this.approvals.has(name)) return 'approve';
    const needs = typeof tool.needsApproval === 'function' ? await tool.needsApproval(args, context) : (tool.needsApproval ?? false);
    return needs ? 'approve' : 'run';
  }

  /**
   * This registry with the tools a frontend offered for one run, each a client tool (its calls
   * are CLIENT_TOOL requests). A registered tool of the same name keeps its place: a frontend
   * cannot stand in for a tool of the server's.
   */
  withClientTools(offered: readonly ClientTool[] | undefined): ToolRegistry {
    const added = (offered ?? []).filter((tool) => !this.tools.has(tool.name));
    if (added.length === 0) return this;
    const registry = new ToolRegistry([], this.approvals);
    for (const [name, tool] of this.tools) registry.tools.set(name, tool);
    for (const tool of added) {
      // Checked when the message was sent (experience/validation.ts).
      const validate = z.fromJSONSchema(tool.inputSchema as z.core.JSONSchema.JSONSchema);
      registry.tools.set(tool.name, { definition: { ...tool, executedBy: 'client' }, validate });
    }
    return registry;
  }

  private register(tool: ToolDefinition): void {
    if (!TOOL_NAME_PATTERN.test(tool.name)) throw new Error(`Tool name ${JSON.stringify(tool.name)} must match ${TOOL_NAME_PATTERN}.`);
    if (this.tools.has(tool.name)) throw new Error(`Tool ${tool.name} is registered twice.`);
    if (tool.inputSchema['type'] !== 'object') throw new Error(`Tool ${tool.name}: its input schema must be of type "object".`);
    if ((tool.executedBy === 'client') === (tool.execute !== undefined)) {
      throw new Error(`Tool ${tool.name}: a tool has an execute function unless the client executes it (executedBy: 'client').`);
    }
    this.tools.set(tool.name, { definition: tool, validate: z.fromJSONSchema(tool.inputSchema as z.core.JSONSchema.JSONSchema) });
  }

  list(): ToolDescription[] {
    return [...this.tools.values()].map(({ definition: { name, description, inputSchema, executedBy } }) => ({
      name,
      description,
      inputSchema,
      ...(executedBy && { executedBy }),
    }));
  }

  /** Checks `args` against the tool's schema, then runs it (here: a client tool is run by its frontend). */
  async execute(name: string, args: Record<string, unknown>, scope: ToolScope): Promise<unknown> {
    const checked = this.validate(name, args);
    if (!checked.success) throw checked.error;
    const execute = this.tools.get(name)!.definition.execute;
    if (!execute) throw new ToolInputError('UNKNOWN_TOOL', `${name} is executed by the client, not here.`);
    return execute(args, scope);
  }

  private validate(name: string, args: Record<string, unknown>): { success: true } | { success: false; error: ToolInputError } {
    const tool = this.tools.get(name);
    if (!tool) return { success: false, error: new ToolInputError('UNKNOWN_TOOL', `There is no tool named ${JSON.stringify(name)}.`) };
    const parsed = tool.validate.safeParse(args);
    if (parsed.success) return { success: true };
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
    return { success: false, error: new ToolInputError('INVALID_TOOL_INPUT', `Invalid input for ${name}: ${problems.join('; ')}`) };
  }
}
