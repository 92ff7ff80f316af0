/**
 * The tool registry: the operations agents (and the models behind them) may run as tool calls,
 * each with a JSON Schema of its input. The Runtime owns it so that every call is observable
 * (ToolExecuting / ToolCompleted) and checked against its schema, whichever agent makes it.
 */
import { z } from 'zod';
import type { ToolDescription } from '../agents/contract.ts';
import type { AttachedFile } from '../domain/product.ts';
import type { MessageRecord } from '../domain/records.ts';

/** What a tool may read of the run that calls it. */
export interface ToolScope {
  files: readonly AttachedFile[];
  history: readonly MessageRecord[];
  signal: AbortSignal;
}

export interface ToolDefinition extends ToolDescription {
  execute(args: Record<string, unknown>, scope: ToolScope): unknown;
}

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

  constructor(tools: readonly ToolDefinition[] = []) {
    for (const tool of tools) this.register(tool);
  }

  /** `defaults` with the application's `option` applied. */
  static compose(defaults: readonly ToolDefinition[], option: ToolsOption | undefined): ToolRegistry {
    if (option === undefined) return new ToolRegistry(defaults);
    if (typeof option === 'function') return new ToolRegistry(option(defaults));
    const replaced = new Set(option.map((tool) => tool.name));
    return new ToolRegistry([...defaults.filter((tool) => !replaced.has(tool.name)), ...option]);
  }

  private register(tool: ToolDefinition): void {
    if (!TOOL_NAME_PATTERN.test(tool.name)) throw new Error(`Tool name ${JSON.stringify(tool.name)} must match ${TOOL_NAME_PATTERN}.`);
    if (this.tools.has(tool.name)) throw new Error(`Tool ${tool.name} is registered twice.`);
    if (tool.inputSchema['type'] !== 'object') throw new Error(`Tool ${tool.name}: its input schema must be of type "object".`);
    this.tools.set(tool.name, { definition: tool, validate: z.fromJSONSchema(tool.inputSchema as z.core.JSONSchema.JSONSchema) });
  }

  list(): ToolDescription[] {
    return [...this.tools.values()].map(({ definition: { name, description, inputSchema } }) => ({ name, description, inputSchema }));
  }

  /** Checks `args` against the tool's schema, then runs it. */
  async execute(name: string, args: Record<string, unknown>, scope: ToolScope): Promise<unknown> {
    const tool = this.tools.get(name);
    if (!tool) throw new ToolInputError('UNKNOWN_TOOL', `There is no tool named ${JSON.stringify(name)}.`);
    const parsed = tool.validate.safeParse(args);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
      throw new ToolInputError('INVALID_TOOL_INPUT', `Invalid input for ${name}: ${problems.join('; ')}`);
    }
    return tool.definition.execute(args, scope);
  }
}
