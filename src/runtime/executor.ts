/**
 * Executes runs in this process: each with its AbortSignal, its timeout and its lease, renewed
 * while it executes, and ends each with its one terminal event. It also counts the slots this
 * process has for runs (a worker's concurrency), which the scheduler takes before starting one.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentDirectory } from '../agents/contract.ts';
import type { AttachedFile } from '../domain/product.ts';
import { AgentError } from '../agents/errors.ts';
import { GatewayError } from '../errors.ts';
import type { MessageRecord, RunInput, RunRecord } from '../domain/records.ts';
import { runEvent, type EventBody, type NewEvent } from '../domain/events.ts';
import { LeaseLostError } from '../store/event-log.ts';
import type { CompletedRun, OpenedRun, RunCompletion } from '../store/interfaces.ts';
import { LIVE_STATE_LOST, terminalOf, type RuntimeBase, type StopReason } from './lifecycle.ts';
import { RunPause, RunScope } from './run-scope.ts';
import type { AppendHooks } from './run-appender.ts';
import { AppendWindow } from './append-window.ts';
import { readReplay, type RunReplay } from './replay.ts';
import { moveRun } from './run-transitions.ts';
import { RunSpans } from './run-spans.ts';
import type { ToolRegistry } from './tools.ts';

export interface ExecutorOptions extends RuntimeBase {
  agents: AgentDirectory;
  tools: ToolRegistry;
  runTimeoutMs: number;
  stepDelayMs: number;
  /** How long streamed text waits after a run's append for more to go with it (APPEND_COALESCE_MS). */
  appendCoalesceMs?: number;
  historyMessages: number;
  /** Who holds the leases of the runs executing here. */
  holder: string;
  leaseMs: number;
  /** How many runs may execute here at once (default: no limit). */
  capacity?: number;
  /** How long an input request stays open unless its agent says otherwise (INPUT_TIMEOUT_MS). */
  inputTimeoutMs: number;
  /** Ends a run that ran out of time (as a cancel would, wherever it executes). */
  stop(run: RunRecord, reason: StopReason): Promise<RunRecord | null>;
  /**
   * Told once a run's execution here is over, so that its conversation's queue moves on, with
   * whether runs were left in the queue when the run left it (undefined when it did not leave it
   * here: it paused, was taken over, or failed before it got there).
   */
  onFinished(run: RunRecord, runsLeft: boolean | undefined): void;
}

interface Execution {
  controller: AbortController;
  done: Promise<void>;
  /** The live layer's generation when the run started here (null when it could not be read). */
  generation: Promise<string | null>;
  /** Set when another instance took the run's lease over: it ends the run, not us. */
  leaseLost: boolean;
  /** Whether runs were left in the conversation's queue when the run left it here. */
  runsLeft?: boolean;
}

export class Executor {
  private readonly executing = new Map<string, Execution>();
  /** Slots taken for runs about to start. */
  private reserved = 0;
  private accepting = true;
  private readonly capacity: number;
  private waiters: (() => void)[] = [];
  /** The coalescing window the runs executing here share (none when APPEND_COALESCE_MS is 0). */
  private readonly appendWindow: AppendWindow | undefined;

  constructor(private readonly options: ExecutorOptions) {
    this.capacity = options.capacity ?? Number.POSITIVE_INFINITY;
    this.appendWindow = options.appendCoalesceMs ? new AppendWindow(options.appendCoalesceMs) : undefined;
  }

  /** Slots free for new runs: none once closed. */
  get free(): number {
    return this.accepting ? Math.max(0, this.capacity - this.executing.size - this.reserved) : 0;
  }

  get size(): number {
    return this.executing.size;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** How many of its conversation's newest messages a run is given as its history. */
  get historyMessages(): number {
    return this.options.historyMessages;
  }

  /** Takes a slot for a run about to start here; false when there is none (or this is closing). */
  reserve(): boolean {
    if (this.free <= 0) return false;
    this.reserved += 1;
    return true;
  }

  /** Gives back a slot taken with `reserve` for a run that did not start after all. */
  unreserve(): void {
    this.reserved -= 1;
    this.notify();
  }

  /** Takes no more runs; those executing go on. */
  close(): void {
    this.accepting = false;
    this.notify();
  }

  has(runId: string): boolean {
    return this.executing.has(runId);
  }

  runIds(): string[] {
    return [...this.executing.keys()];
  }

  abort(runId: string): void {
    this.executing.get(runId)?.controller.abort();
  }

  /** Stops a run whose end cannot be recorded: its lease runs out and a survivor ends it. */
  abandon(runId: string): void {
    const execution = this.executing.get(runId);
    if (!execution) return;
    execution.leaseLost = true;
    execution.controller.abort();
  }

  /** Resolves the next time a slot frees up (or this closes). */
  whenChanged(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once nothing executes here (or is about to), or after `timeoutMs`. */
  async settled(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.executing.size > 0 || this.reserved > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      const changed = this.whenChanged();
      if (!Number.isFinite(left)) {
        await changed;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([changed, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  }

  /**
   * Starts executing `run` (already RUNNING, its lease ours at `leaseEpoch`) in a slot taken with
   * `reserve`. Its events are appended fenced with that epoch. A `resumed` run (one that paused
   * on a person) runs from its start again, with what it did before read back from its log.
   */
  start(run: RunRecord, leaseEpoch: number, resumed = false, opened?: OpenedRun): void {
    this.reserved -= 1;
    const generation = opened ? Promise.resolve(opened.generation) : this.options.backend.liveGeneration().catch(() => null);
    const execution: Execution = { controller: new AbortController(), done: Promise.resolve(), generation, leaseLost: false };
    const heartbeat = setInterval(() => void this.heartbeat(run, execution), Math.max(1, Math.floor(this.options.leaseMs / 3)));
    heartbeat.unref();
    const spans = new RunSpans(run, this.options.agents.get(run.agentId)?.name, resumed);
    execution.done = this.execute(run, leaseEpoch, execution, resumed, spans, opened)
      .catch((error: unknown) => {
        // Taken over (and said so): what failed is an append refused on purpose.
        if (!execution.leaseLost) spans.logger(this.options.logger).error({ err: error, runId: run.id }, 'run execution failed');
      })
      .finally(() => {
        spans.end();
        clearInterval(heartbeat);
        this.executing.delete(run.id);
        this.notify();
        this.options.onFinished(run, execution.runsLeft);
      });
    this.executing.set(run.id, execution);
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Renews the lease of a run executing here. A live layer that lost its data meanwhile lost the
   * run's lease and control state with it: the run ends (a retryable failure), as it would had
   * this process died. A lease taken over means a survivor has ended the run (we were cut off
   * for too long): stop at once and leave the ending to it. A status that is no longer RUNNING
   * means the run was cancelled or timed out and the message telling us was lost: stop too.
   */
  private async heartbeat(run: RunRecord, execution: Execution): Promise<void> {
    const { backend, logger, holder, leaseMs } = this.options;
    try {
      const started = await execution.generation;
      if (started !== null && (await backend.liveGeneration()) !== started) {
        logger.warn({ runId: run.id }, 'the shared live state lost its data while a run executed here; ending the run');
        await this.options.stop(run, { status: 'FAILED', error: LIVE_STATE_LOST, by: 'executor' });
        return;
      }
      if (!(await backend.leases.renew(run.id, holder, leaseMs))) {
        logger.warn({ runId: run.id }, 'another instance took over the lease of a run executing here; stopping it');
        execution.leaseLost = true;
        execution.controller.abort();
        return;
      }
      const current = await backend.runs.get(run.id);
      if (current && current.status !== 'RUNNING') execution.controller.abort();
    } catch (error) {
      logger.debug({ err: error, runId: run.id }, 'renewing a run lease failed');
    }
  }

  private async execute(
    run: RunRecord,
    leaseEpoch: number,
    execution: Execution,
    resumed: boolean,
    spans: RunSpans,
    opened: OpenedRun | undefined,
  ): Promise<void> {
    const { signal } = execution.controller;
    const { backend, agents, holder, runTimeoutMs } = this.options;
    const logger = spans.logger(this.options.logger);
    // Only the time it executes counts: what it spent before its pauses, and this execution.
    const began = performance.now();
    const spentBefore = run.activeMs ?? 0;
    const timer = setTimeout(
      () => {
        const error = { code: 'TIMEOUT', message: `The run exceeded ${runTimeoutMs} ms.`, retryable: true };
        this.options
          .stop(run, { status: 'FAILED', error, by: 'timeout' })
          .catch((cause: unknown) => logger.error({ err: cause, runId: run.id }, 'stopping a timed-out run failed'));
      },
      Math.max(0, runTimeoutMs - spentBefore),
    );
    let outcome: Partial<RunRecord> = { status: 'COMPLETED' };
    let replay: RunReplay | undefined;
    try {
      replay = resumed ? await readReplay(backend, run) : undefined;
      // Queued since the send, or since the answer that resumed it.
      spans.queued(replay ? Math.max(...[...replay.allAnswers.values()].map((answer) => Date.parse(answer.respondedAt))) : Date.parse(run.createdAt));
    } catch (error) {
      logger.warn({ err: error, runId: run.id }, 'could not read back what a resumed run did before its pause');
      outcome = {
        status: 'FAILED',
        error: { code: 'REPLAY_UNAVAILABLE', message: 'What the run did before its pause could not be read back.', retryable: true },
      };
    }
    const appends: AppendHooks = {
      onStored: (events) => {
        spans.stored(events);
        this.options.onAppended?.(events);
      },
      onRefused: () => {
        if (execution.leaseLost) return;
        logger.warn({ runId: run.id }, 'another instance took over a run executing here; its append was refused and it stops');
        execution.leaseLost = true;
        execution.controller.abort();
      },
    };
    const scope = new RunScope({
      run,
      files: filesOf(run.input),
      events: backend.events,
      leaseEpoch,
      appends,
      appendWindow: this.appendWindow,
      // Its AgentStarted went out with its start, a round trip ago.
      ...(opened?.agentStarted && { appendedBefore: performance.now() }),
      agents,
      tools: this.options.tools.withClientTools(run.input.clientTools),
      signal,
      stepDelayMs: this.options.stepDelayMs,
      onUsage: this.options.onUsage,
      inputs: backend.inputs,
      inputTimeoutMs: this.options.inputTimeoutMs,
      ...(replay && { replay }),
      pause: () => execution.controller.abort(new RunPause()),
      onInputOpened: () => this.options.onInput?.({ type: 'opened' }),
      trace: spans.context,
    });
    /** The run's last streamed text, handed over to be stored with its end in one step (see completeAtOnce). */
    let held: NewEvent[] = [];
    if (outcome.status === 'COMPLETED') {
      try {
        // Read while AgentStarted is stored: on a shared store the two go out together rather
        // than one round trip after the other. A run opened by its start has both already.
        const history = opened ? Promise.resolve(opened.history) : this.historyFor(run);
        history.catch(() => undefined); // awaited below, unless the append fails first
        if (opened?.agentStarted) appends.onStored!([opened.agentStarted]);
        else if (!scope.replay.started) await scope.append(run.agentId, { type: 'AgentStarted' });
        const agent = agents.get(run.agentId);
        // A worker that was not given the agent the gateway routed to (their registries differ).
        if (!agent) throw new AgentError('UNKNOWN_AGENT', `This process has no agent "${run.agentId}".`, false);
        await agent.run(scope.contextFor(agent.id, await history));
        // The run's last batches: their failure is the run's, as an append's always was. Its
        // last streamed text, where the run can end in one step, goes with that step.
        if (this.mayCompleteAtOnce(scope) && !signal.aborted) held = await scope.takeHeld();
        else await scope.flush();
      } catch (error) {
        outcome = this.outcomeOf(error, signal, run, logger);
      } finally {
        clearTimeout(timer);
      }
    } else {
      clearTimeout(timer);
    }
    // What the agent emitted before it failed or was stopped is stored (or refused) first.
    await scope.settled();
    const activeMs = spentBefore + Math.round(performance.now() - began);
    if (signal.reason instanceof RunPause && !execution.leaseLost) {
      const paused = await this.pause(run, scope, activeMs);
      if (paused === 'paused') return spans.settle('WAITING');
      // Its request (or what came before it) was not stored: it cannot wait, it fails as any run whose appends failed.
      if (paused === 'unstored') outcome = { status: 'FAILED', error: UNSTORED };
    }
    // Taken over: the survivor ends the run; we write nothing more.
    if (execution.leaseLost) return spans.settle('LEASE_LOST');
    const completed = outcome.status === 'COMPLETED' ? await this.completeAtOnce(run, leaseEpoch, scope, activeMs, appends, held) : null;
    if (execution.leaseLost) return spans.settle('LEASE_LOST'); // its completion was refused: taken over meanwhile
    if (completed) {
      this.options.onRunStatus?.('COMPLETED');
      spans.settle('COMPLETED');
      execution.runsLeft = completed.runsLeft;
      return;
    }
    // Stopped first (a cancel): its streamed text goes before its terminal event, the long way.
    scope.emitHeld(held);
    // Whoever moves the run out of RUNNING first (this executor, a cancel, the timeout) decides
    // how it ends; the executor always appends the terminal event, after the agent has stopped.
    const { status, ...decision } = outcome;
    const decided = await moveRun(backend.runs, run.id, 'executor', status ?? 'COMPLETED', {
      ...decision,
      usage: scope.usage,
      activeMs,
      finishedAt: new Date().toISOString(),
    });
    if (decided) this.options.onRunStatus?.(decided.status);
    // Stopped by someone else (a cancel, the timeout): the tokens spent until then still count.
    // (Not a move between statuses: the patch keeps the status it has.)
    if (!decided && scope.usage) await backend.runs.transition(run.id, ['CANCELLED', 'FAILED'], { usage: scope.usage });
    const finished = decided ?? (await backend.runs.get(run.id));
    if (!finished) throw new Error(`run ${run.id} vanished while executing`);
    spans.settle(finished.status, finished.error);
    // A survivor that took the lease over appends the terminal event; we must not add another.
    // Our appends are fenced with our lease's epoch: the first one refused says it was taken,
    // and throws (LeaseLostError, which `start` expects then), so nothing after it happens.
    if (execution.leaseLost) return;
    await scope.closeOpenToolCalls(
      finished.status === 'COMPLETED'
        ? { code: 'NO_RESULT', message: 'The tool reported no result before the run ended.', retryable: false }
        : { code: 'CANCELLED', message: 'The run ended before the tool finished.', retryable: true },
    );
    // Requests it opened and never got answered to close with it (asked while it was stopped).
    if (scope.asked) await backend.inputs.close(run.id, run.conversationId, 'CANCELLED');
    const replied = await this.appendTerminal(finished, scope);
    // Sent together, in this order: on one connection they are also carried out in it, so that
    // the run leaves the queue before it lets go of its lease.
    const [, runsLeft] = await Promise.all([
      replied && backend.conversations.touch(run.conversationId, replied.createdAt),
      backend.runQueue.remove(run.conversationId, run.id),
      backend.leases.release(run.id, holder),
    ]);
    execution.runsLeft = runsLeft;
  }

  /** How the run ends after its agent threw `error` (nothing of its own when it was stopped or paused). */
  private outcomeOf(error: unknown, signal: AbortSignal, run: RunRecord, logger: Logger): Partial<RunRecord> {
    if (signal.aborted) return { status: 'COMPLETED' };
    if (error instanceof AgentError) return { status: 'FAILED', error: error.toInfo() };
    if (error instanceof GatewayError && error.code === 'SERVICE_UNAVAILABLE') {
      logger.warn({ err: error, runId: run.id }, 'the shared store became unavailable during a run');
      return {
        status: 'FAILED',
        error: { code: 'UNAVAILABLE', message: 'The shared store became unavailable during the run; retry the message.', retryable: true },
      };
    }
    const errorId = randomUUID();
    logger.error({ err: error, runId: run.id, errorId }, 'agent failed');
    return { status: 'FAILED', error: { code: 'AGENT_ERROR', message: `The agent failed (error id ${errorId}).`, retryable: false } };
  }

  /**
   * Lets go of a run whose agent asked a person: WAITING, without its lease (so no sweep settles
   * it), its slot freed when this execution ends. Answers that came in while it paused resume it
   * at once. Otherwise it was `stopped` meanwhile (a cancel, the timeout: it ends as they
   * decided), or its last events were `unstored`.
   */
  private async pause(run: RunRecord, scope: RunScope, activeMs: number): Promise<'paused' | 'stopped' | 'unstored'> {
    const { backend, holder, leaseMs } = this.options;
    try {
      await scope.flush();
    } catch {
      return 'unstored';
    }
    const waiting = await moveRun(backend.runs, run.id, 'executor', 'WAITING', { activeMs, usage: scope.usage });
    if (!waiting) return 'stopped';
    this.options.onRunStatus?.('WAITING');
    await backend.leases.release(run.id, holder);
    if (await backend.inputs.resumeIfAnswered(run.id, { holder, ttlMs: leaseMs })) this.options.onRunStatus?.('QUEUED');
    return 'paused';
  }

  /**
   * The latest messages up to the run's own (later ones belong to runs queued behind it): a
   * bounded window, so that a run costs the same in a conversation of any length.
   */
  private async historyFor(run: RunRecord): Promise<MessageRecord[]> {
    return this.options.backend.messages.listLastThrough(run.conversationId, this.options.historyMessages, run.userMessageId);
  }

  /**
   * Completes the run in one step where the backend can (Backend.completeRun) and nothing is
   * left to close before its end (a reported tool call, a request asked): its status, its
   * AgentCompleted, its conversation's touch, its leaving the queue and its lease. Null when it
   * did not: then the run ends the long way, as whoever moved its status first decided (or, its
   * lease lost, not at all here).
   */
  private async completeAtOnce(
    run: RunRecord,
    leaseEpoch: number,
    scope: RunScope,
    activeMs: number,
    appends: AppendHooks,
    streamed: readonly NewEvent[],
  ): Promise<CompletedRun | null> {
    const { backend, holder } = this.options;
    if (!backend.completeRun || !this.mayCompleteAtOnce(scope)) return null;
    const event = runEvent(completionOf(run, scope), run, scope.replyAgentId) as RunCompletion['event'];
    const patch = { usage: scope.usage, activeMs, finishedAt: new Date().toISOString() };
    try {
      const completed = await backend.completeRun({ run, patch, event, streamed, leaseEpoch, holder });
      if (completed) appends.onStored?.([...completed.streamed, completed.event]);
      return completed;
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      appends.onRefused?.();
      return null;
    }
  }

  /** Whether the backend completes runs in one step, and nothing is left to close before this one's end (a reported tool call, a request asked). */
  private mayCompleteAtOnce(scope: RunScope): boolean {
    return this.options.backend.completeRun !== undefined && !scope.asked && !scope.hasOpenToolCalls;
  }

  /** Appends the run's terminal event; a completed run's reply comes back, for its conversation's touch. */
  private async appendTerminal(run: RunRecord, scope: RunScope): Promise<MessageRecord | null> {
    if (run.status === 'COMPLETED') {
      const completion = completionOf(run, scope);
      // The log stores the reply with its event, numbered with its seq.
      await scope.appendEnding(scope.replyAgentId, completion);
      return completion.message;
    }
    await scope.appendEnding(scope.currentAgentId, terminalOf(run));
    return null;
  }
}

/** The AgentCompleted of a run its agent finished, with its reply. */
function completionOf(run: RunRecord, scope: RunScope): EventBody & { type: 'AgentCompleted' } {
  const message: MessageRecord = {
    id: randomUUID(),
    conversationId: run.conversationId,
    role: 'AGENT',
    text: scope.reply,
    agentId: scope.replyAgentId,
    runId: run.id,
    seq: 0,
    createdAt: new Date().toISOString(),
  };
  return { type: 'AgentCompleted', message, usage: scope.usage };
}

/** The attached files of a run, as the Experience plane validated them. */
export function filesOf(input: RunInput): AttachedFile[] {
  const files = input.context?.['files'];
  return Array.isArray(files) ? (files as AttachedFile[]) : [];
}

const UNSTORED = {
  code: 'UNAVAILABLE',
  message: 'What the agent asked could not be stored; retry the message.',
  retryable: true,
};
