/**
 * The emit side of one executing run: every agent context of the run (the routed agent and any
 * it hands off to) appends through here, so the reply and the tool-call bookkeeping are shared.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { AgentContext, AgentDirectory, Question } from '../agents/contract.ts';
import type { AgentId, AttachedFile } from '../domain/product.ts';
import { AgentError, ToolDeniedError } from '../agents/errors.ts';
import type { EventLog } from '../store/event-log.ts';
import type { InputRequestStore } from '../store/interfaces.ts';
import { RunReplay } from './replay.ts';
import { RunAppender, type AppendHooks } from './run-appender.ts';
import type { AppendWindow } from './append-window.ts';
import { deepFreeze } from '../domain/frozen.ts';
import { runEvent, type ArtifactKind, type EventBody, type NewEvent, type StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, InputKind, InputRequestRecord, InputResponse, TokenUsage, MessageRecord, RunRecord } from '../domain/records.ts';
import { ToolInputError, type ToolRegistry } from './tools.ts';
import { ATTR, addSpanEvent, bindTraceContext, inSpan, type TraceContext } from '../tracing/spans.ts';

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
  /** The log the run's events go to; they are appended in batches, fenced with `leaseEpoch`. */
  events: EventLog;
  /** The epoch of the run's lease its executor holds (see EventLog.append); none: unfenced. */
  leaseEpoch?: number;
  /** Told of the run's appends as they settle. */
  appends?: AppendHooks;
  /** The coalescing window the run's streamed text waits for after an append (see RunAppender; none: no waiting). */
  appendWindow?: AppendWindow;
  /** When the run's previous append was sent (performance.now()), where it was not through this scope: its start's AgentStarted. */
  appendedBefore?: number;
  agents: AgentDirectory;
  tools: ToolRegistry;
  signal: AbortSignal;
  stepDelayMs: number;
  /** Told of every usage reported during the run. */
  onUsage?: (usage: TokenUsage) => void;
  /** Where the run's input requests are opened. */
  inputs: InputRequestStore;
  /** How long a request stays open unless the agent says otherwise (INPUT_TIMEOUT_MS). */
  inputTimeoutMs: number;
  /** What the run did before this execution, when it resumes after a pause. */
  replay?: RunReplay;
  /** Stops the run's agent to wait for a person: aborts its signal with a RunPause. */
  pause(): void;
  /** Told of every request opened (for metrics). */
  onInputOpened?: () => void;
  /** The trace context of the run's execution (its span), which its agents' spans go under. */
  trace: TraceContext;
}

/** Why a run's signal was aborted when its agent asked a person: the run waits, it did not fail. */
export class RunPause extends Error {
  constructor() {
    super('The run waits for a person.');
    this.name = 'RunPause';
  }
}

/** What the run asks a person, as `awaitInput` opens it. */
interface InputAsk {
  kind: InputKind;
  prompt: string;
  /** A question's own name within the run (see Question.id). */
  questionId?: string;
  toolCallId?: string;
  toolName?: string;
  arguments?: unknown;
  options?: readonly string[];
  answerSchema?: Record<string, unknown>;
  expiresInMs?: number;
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
  /** Whether the run opened (or met again) an input request: its end then closes what is left open. */
  asked = false;
  private readonly openToolCalls = new Map<string, OpenToolCall>();
  private readonly appender: RunAppender;
  readonly replay: RunReplay;
  /** Per agent, how many calls and questions it made so far: their ids, made the same on every execution. */
  private readonly counters = new Map<string, number>();

  constructor(private readonly options: RunScopeOptions) {
    this.replyAgentId = options.run.agentId;
    this.currentAgentId = options.run.agentId;
    this.appender = new RunAppender(options.events, {
      leaseEpoch: options.leaseEpoch,
      hooks: options.appends,
      window: options.appendWindow,
      sentBefore: options.appendedBefore,
    });
    this.replay = options.replay ?? new RunReplay();
    this.usage = options.run.usage ?? null;
    // Still open from before the pause: their result may come now, or they are closed at the end.
    for (const call of this.replay.openCalls()) {
      this.openToolCalls.set(call.toolCallId, { agentId: call.agentId ?? options.run.agentId, toolName: call.toolName, started: performance.now() });
    }
  }

  /** The next id of `what` (a tool call, a question) for `agentId`, the same on every execution of the run. */
  private nextId(agentId: string, what: 'call' | 'ask'): string {
    const key = `${agentId} ${what}`;
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return `${agentId}:${what}-${n}`;
  }

  /** Throws when the run was stopped, but not when it is pausing: requests asked at the same time are still opened. */
  private throwUnlessPausing(): void {
    const { signal } = this.options;
    if (signal.aborted && !(signal.reason instanceof RunPause)) throw signal.reason;
  }

  /**
   * The person's response to what the run asks: from the log when it was answered before this
   * execution; otherwise the request is opened (once: its id is made from the run and the ask)
   * and the run pauses, which this throws.
   */
  async awaitInput(agentId: string, ask: InputAsk, where: TraceContext = this.options.trace): Promise<InputResponse> {
    const { run, inputs, inputTimeoutMs } = this.options;
    this.throwUnlessPausing();
    this.asked = true;
    const key =
      ask.toolCallId !== undefined ? `tool:${ask.toolCallId}` : ask.questionId !== undefined ? `ask:${agentId}:${ask.questionId}` : this.nextId(agentId, 'ask');
    const id = requestIdFor(run.id, key);
    const answered = this.replay.answer(id);
    if (answered) return answered;
    if (!this.replay.wasRequested(id)) {
      assertAnswerable(ask);
      const now = Date.now();
      const request: InputRequestRecord = {
        id,
        runId: run.id,
        conversationId: run.conversationId,
        agentId,
        kind: ask.kind,
        status: 'PENDING',
        prompt: ask.prompt,
        toolCallId: ask.toolCallId ?? null,
        toolName: ask.toolName ?? null,
        arguments: ask.arguments ?? null,
        options: ask.options ? [...ask.options] : null,
        answerSchema: ask.answerSchema ?? null,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + (ask.expiresInMs ?? inputTimeoutMs)).toISOString(),
        response: null,
      };
      const opened = await inputs.open(request);
      await this.appendStored(agentId, { type: 'AgentInputRequested', request: opened });
      addSpanEvent(where, 'input requested', { 'agent_gateway.input.id': id, 'agent_gateway.input.kind': ask.kind });
      this.options.onInputOpened?.();
    }
    this.options.pause();
    throw this.options.signal.reason;
  }

  /**
   * Emits an event of the run unless it was cancelled (or timed out) meanwhile. It is stored in
   * order with the others, in a later batch: this waits only for room in the run's queue, and
   * rejects when an earlier batch failed. Not async, as `append`: a token adds no promise of its
   * own to the appender's (which is one shared settled promise while the queue has room).
   */
  emit(agentId: string, body: EventBody): Promise<void> {
    if (this.options.signal.aborted) return Promise.reject(this.options.signal.reason);
    return this.append(agentId, body);
  }

  /** Emits regardless of cancellation: for events that close what was already opened. Emitted before the run's pause, it is not appended again. */
  append(agentId: string, body: EventBody): Promise<void> {
    this.currentAgentId = agentId;
    if (this.replay.take(agentId, body)) return SETTLED;
    return this.appender.emit(this.event(agentId, body));
  }

  /** Emits an event and waits until it is stored, for a caller that must know it is (the stored one, when emitted before the pause). */
  async appendStored(agentId: string, body: EventBody): Promise<StoredEvent> {
    this.currentAgentId = agentId;
    return this.replay.take(agentId, body) ?? this.appender.append(this.event(agentId, body));
  }

  /** Waits until every event emitted so far is stored; throws what stopped the run's appends. */
  flush(): Promise<void> {
    return this.appender.flush();
  }

  /**
   * As `flush`, but hands over the streamed text still waiting for the coalescing window instead
   * of storing it, for the run's end to store in the same step (see RunAppender.takeHeld).
   */
  takeHeld(): Promise<NewEvent[]> {
    return this.appender.takeHeld();
  }

  /**
   * Emits again, in order, what `takeHeld` handed over and the run's end did not store. Not
   * awaited: the terminal event that follows waits for them, and appends even if they failed.
   */
  emitHeld(events: readonly NewEvent[]): void {
    for (const event of events) void this.appender.emit(event).catch(() => undefined);
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
    return this.appender.appendAlone(this.event(agentId, body));
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

  /** Whether a tool call the run reported has not been reported completed. */
  get hasOpenToolCalls(): boolean {
    return this.openToolCalls.size > 0;
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

  /**
   * The context `agentId` works in; every agent of the run sees the same history. Its spans go
   * under `where` (the execution's, or the span of the hand-off to it).
   */
  contextFor(agentId: AgentId, history: readonly MessageRecord[], capture: Capture | null = null, where: TraceContext = this.options.trace): AgentContext {
    const { run, files, signal, stepDelayMs, tools, agents } = this.options;
    // The context's methods below are called on the context (their `this`): they reach the scope by this name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const scope = this;
    const pause = async () => {
      // Even with no delay, yield to the event loop so one fast run cannot starve the others.
      // What the run did before its pause comes back at once, unpaced.
      if (stepDelayMs > 0 && !scope.replay.catchingUp) await sleep(stepDelayMs, undefined, { signal });
      else await nextTick(undefined, { signal });
    };
    // Not async: a token's only promise is the appender's (one settled promise while its queue
    // has room). Its delta joins the reply as it is queued; should it never be stored, the run
    // fails, and its reply is not used.
    const stream = (delta: string): Promise<void> => {
      if (delta === '') return SETTLED;
      if (signal.aborted) return Promise.reject(signal.reason);
      if (capture) {
        capture.text += delta;
        return SETTLED;
      }
      const emitted = scope.emit(agentId, { type: 'AgentToken', delta });
      scope.reply += delta;
      scope.replyAgentId = agentId;
      return emitted;
    };
    // A pause or a cancel stops an agent (or a tool) without its failing.
    const notStopped = () => !signal.aborted;
    const runAgent = async (to: AgentId, reason: string, into: Capture | null) => {
      const agent = agents.get(to);
      if (!agent) throw new AgentError('UNKNOWN_AGENT', `There is no agent "${to}" to hand the message to.`, false);
      await scope.emit(agentId, { type: 'AgentHandoff', fromAgentId: agentId, toAgentId: to, reason });
      // The agent handed to works in a span of its own, within the handing agent's.
      await inSpan(
        `invoke_agent ${to}`,
        { [ATTR.operation]: 'invoke_agent', [ATTR.agentId]: to, [ATTR.agentName]: agent.name, [ATTR.conversationId]: run.conversationId, [ATTR.runId]: run.id },
        where,
        (within) => agent.run(scope.contextFor(to, history, into, within)),
        notStopped,
      );
    };
    const context: AgentContext = {
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
        const toolCallId = options.toolCallId ?? `${run.id}:${scope.nextId(agentId, 'call')}`;
        scope.throwUnlessPausing();
        // Completed before the run's pause: its result, not a second execution.
        const done = scope.replay.toolResult(toolCallId);
        if (done) return replayedResult<T>(done);
        const gate = await tools.gate(toolName, args, { runId: run.id, conversationId: run.conversationId, agentId, input: run.input });
        if (gate !== 'run') {
          const kind = gate === 'client' ? 'CLIENT_TOOL' : 'APPROVAL';
          const prompt = gate === 'client' ? `Run ${toolName} in the client and give its result.` : `Allow ${toolName} to run?`;
          const response = await scope.awaitInput(agentId, { kind, prompt, toolCallId, toolName, arguments: args }, where);
          if (gate === 'approve' && response.approved !== true) {
            const message = response.comment ?? 'The call was denied.';
            await scope.append(agentId, {
              type: 'ToolCompleted',
              toolCallId,
              toolName,
              result: null,
              error: { code: 'TOOL_DENIED', message, retryable: false },
              durationMs: 0,
            });
            throw new ToolDeniedError(toolName, message);
          }
          if (gate === 'client') {
            await scope.appendStored(agentId, { type: 'ToolExecuting', toolCallId, toolName, arguments: args });
            const result = response.answer ?? null;
            await scope.append(agentId, { type: 'ToolCompleted', toolCallId, toolName, result, error: null, durationMs: 0 });
            return result as T;
          }
        }
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
          const result = await inSpan(
            `execute_tool ${toolName}`,
            { [ATTR.operation]: 'execute_tool', [ATTR.toolName]: toolName, [ATTR.toolCallId]: toolCallId },
            where,
            () => tools.execute(toolName, args, { files, history, signal }),
            notStopped,
          );
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
      async ask(question: Question) {
        const response = await scope.awaitInput(
          agentId,
          {
            kind: 'QUESTION',
            prompt: question.prompt,
            ...(question.id !== undefined && { questionId: question.id }),
            ...(question.details !== undefined && { arguments: question.details }),
            ...(question.options && { options: question.options }),
            ...(question.answerSchema && { answerSchema: question.answerSchema }),
            ...(question.expiresInMs !== undefined && { expiresInMs: question.expiresInMs }),
          },
          where,
        );
        return response.answer;
      },
      resumeFromLog() {
        const events = scope.replay.takeAll(agentId);
        for (const event of events) {
          if (event.type !== 'AgentToken' || capture) continue;
          scope.reply += event.delta;
          scope.replyAgentId = agentId;
        }
        return { events, answers: scope.replay.allAnswers };
      },
      async reportToolCall(call) {
        // Stored before it counts as open: only a stored call is closed on the run's behalf.
        signal.throwIfAborted();
        await scope.appendStored(agentId, { type: 'ToolExecuting', ...call });
        if (scope.replay.toolResult(call.toolCallId)) return; // reported and ended before the run's pause
        if (scope.openToolCalls.has(call.toolCallId)) return; // reported before the pause, still open
        scope.openToolCalls.set(call.toolCallId, { agentId, toolName: call.toolName, started: performance.now() });
      },
      async reportToolResult(toolCallId, outcome) {
        if (scope.replay.toolResult(toolCallId)) return;
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
    // Found there by what the agent calls for it (a model, a remote agent), to go under its span.
    bindTraceContext(context, where);
    return context;
  }
}

const SETTLED = Promise.resolve();

/** A request's id: the same for the same ask of the same run on every execution of it, and unique across runs. */
export function requestIdFor(runId: string, key: string): string {
  const hex = createHash('sha256').update(`${runId}\u0000${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A question people can answer: its options, when it has any, are distinct non-empty strings, and
 * its answer schema is one answers can be checked against. Otherwise the agent is wrong, not the
 * person: the run fails INVALID_QUESTION rather than waiting for an answer nobody can give.
 */
function assertAnswerable(ask: InputAsk): void {
  if (ask.prompt.trim() === '') throw new AgentError('INVALID_QUESTION', 'A question needs a prompt.', false);
  const options = ask.options ?? [];
  if (options.some((option) => typeof option !== 'string' || option === '') || new Set(options).size !== options.length) {
    throw new AgentError('INVALID_QUESTION', 'The options of a question must be distinct, non-empty strings.', false);
  }
  if (ask.answerSchema === undefined) return;
  try {
    z.fromJSONSchema(ask.answerSchema as z.core.JSONSchema.JSONSchema);
  } catch (cause) {
    throw new AgentError(
      'INVALID_QUESTION',
      `The answer schema of a question is not a JSON Schema answers can be checked against: ${(cause as Error).message}`,
      false,
    );
  }
}

/** A tool call's outcome as it ended before the run's pause: its result, or the error it threw then. */
function replayedResult<T>(done: Extract<StoredEvent, { type: 'ToolCompleted' }>): T {
  const { error } = done;
  if (!error) return done.result as T;
  if (error.code === 'TOOL_DENIED') throw new ToolDeniedError(done.toolName, error.message);
  if (error.code === 'TOOL_ERROR') throw new ToolError(done.toolName, error.message);
  throw new AgentError(error.code, error.message, error.retryable);
}

/** Word-sized deltas that keep their whitespace, so that joining them gives back the text. */
export function splitIntoDeltas(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}
