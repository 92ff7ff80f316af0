/**
 * The events a run emits, as plain data. The GraphQL adapter maps `type` onto the
 * AgentEvent implementations; nothing here knows about GraphQL.
 */
import type { AgentErrorInfo, InputRequestRecord, InputResponse, MessageRecord, TokenUsage } from './records.ts';

export const ARTIFACT_KINDS = ['VISUALIZATION', 'TABLE', 'ANALYSIS', 'DRILL_DOWN'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** What a run emits; the event log adds identity, `seq` and a timestamp. */
export type EventBody =
  | { type: 'MessageCreated'; message: MessageRecord }
  | { type: 'AgentStarted' }
  | { type: 'AgentThinking'; text: string }
  | { type: 'ToolExecuting'; toolCallId: string; toolName: string; arguments: unknown }
  | {
      type: 'ToolCompleted';
      toolCallId: string;
      toolName: string;
      result: unknown;
      error: AgentErrorInfo | null;
      durationMs: number;
    }
  | { type: 'AgentHandoff'; fromAgentId: string; toAgentId: string; reason: string }
  | { type: 'AgentToken'; delta: string }
  | { type: 'AgentArtifact'; artifactId: string; kind: ArtifactKind; title: string; data: unknown }
  | { type: 'AgentCompleted'; message: MessageRecord; usage: TokenUsage | null }
  | { type: 'AgentFailed'; error: AgentErrorInfo }
  | { type: 'AgentCancelled'; reason: string }
  /** The run asks a person and waits (WAITING); `request` is the request as it was opened. */
  | { type: 'AgentInputRequested'; request: InputRequestRecord }
  /** A person answered; appended by whoever took the answer, before the run resumes. */
  | { type: 'AgentInputReceived'; requestId: string; response: InputResponse };

export type EventType = EventBody['type'];

export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(['AgentCompleted', 'AgentFailed', 'AgentCancelled']);

/** An event as the caller hands it to the log: everything but `id`, `seq` and `timestamp`. */
export type NewEvent = EventBody & {
  conversationId: string;
  runId: string;
  agentId: string | null;
};

/** An event as the log stores and delivers it. */
export type StoredEvent = NewEvent & {
  id: string;
  seq: number;
  timestamp: string;
};

/** The AgentInputReceived that answering `request` appends, in the name of the agent that asked. */
export function inputReceived(request: InputRequestRecord, response: InputResponse): NewEvent {
  return {
    type: 'AgentInputReceived',
    conversationId: request.conversationId,
    runId: request.runId,
    agentId: request.agentId,
    requestId: request.id,
    response,
  };
}

/** `body` as an event of a run, emitted by `agentId`; the run's ids win over any field of those names in `body`. */
export function runEvent(body: EventBody, run: { conversationId: string; id: string }, agentId: string | null): NewEvent {
  const { conversationId, id: runId } = run;
  // Written before the spread and again after it: V8 copies `{ ...a, b }` through a slow path
  // (about 2 µs, on every token a run streams), `{ b, ...a }` through its fast one.
  const event = { conversationId, runId, agentId, ...body } as NewEvent;
  event.conversationId = conversationId;
  event.runId = runId;
  event.agentId = agentId;
  return event;
}
