/**
 * What a resumed run did before its pause, read back from its own log: a run that waited for a
 * person runs again from its start, and everything it emits again is matched here against what
 * it emitted then and not appended twice; tool calls and answers are found by their ids.
 *
 * Events with an id of their own (a tool call's, a request's) are matched by it; the others
 * (tokens, thinking, artifacts, handoffs) by their place among the same agent's events of that
 * type: the k-th token an agent emits again is its k-th token then. That holds for any agent
 * that decides only from its context, as the agent contract asks.
 */
import type { EventBody, EventType, StoredEvent } from '../domain/events.ts';
import type { InputResponse, RunRecord } from '../domain/records.ts';
import type { Backend } from '../store/interfaces.ts';

type Of<T extends EventType> = Extract<StoredEvent, { type: T }>;

const PLACED: ReadonlySet<EventType> = new Set(['AgentToken', 'AgentThinking', 'AgentArtifact', 'AgentHandoff']);

export class RunReplay {
  /** Whether the run had its AgentStarted: a resumed run does not get another. */
  readonly started: boolean;
  private readonly placed = new Map<string, StoredEvent[]>();
  private readonly taken = new Map<string, number>();
  private readonly toolStarts = new Map<string, Of<'ToolExecuting'>>();
  private readonly toolEnds = new Map<string, Of<'ToolCompleted'>>();
  private readonly requests = new Map<string, Of<'AgentInputRequested'>>();
  private readonly answers = new Map<string, InputResponse>();
  /** Agents that took their events whole (`takeAll`): theirs all count as emitted again. */
  private readonly handedOut = new Set<string>();

  /** @param events the run's events before this execution, in log order. */
  constructor(private readonly events: readonly StoredEvent[] = []) {
    this.started = events.some((event) => event.type === 'AgentStarted');
    for (const event of events) {
      if (PLACED.has(event.type)) {
        const key = placeKey(event.agentId ?? '', event.type);
        this.placed.set(key, [...(this.placed.get(key) ?? []), event]);
      } else if (event.type === 'ToolExecuting') this.toolStarts.set(event.toolCallId, event);
      else if (event.type === 'ToolCompleted') this.toolEnds.set(event.toolCallId, event);
      else if (event.type === 'AgentInputRequested') this.requests.set(event.request.id, event);
      else if (event.type === 'AgentInputReceived') this.answers.set(event.requestId, event.response);
    }
  }

  /** Whether events of earlier executions are still to be emitted again: pacing is skipped meanwhile. */
  get catchingUp(): boolean {
    for (const [key, list] of this.placed) if ((this.taken.get(key) ?? 0) < list.length) return true;
    return false;
  }

  /** The logged form of `body` when `agentId` emitted it before (it is then not appended again); null when it is new. */
  take(agentId: string, body: EventBody): StoredEvent | null {
    switch (body.type) {
      case 'ToolExecuting':
        return this.toolStarts.get(body.toolCallId) ?? null;
      case 'ToolCompleted':
        return this.toolEnds.get(body.toolCallId) ?? null;
      case 'AgentInputRequested':
        return this.requests.get(body.request.id) ?? null;
      default: {
        if (!PLACED.has(body.type) || this.handedOut.has(agentId)) return null;
        const key = placeKey(agentId, body.type);
        const place = this.taken.get(key) ?? 0;
        const logged = this.placed.get(key)?.[place];
        if (!logged) return null;
        this.taken.set(key, place + 1);
        return logged;
      }
    }
  }

  /** Calls reported as running elsewhere before the pause that have not ended (a remote agent's, cut off by its interrupt). */
  openCalls(): Of<'ToolExecuting'>[] {
    return [...this.toolStarts.values()].filter((call) => !this.toolEnds.has(call.toolCallId));
  }

  toolResult(toolCallId: string): Of<'ToolCompleted'> | undefined {
    return this.toolEnds.get(toolCallId);
  }

  wasRequested(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  answer(requestId: string): InputResponse | undefined {
    return this.answers.get(requestId);
  }

  /**
   * Every event `agentId` emitted before that it has not emitted again yet, in order, handed out
   * once; from then on all it emits is new.
   */
  takeAll(agentId: string): StoredEvent[] {
    if (this.handedOut.has(agentId)) return [];
    this.handedOut.add(agentId);
    const seen = new Map<string, number>();
    return this.events.filter((event) => {
      if (event.agentId !== agentId || event.type === 'AgentStarted') return false;
      if (!PLACED.has(event.type)) return true;
      const key = placeKey(agentId, event.type);
      const place = seen.get(key) ?? 0;
      seen.set(key, place + 1);
      return place >= (this.taken.get(key) ?? 0);
    });
  }

  /** The answers the run got, by request id. */
  get allAnswers(): ReadonlyMap<string, InputResponse> {
    return this.answers;
  }
}

function placeKey(agentId: string, type: EventType): string {
  return `${agentId}\u0000${type}`;
}

/** How many of a conversation's events one read of a resumed run's log takes. */
const REPLAY_PAGE = 500;

/** The events `run` appended before (a paused run's), read from its user message on. */
export async function readReplay(backend: Backend, run: RunRecord): Promise<RunReplay> {
  const message = await backend.messages.get(run.userMessageId);
  const events: StoredEvent[] = [];
  let afterSeq = Math.max(0, (message?.seq ?? 1) - 1);
  for (;;) {
    const page = await backend.events.read(run.conversationId, afterSeq, REPLAY_PAGE);
    for (const event of page) if (event.runId === run.id && event.type !== 'MessageCreated') events.push(event);
    if (page.length < REPLAY_PAGE) return new RunReplay(events);
    afterSeq = page.at(-1)!.seq;
  }
}
