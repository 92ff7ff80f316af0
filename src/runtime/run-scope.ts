/**
 * The emit side of one executing run: every agent context of the run (the routed agent and any
 * it hands off to) appends through here, so the reply and the tool-call bookkeeping are shared.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import type { AgentContext, AgentDirectory } from '../agents/contract.ts';
import type { AgentId, AttachedFile } from '../domain/product.ts';
import { AgentError } from '../agents/errors.ts';
import type { EventLog } from '../store/event-log.ts';
import { RunAppender } from './run-appender.ts';
import { deepFreeze } from '../domain/frozen.ts';
import { runEvent, type ArtifactKind, type EventBody, type NewEvent, type StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, TokenUsage, MessageRecord, RunRecord } from '../domain/records.ts';
import { ToolInputError, type ToolRegistry } from './tools.ts';

export class ToolError extends Error {
  constructor(
    readonly toolName: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface RunScopeOptions {
  run: RunRecord;
  files: readonly AttachedFile[];
  /** The log the run's events go to (fenced by the executor); they are appended in batches. */
  events: EventLog;
  agents: AgentDirectory;
  tools: ToolRegistry;
  signal: AbortSignal;
  stepDelayMs: number;
  /** Told of every usage reported during the run. */
  onUsage?: (usage: TokenUsage) => void;
}

/** Where an agent's reply goes: into the run's reply (streamed), or into a consulting agent's capture. */
interface Capture {
  text: string;
}

/** A tool call reported with reportToolCall and not yet completed. */
interface OpenToolCall {
  agentId: string;
  toolName: string;
  started: number;
}

export class RunScope {
  /** The reply so far: every AgentToken delta of the run, joined. */
  reply = '';
  /** Who wrote the reply: the last agent that said something. */
  replyAgentId: string;
  /** The agent that emitted last: the one a failure or cancellation interrupts. */
  currentAgentId: string;
  /** The run's token usage so far: null until a model reports some. */
  usage: TokenUsage | null = null;
  private readonly openToolCalls = new Map<string, OpenToolCall>();
  private readonly appender: RunAppender;

  constructor(private readonly options: RunScopeOptions) {
    this.replyAgentId = options.run.agentId;
    this.currentAgentId = options.run.agentId;
    this.appender = new RunAppender(options.events);
  }

  /**
   * Emits an event of the run unless it was cancelled (or timed out) meanwhile. It is stored in
   * order with the others, in a later batch: this waits only for room in the run's queue, and
   * throws when an earlier batch failed.
   */
  async emit(agentId: string, body: EventBody): Promise<void> {
    this.options.signal.throwIfAborted();
    return this.append(agentId, body);
  }

  /** Emits regardless of cancellation: for events that close what was already opened. */
  async append(agentId: string, body: EventBody): Promise<void> {
    this.currentAgentId = agentId;
    return this.appender.emit(this.event(agentId, body));
  }

  /** Emits an event and waits until it is stored, for a caller that must know it is. */
  async appendStored(agentId: string, body: EventBody): Promise<StoredEvent> {
    this.currentAgentId = agentId;
    return this.appender.append(this.event(agentId, body));
  }

  /** Waits until every event emitted so far is stored; throws what stopped the run's appends. */
  flush(): Promise<void> {
    return this.appender.flush();
  }

  /** Waits until nothing of the run is in flight, whether or not it was stored. */
  settled(): Promise<void> {
    return this.appender.settled();
  }

  /**
   * Appends an event that ends the run (its terminal event, a ToolCompleted closing a reported
   * call) once nothing else of the run is in flight, even after a failed batch: the run's
   * subscribers must see it end. (A run taken over never gets here: its survivor ends it.)
   */
  async appendEnding(agentId: string, body: EventBody): Promise<StoredEvent> {
    await this.settled();
    this.currentAgentId = agentId;
    return this.options.events.append(this.event(agentId, body));
  }

  private event(agentId: string, body: EventBody): NewEvent {
    return runEvent(body, this.options.run, agentId);
  }

  addUsage(usage: TokenUsage): void {
    const sum = (a: number | null | undefined, b: number | null | undefined) => (a == null ? (b ?? null) : a + (b ?? 0));
    const current = this.usage;
    this.usage = {
      inputTokens: sum(current?.inputTokens, usage.inputTokens),
      outputTokens: sum(current?.outputTokens, usage.outputTokens),
      totalTokens: sum(current?.totalTokens, usage.totalTokens),
    };
    this.options.onUsage?.(usage);
  }

  /** Closes the tool calls reported as running elsewhere that never reported an end. */
  async closeOpenToolCalls(error: AgentErrorInfo): Promise<void> {
    for (const [toolCallId, call] of this.openToolCalls) {
      await this.appendEnding(call.agentId, {
        type: 'ToolCompleted',
        toolCallId,
        toolName: call.toolName,
        result: null,
        error,
        durationMs: Math.round(performance.now() - call.started),
      });
    }
    this.openToolCalls.clear();
  }

  /** The context `agentId` works in; every agent of the run sees the same history. */
  contextFor(agentId: AgentId, history: readonly MessageRecord[], capture: Capture | null = null): AgentContext {
    const { run, files, signal, stepDelayMs, tools, agents } = this.options;
    const scope = this;
    const pause = async () => {
      // Even with no delay, yield to the event loop so one fast run cannot starve the others.
      if (stepDelayMs > 0) await sleep(stepDelayMs, undefined, { signal });
      else await nextTick(undefined, { signal });
    };
    const stream = async (delta: string) => {
      if (delta === '') return;
      if (capture) {
        signal.throwIfAborted();
        capture.text += delta;
        return;
      }
      await scope.emit(agentId, { type: 'AgentToken', delta });
      scope.reply += delta;
      scope.replyAgentId = agentId;
    };
    const runAgent = async (to: AgentId, reason: string, into: Capture | null) => {
      const agent = agents.get(to);
      if (!agent) throw new AgentError('UNKNOWN_AGENT', `There is no agent "${to}" to hand the message to.`, false);
      await scope.emit(agentId, { type: 'AgentHandoff', fromAgentId: agentId, toAgentId: to, reason });
      await agent.run(scope.contextFor(to, history, into));
    };
    return {
      agentId,
      runId: run.id,
      conversationId: run.conversationId,
      // Frozen on every backend: the memory stores hand out the stored records themselves, which
      // no agent may change, and the other backends behave the same rather than allow it.
      input: deepFreeze(run.input),
      files: deepFreeze(files),
      history: deepFreeze(history),
      signal,
      agents,
      tools: tools.list(),
      pause,
      stream,
      async think(text) {
        await scope.emit(agentId, { type: 'AgentThinking', text });
      },
      async say(text) {
        for (const delta of splitIntoDeltas(text)) {
          await pause();
          await stream(delta);
        }
      },
      async artifact(kind: ArtifactKind, title: string, data: unknown) {
        await scope.emit(agentId, { type: 'AgentArtifact', artifactId: randomUUID(), kind, title, data });
      },
      async callTool<T>(toolName: string, args: Record<string, unknown>, options: { toolCallId?: string } = {}): Promise<T> {
        const toolCallId = options.toolCallId ?? randomUUID();
        // Stored before the tool runs: a tool's effects never happen for a call the log lost.
        signal.throwIfAborted();
        await scope.appendStored(agentId, { type: 'ToolExecuting', toolCallId, toolName, arguments: args });
        const started = performance.now();
        const completed = (result: unknown, error: AgentErrorInfo | null) =>
          // A started tool call is always closed, even when the run was cancelled meanwhile.
          scope.append(agentId, {
            type: 'ToolCompleted',
            toolCallId,
            toolName,
            result,
            error,
            durationMs: Math.round(performance.now() - started),
          });
        try {
          const result = await tools.execute(toolName, args, { files, history, signal });
          await completed(result ?? null, null);
          return result as T;
        } catch (cause) {
          if (signal.aborted) {
            await completed(null, { code: 'CANCELLED', message: 'The run ended before the tool finished.', retryable: true });
            throw signal.reason;
          }
          if (cause instanceof ToolInputError) {
            const error = new AgentError(cause.code, cause.message, false);
            await completed(null, error.toInfo());
            throw error;
          }
          const message = cause instanceof Error ? cause.message : String(cause);
          await completed(null, { code: 'TOOL_ERROR', message, retryable: false });
          throw new ToolError(toolName, message);
        }
      },
      async reportToolCall(call) {
        // Stored before it counts as open: only a stored call is closed on the run's behalf.
        signal.throwIfAborted();
        await scope.appendStored(agentId, { type: 'ToolExecuting', ...call });
        scope.openToolCalls.set(call.toolCallId, { agentId, toolName: call.toolName, started: performance.now() });
      },
      async reportToolResult(toolCallId, outcome) {
        const call = scope.openToolCalls.get(toolCallId);
        if (!call) throw new AgentError('UNKNOWN_TOOL_CALL', `No tool call ${toolCallId} was reported as running.`, false);
        scope.openToolCalls.delete(toolCallId);
        await scope.append(agentId, {
          type: 'ToolCompleted',
          toolCallId,
          toolName: call.toolName,
          result: outcome.result ?? null,
          error: outcome.error ?? null,
          durationMs: Math.round(performance.now() - call.started),
        });
      },
      reportUsage(usage) {
        scope.addUsage(usage);
      },
      delegate: (to, reason) => runAgent(to, reason, capture),
      async consult(to, reason) {
        const into: Capture = { text: '' };
        await runAgent(to, reason, into);
        return into.text;
      },
    };
  }
}

/** Word-sized deltas that keep their whitespace, so that joining them gives back the text. */
export function splitIntoDeltas(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}
