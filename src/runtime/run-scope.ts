/**
 * The emit side of one executing run: every agent context of the run (the routed agent and any
 * it hands off to) appends through here, so the reply and the tool-call bookkeeping are shared.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import type { AgentContext, AgentId, AttachedFile } from '../agents/contract.ts';
import type { EventLog } from '../events/log.ts';
import type { ArtifactKind, EventBody, StoredEvent } from '../events/types.ts';
import type { MessageRecord, RunRecord } from '../store/types.ts';
import type { IntentRegistry } from './intents.ts';

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
  events: EventLog;
  intents: IntentRegistry;
  signal: AbortSignal;
  stepDelayMs: number;
}

export class RunScope {
  /** The reply so far: every AgentToken delta of the run, joined. */
  reply = '';
  /** Who wrote the reply: the last agent that said something. */
  replyAgentId: string;
  /** The agent that emitted last: the one a failure or cancellation interrupts. */
  currentAgentId: string;

  constructor(private readonly options: RunScopeOptions) {
    this.replyAgentId = options.run.agentId;
    this.currentAgentId = options.run.agentId;
  }

  /** Appends an event of the run unless it was cancelled (or timed out) meanwhile. */
  async emit(agentId: string, body: EventBody): Promise<StoredEvent> {
    this.options.signal.throwIfAborted();
    return this.append(agentId, body);
  }

  /** Appends regardless of cancellation: for events that close what was already opened. */
  async append(agentId: string, body: EventBody): Promise<StoredEvent> {
    const { run } = this.options;
    this.currentAgentId = agentId;
    return this.options.events.append({ ...body, conversationId: run.conversationId, runId: run.id, agentId });
  }

  /** The context `agentId` works in; every agent of the run sees the same history. */
  contextFor(agentId: AgentId, history: readonly MessageRecord[]): AgentContext {
    const { run, files, signal, stepDelayMs, intents } = this.options;
    const scope = this;
    const pause = async () => {
      // Even with no delay, yield to the event loop so one fast run cannot starve the others.
      if (stepDelayMs > 0) await sleep(stepDelayMs, undefined, { signal });
      else await nextTick(undefined, { signal });
    };
    return {
      agentId,
      input: run.input,
      files,
      history,
      signal,
      pause,
      async think(text) {
        await scope.emit(agentId, { type: 'AgentThinking', text });
      },
      async say(text) {
        for (const delta of splitIntoDeltas(text)) {
          await pause();
          await scope.emit(agentId, { type: 'AgentToken', delta });
          scope.reply += delta;
          scope.replyAgentId = agentId;
        }
      },
      async artifact(kind: ArtifactKind, title: string, data: unknown) {
        await scope.emit(agentId, { type: 'AgentArtifact', artifactId: randomUUID(), kind, title, data });
      },
      async callTool<T>(toolName: string, args: Record<string, unknown>): Promise<T> {
        const toolCallId = randomUUID();
        await scope.emit(agentId, { type: 'ToolExecuting', toolCallId, toolName, arguments: args });
        const started = performance.now();
        const completed = (result: unknown, error: { code: string; message: string; retryable: boolean } | null) =>
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
          const result = await intents.execute(toolName, args, { files, history, signal });
          await completed(result ?? null, null);
          return result as T;
        } catch (cause) {
          if (signal.aborted) {
            await completed(null, { code: 'CANCELLED', message: 'The run ended before the tool finished.', retryable: true });
            throw signal.reason;
          }
          const message = cause instanceof Error ? cause.message : String(cause);
          await completed(null, { code: 'TOOL_ERROR', message, retryable: false });
          throw new ToolError(toolName, message);
        }
      },
      async handoff(to: AgentId, reason: string) {
        await scope.emit(agentId, { type: 'AgentHandoff', fromAgentId: agentId, toAgentId: to, reason });
        return scope.contextFor(to, history);
      },
    };
  }
}

/** Word-sized deltas that keep their whitespace, so that joining them gives back the text. */
export function splitIntoDeltas(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}
