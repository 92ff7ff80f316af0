/**
 * The Runtime: accepts runs as intents, runs one at a time per conversation in the order they
 * were accepted, executes agents, and records each run's lifecycle as events:
 * QUEUED → RUNNING → COMPLETED | FAILED | CANCELLED, with exactly one AgentStarted first and one
 * terminal event last. It knows nothing of GraphQL or of who is asking.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentDefinition, AgentId, AttachedFile } from '../agents/contract.ts';
import type { AgentErrorInfo, StoredEvent } from '../events/types.ts';
import type { Backend } from '../store/interfaces.ts';
import { TERMINAL_STATUSES, type MessageRecord, type Owner, type RunInput, type RunRecord, type RunStatus } from '../store/types.ts';
import type { IntentRegistry } from './intents.ts';
import { RunScope } from './run-scope.ts';

export interface RuntimeOptions {
  backend: Backend;
  agents: ReadonlyMap<AgentId, AgentDefinition>;
  intents: IntentRegistry;
  runTimeoutMs: number;
  stepDelayMs: number;
  logger: Logger;
  /** Told of every event a run appends and of every status a run enters (for metrics). */
  onEvent?: (event: StoredEvent) => void;
  onRunStatus?: (status: RunStatus) => void;
}

/** A run as the Experience plane asks for it. */
export interface RunIntent {
  runId: string;
  conversationId: string;
  owner: Owner;
  agentId: AgentId;
  userMessageId: string;
  input: RunInput;
}

type StopReason = { status: 'CANCELLED'; reason: string | null } | { status: 'FAILED'; error: AgentErrorInfo };

/** Agents see the whole conversation; this only guards against pathological lengths. */
const HISTORY_LIMIT = 10_000;

export class Runtime {
  private readonly executing = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly stopListening: () => void;
  private stopping = false;

  constructor(private readonly options: RuntimeOptions) {
    this.stopListening = options.backend.control.subscribe((message) => {
      if (message.type === 'cancel-run') this.executing.get(message.runId)?.controller.abort();
    });
  }

  /** Stores the run as QUEUED behind its conversation's earlier runs; it starts when its turn comes. */
  async submit(intent: RunIntent): Promise<RunRecord> {
    const { backend } = this.options;
    const run: RunRecord = {
      id: intent.runId,
      conversationId: intent.conversationId,
      owner: intent.owner,
      agentId: intent.agentId,
      status: 'QUEUED',
      userMessageId: intent.userMessageId,
      input: intent.input,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      error: null,
      cancelReason: null,
    };
    await backend.runs.create(run);
    await backend.runQueue.push(run.conversationId, run.id);
    this.options.onRunStatus?.('QUEUED');
    this.schedule(run.conversationId);
    return run;
  }

  /** The conversation's runs that are queued or running, in the order they will run. */
  async activeRuns(conversationId: string): Promise<RunRecord[]> {
    const { backend } = this.options;
    const runs = await Promise.all((await backend.runQueue.list(conversationId)).map((id) => backend.runs.get(id)));
    return runs.filter((run): run is RunRecord => run !== null && !TERMINAL_STATUSES.has(run.status));
  }

  /**
   * Ends a queued or running run as CANCELLED and returns it; a finished run is returned as it is.
   * The status changes at once; the AgentCancelled event follows when the run's executor (or, for a
   * queued run, its turn in the queue) has stopped, so that it is always the run's last event.
   */
  async cancel(runId: string, reason: string | null): Promise<RunRecord | null> {
    const { runs } = this.options.backend;
    // A run may move from QUEUED to RUNNING between our read and our write: then try again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const run = await runs.get(runId);
      if (!run || TERMINAL_STATUSES.has(run.status)) return run;
      const stopped = await this.stop(run, { status: 'CANCELLED', reason });
      if (stopped) return stopped;
    }
    return runs.get(runId);
  }

  /** Stops taking runs, ends the ones executing here as retryable failures, and waits for them. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const error = { code: 'SHUTDOWN', message: 'The server shut down while the run was executing.', retryable: true };
    await Promise.all(
      [...this.executing.keys()].map(async (runId) => {
        const run = await this.options.backend.runs.get(runId);
        if (run) await this.stop(run, { status: 'FAILED', error });
      }),
    );
    await Promise.all([...this.executing.values()].map((execution) => execution.done));
    this.stopListening();
  }

  /** Moves an active run to its stopped state and makes its executor (wherever it is) let go. */
  private async stop(run: RunRecord, reason: StopReason): Promise<RunRecord | null> {
    const { backend } = this.options;
    const patch: Partial<RunRecord> =
      reason.status === 'CANCELLED'
        ? { status: 'CANCELLED', cancelReason: reason.reason, finishedAt: new Date().toISOString() }
        : { status: 'FAILED', error: reason.error, finishedAt: new Date().toISOString() };
    const stopped = await backend.runs.transition(run.id, [run.status], patch);
    if (!stopped) return null;
    this.options.onRunStatus?.(stopped.status);
    if (run.status === 'RUNNING') await backend.control.publish({ type: 'cancel-run', runId: run.id });
    else this.schedule(run.conversationId);
    return stopped;
  }

  private schedule(conversationId: string): void {
    this.advance(conversationId).catch((error: unknown) =>
      this.options.logger.error({ err: error, conversationId }, 'advancing the run queue failed'),
    );
  }

  /** Starts the conversation's next run when none is executing. */
  private async advance(conversationId: string): Promise<void> {
    if (this.stopping) return;
    const { backend } = this.options;
    await backend.locks.withLock(`runs:${conversationId}`, async () => {
      for (;;) {
        const [headId] = await backend.runQueue.list(conversationId);
        if (headId === undefined) return;
        const head = await backend.runs.get(headId);
        if (!head) {
          await backend.runQueue.remove(conversationId, headId);
          continue;
        }
        if (head.status === 'QUEUED') {
          const started = await backend.runs.transition(head.id, ['QUEUED'], {
            status: 'RUNNING',
            startedAt: new Date().toISOString(),
          });
          if (!started) continue; // cancelled meanwhile: look at it again
          this.options.onRunStatus?.('RUNNING');
          this.startExecution(started);
          return;
        }
        if (head.status === 'CANCELLED' && head.startedAt === null) {
          // Cancelled while it waited: it takes its turn as an empty run, so that every run has
          // its AgentStarted and terminal event and no two runs' events ever interleave.
          await this.append(head, head.agentId, { type: 'AgentStarted' });
          await this.append(head, head.agentId, { type: 'AgentCancelled', reason: head.cancelReason });
          await backend.runQueue.remove(conversationId, head.id);
          continue;
        }
        return; // executing, or finishing: its executor advances the queue when done
      }
    });
  }

  private startExecution(run: RunRecord): void {
    const controller = new AbortController();
    const done = this.execute(run, controller.signal)
      .catch((error: unknown) => this.options.logger.error({ err: error, runId: run.id }, 'run execution failed'))
      .finally(() => {
        this.executing.delete(run.id);
        this.schedule(run.conversationId);
      });
    this.executing.set(run.id, { controller, done });
  }

  private async execute(run: RunRecord, signal: AbortSignal): Promise<void> {
    const { backend, agents, logger } = this.options;
    const timer = setTimeout(() => {
      const error = { code: 'TIMEOUT', message: `The run exceeded ${this.options.runTimeoutMs} ms.`, retryable: true };
      this.stop(run, { status: 'FAILED', error }).catch((cause: unknown) =>
        logger.error({ err: cause, runId: run.id }, 'stopping a timed-out run failed'),
      );
    }, this.options.runTimeoutMs);
    const scope = new RunScope({
      run,
      files: filesOf(run.input),
      events: backend.events,
      intents: this.options.intents,
      signal,
      stepDelayMs: this.options.stepDelayMs,
      onEvent: this.options.onEvent,
    });
    let outcome: Partial<RunRecord> = { status: 'COMPLETED' };
    try {
      await scope.append(run.agentId, { type: 'AgentStarted' });
      const agent = agents.get(run.agentId as AgentId);
      if (!agent) throw new Error(`no agent ${run.agentId}`);
      await agent.run(scope.contextFor(agent.id, await this.historyFor(run)));
    } catch (error) {
      if (!signal.aborted) {
        const errorId = randomUUID();
        logger.error({ err: error, runId: run.id, errorId }, 'agent failed');
        outcome = {
          status: 'FAILED',
          error: { code: 'AGENT_ERROR', message: `The agent failed (error id ${errorId}).`, retryable: false },
        };
      }
    } finally {
      clearTimeout(timer);
    }
    // Whoever moves the run out of RUNNING first (this executor, a cancel, the timeout) decides
    // how it ends; the executor always appends the terminal event, after the agent has stopped.
    const decided = await backend.runs.transition(run.id, ['RUNNING'], { ...outcome, finishedAt: new Date().toISOString() });
    if (decided) this.options.onRunStatus?.(decided.status);
    const finished = decided ?? (await backend.runs.get(run.id));
    if (!finished) throw new Error(`run ${run.id} vanished while executing`);
    await this.appendTerminal(finished, scope);
    await backend.runQueue.remove(run.conversationId, run.id);
  }

  /** The conversation up to the run's own message: later ones belong to runs queued behind it. */
  private async historyFor(run: RunRecord): Promise<MessageRecord[]> {
    const { messages } = this.options.backend;
    const own = await messages.get(run.userMessageId);
    const history = await messages.listLast(run.conversationId, HISTORY_LIMIT);
    return own ? history.filter((message) => message.seq <= own.seq) : history;
  }

  private async appendTerminal(run: RunRecord, scope: RunScope): Promise<void> {
    if (run.status === 'COMPLETED') {
      const message = {
        id: randomUUID(),
        conversationId: run.conversationId,
        role: 'AGENT' as const,
        text: scope.reply,
        agentId: scope.replyAgentId,
        runId: run.id,
        seq: 0,
        createdAt: new Date().toISOString(),
      };
      const event = await scope.append(scope.replyAgentId, { type: 'AgentCompleted', message });
      if (event.type === 'AgentCompleted') await this.options.backend.messages.add(event.message);
      await this.options.backend.conversations.touch(run.conversationId, message.createdAt);
    } else if (run.status === 'CANCELLED') {
      await scope.append(scope.currentAgentId, { type: 'AgentCancelled', reason: run.cancelReason });
    } else {
      const error = run.error ?? { code: 'INTERNAL', message: 'The run failed.', retryable: true };
      await scope.append(scope.currentAgentId, { type: 'AgentFailed', error });
    }
  }

  private async append(run: RunRecord, agentId: string, body: Parameters<RunScope['append']>[1]) {
    const event = await this.options.backend.events.append({
      ...body,
      conversationId: run.conversationId,
      runId: run.id,
      agentId,
    });
    this.options.onEvent?.(event);
    return event;
  }
}

/** The attached files of a run, as the Experience plane validated them. */
function filesOf(input: RunInput): AttachedFile[] {
  const files = input.context?.['files'];
  return Array.isArray(files) ? (files as AttachedFile[]) : [];
}
