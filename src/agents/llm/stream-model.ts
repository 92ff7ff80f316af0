/**
 * One model turn, possibly of several steps, streamed into the run through the agent context:
 * text deltas become AgentToken (as they come, no pause), reasoning AgentThinking, tool calls go
 * through the tool registry as ToolExecuting/ToolCompleted pairs, and each step's usage is
 * reported. Nothing is ever re-requested once a step has streamed: the SDK retries only a
 * request that failed before any output. A cancel aborts the HTTP request to the model.
 *
 * A tool call that needs a person (approval, or the client's result) pauses the run. Resumed,
 * the turn goes on from its messages: what the model said and called comes back from the log,
 * the calls it waited on are settled (approved ones run, denied ones give the model the denial
 * as their result), and the model is asked for the rest.
 */
import { NoSuchToolError, jsonSchema, stepCountIs, streamText, tool, type LanguageModel, type ModelMessage, type Tool } from 'ai';
import type { AgentContext, ToolDescription } from '../contract.ts';
import type { StoredEvent } from '../../domain/events.ts';
import { AgentError, ToolDeniedError } from '../errors.ts';
import { resumedTurn, stepMessages, type ResumedTurn } from './resumed-turn.ts';
import { show, type ArtifactOf } from '../platform-artifacts.ts';
import { modelError } from './model-errors.ts';
import { tracedModel } from './traced-model.ts';
import { traceContextOf } from '../../tracing/spans.ts';

export interface ModelTurn {
  model: LanguageModel;
  system: string;
  messages: ModelMessage[];
  /** Registered tools the model may call (run here, through the registry). */
  tools: readonly ToolDescription[];
  /** Artifacts to show for tools' results, by tool name. */
  artifacts?: Readonly<Record<string, ArtifactOf>>;
  /**
   * Tools the model may call that end the turn instead of running (such as a guide's routing
   * decision): their calls are returned.
   */
  decisions?: Record<string, { description: string; inputSchema: Record<string, unknown> }>;
  maxSteps: number;
  maxRetries: number;
}

export interface Decision {
  name: string;
  input: unknown;
}

export async function streamModel(context: AgentContext, turn: ModelTurn): Promise<Decision | null> {
  const names = new ModelToolNames();
  // A routing decision is asked again (it is not in the log); every other turn picks up from it.
  const resumed = turn.decisions ? null : resumeFromLog(context);
  const toolCallIds = new ToolCallIds(context.runId, resumed?.steps.flatMap((step) => step.calls.map((part) => part.toolCallId)) ?? []);
  /** Runs a call through the registry; a denied call's result, for the model, is the denial. */
  const runTool = async (description: ToolDescription, args: Record<string, unknown>, toolCallId: string) => {
    try {
      const result = await context.callTool(description.name, args, { toolCallId });
      await show(context, turn.artifacts?.[description.name]?.(result, args) ?? null);
      return result;
    } catch (error) {
      if (error instanceof ToolDeniedError) return denial(error.message);
      throw error;
    }
  };
  const tools: Record<string, Tool> = {};
  for (const description of turn.tools) {
    tools[names.add(description.name)] = tool({
      description: description.description,
      inputSchema: jsonSchema(description.inputSchema as never),
      execute: async (input, { toolCallId }) => runTool(description, input as Record<string, unknown>, toolCallIds.take(toolCallId)),
    });
  }
  let messages = turn.messages;
  if (resumed) {
    // Finished before its run paused (a liaison consulted earlier): its reply is back already.
    if (!resumed.paused) return null;
    const last = resumed.steps.at(-1)!;
    for (const waiting of resumed.waiting) {
      const description = turn.tools.find((candidate) => candidate.name === waiting.toolName);
      if (!description) throw new AgentError('UNKNOWN_TOOL', `The resumed turn waited on ${waiting.toolName}, which it no longer offers.`);
      const output = await runTool(description, waiting.input as Record<string, unknown>, waiting.toolCallId);
      last.results.push({ toolCallId: waiting.toolCallId, toolName: waiting.toolName, output });
    }
    messages = [...turn.messages, ...stepMessages(resumed.steps, (name) => names.modelName(name))];
  }
  for (const [name, decision] of Object.entries(turn.decisions ?? {})) {
    // No execute: a call ends the turn and is the caller's to act on.
    tools[names.add(name)] = tool({ description: decision.description, inputSchema: jsonSchema(decision.inputSchema as never) });
  }
  const result = streamText({
    model: tracedModel(turn.model, traceContextOf(context)),
    system: turn.system,
    messages,
    tools,
    // A refused tool call ends the turn at once: the run fails, so the model must not be asked again.
    stopWhen: [stepCountIs(turn.maxSteps), ({ steps }) => steps.at(-1)?.content.some(isRefusal) ?? false],
    maxRetries: turn.maxRetries,
    abortSignal: context.signal,
    // Errors are read from the stream below and end the run; the SDK's default prints them to stderr.
    onError: () => undefined,
  });
  let decision: Decision | null = null;
  const reasoning = new Map<string, string>();
  try {
    for await (const part of result.fullStream) {
      switch (part.type) {
        case 'text-delta':
          await context.stream(part.text);
          break;
        case 'reasoning-delta':
          reasoning.set(part.id, (reasoning.get(part.id) ?? '') + part.text);
          break;
        case 'reasoning-end': {
          const text = reasoning.get(part.id)?.trim();
          reasoning.delete(part.id);
          if (text) await context.think(text);
          break;
        }
        case 'tool-call': {
          if (part.invalid) await refuse(context, toolCallIds.take(part.toolCallId), names.registered(part.toolName), part.input, part.error);
          const name = names.registered(part.toolName);
          if (turn.decisions && name in turn.decisions) decision = { name, input: part.input };
          break;
        }
        case 'tool-error':
          // The registry refused the call (unknown tool, input not matching its schema): the run
          // fails. A tool that failed while running has told the model so, which may recover.
          if (part.error instanceof AgentError) throw part.error;
          break;
        case 'finish-step':
          context.reportUsage({
            inputTokens: part.usage.inputTokens ?? null,
            outputTokens: part.usage.outputTokens ?? null,
            totalTokens: part.usage.totalTokens ?? null,
          });
          break;
        case 'error':
          throw part.error;
        case 'abort':
          context.signal.throwIfAborted();
          throw new AgentError('UNAVAILABLE', 'The model stream was aborted.', true);
      }
    }
  } catch (error) {
    // Errors arrive as error parts, or (a stream cut mid-way) by rejecting the iteration.
    context.signal.throwIfAborted();
    throw modelError(error) ?? error;
  }
  context.signal.throwIfAborted();
  return decision;
}

/** What the model gets as the result of a call a person denied. */
function denial(comment: string): { denied: true; reason: string } {
  return { denied: true, reason: comment };
}

/** What this agent's turn did before its run paused, when it paused; null on a run that did not. */
function resumeFromLog(context: AgentContext): ResumedTurn | null {
  const { events } = context.resumeFromLog();
  if (events.length === 0) return null;
  return resumedTurn(events, (completed: Extract<StoredEvent, { type: 'ToolCompleted' }>) => {
    if (!completed.error) return completed.result;
    return completed.error.code === 'TOOL_DENIED' ? denial(completed.error.message) : { error: completed.error.message };
  });
}

function isRefusal(part: { type: string; invalid?: boolean; error?: unknown }): boolean {
  return (part.type === 'tool-call' && part.invalid === true) || (part.type === 'tool-error' && part.error instanceof AgentError);
}

/** A call the SDK could not even parse or route: shown as a failed tool call, then the run fails. */
async function refuse(context: AgentContext, toolCallId: string, toolName: string, input: unknown, cause: unknown): Promise<never> {
  const error = NoSuchToolError.isInstance(cause)
    ? new AgentError('UNKNOWN_TOOL', `The model called a tool that does not exist: ${toolName}.`, false)
    : new AgentError('INVALID_TOOL_INPUT', `The model called ${toolName} with input that is not valid JSON.`, false);
  await context.reportToolCall({ toolCallId, toolName, arguments: typeof input === 'string' ? { raw: input } : (input ?? null) });
  await context.reportToolResult(toolCallId, { error: error.toInfo() });
  throw error;
}

/**
 * Tool names as OpenAI-compatible models accept them (letters, digits, `_` and `-`), mapped
 * back to the registry's names (which may hold dots).
 */
class ModelToolNames {
  private readonly toRegistry = new Map<string, string>();

  add(name: string): string {
    const base = name.replace(/[^a-zA-Z0-9_-]/g, '_');
    let candidate = base;
    for (let suffix = 2; this.toRegistry.has(candidate); suffix += 1) candidate = `${base}_${suffix}`;
    this.toRegistry.set(candidate, name);
    return candidate;
  }

  registered(modelName: string): string {
    return this.toRegistry.get(modelName) ?? modelName;
  }

  modelName(registered: string): string {
    for (const [model, name] of this.toRegistry) if (name === registered) return model;
    return registered.replace(/[^a-zA-Z0-9_-]/g, '_');
  }
}

/**
 * Tool-call ids unique within the conversation: a model's ids (`call_1`...) repeat across runs,
 * and some servers repeat them across the steps of one run.
 */
class ToolCallIds {
  private readonly used: Set<string>;

  /** @param used ids the run's earlier executions gave out already (a resumed run's). */
  constructor(
    private readonly runId: string,
    used: Iterable<string> = [],
  ) {
    this.used = new Set(used);
  }

  take(modelId: string): string {
    for (let count = 1; ; count += 1) {
      const id = `${this.runId}:${modelId}${count > 1 ? `:${count}` : ''}`;
      if (this.used.has(id)) continue;
      this.used.add(id);
      return id;
    }
  }
}
