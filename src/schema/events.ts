/**
 * The AgentEvent interface and one object type per event. Events are plain data from the
 * event log; `type` names the GraphQL type.
 */
import type { EventType, StoredEvent } from '../domain/events.ts';
import { builder } from './builder.ts';
import { ArtifactKindEnum } from './enums.ts';
import { AgentErrorRef, InputRequestRef, InputResponseRef, MessageRef, TokenUsageRef } from './objects.ts';

type EventOf<T extends EventType> = Extract<StoredEvent, { type: T }>;

export const AgentEventRef = builder.interfaceRef<StoredEvent>('AgentEvent').implement({
  description:
    "Something that happened in a conversation. `seq` numbers a conversation's events 1, 2, 3, … with no gap; resume a subscription with the last `seq` you saw as `afterSeq`.",
  resolveType: (event) => event.type,
  fields: (t) => ({
    id: t.exposeID('id'),
    seq: t.exposeInt('seq'),
    conversationId: t.exposeID('conversationId'),
    runId: t.exposeID('runId'),
    agentId: t.exposeID('agentId', { nullable: true, description: "The agent that emitted the event; null for the user's message." }),
    timestamp: t.field({ type: 'DateTime', resolve: (event) => event.timestamp }),
  }),
});

function eventType<T extends EventType>(
  name: T,
  description: string,
  fields?: Parameters<ReturnType<typeof builder.objectRef<EventOf<T>>>['implement']>[0]['fields'],
) {
  return builder.objectRef<EventOf<T>>(name).implement({ description, interfaces: [AgentEventRef], fields });
}

eventType('MessageCreated', "The user's message, stored; the first event of its run.", (t) => ({
  message: t.field({ type: MessageRef, resolve: (event) => event.message }),
}));
eventType('AgentStarted', 'The run started with its routed agent. Exactly one per run, before its other agent events.');
eventType('AgentThinking', 'What the agent is working on.', (t) => ({ text: t.exposeString('text') }));
eventType('ToolExecuting', 'A tool call began; a ToolCompleted with the same toolCallId follows.', (t) => ({
  toolCallId: t.exposeID('toolCallId'),
  toolName: t.exposeString('toolName'),
  arguments: t.field({ type: 'JSON', nullable: true, resolve: (event) => event.arguments }),
}));
eventType('ToolCompleted', 'A tool call ended, with its result or its error.', (t) => ({
  toolCallId: t.exposeID('toolCallId'),
  toolName: t.exposeString('toolName'),
  result: t.field({ type: 'JSON', nullable: true, resolve: (event) => event.result }),
  error: t.field({ type: AgentErrorRef, nullable: true, resolve: (event) => event.error }),
  durationMs: t.exposeInt('durationMs'),
}));
eventType('AgentHandoff', 'The work passed from one agent to another within the run.', (t) => ({
  fromAgentId: t.exposeID('fromAgentId'),
  toAgentId: t.exposeID('toAgentId'),
  reason: t.exposeString('reason'),
}));
eventType('AgentToken', "A piece of the reply; a run's deltas joined in order are its reply's text.", (t) => ({
  delta: t.exposeString('delta'),
}));
eventType('AgentArtifact', 'A structured result: a Vega-Lite spec, a table ({columns, rows}), an analysis.', (t) => ({
  artifactId: t.exposeID('artifactId'),
  kind: t.field({ type: ArtifactKindEnum, resolve: (event) => event.kind }),
  title: t.exposeString('title'),
  data: t.field({ type: 'JSON', resolve: (event) => event.data }),
}));
eventType('AgentCompleted', "The run's last event when it succeeded, with the agent's reply.", (t) => ({
  message: t.field({ type: MessageRef, resolve: (event) => event.message }),
  usage: t.field({
    type: TokenUsageRef,
    nullable: true,
    description: "Tokens the run's models used; null when its agents reported none.",
    resolve: (event) => event.usage ?? null,
  }),
}));
eventType('AgentFailed', "The run's last event when it failed.", (t) => ({
  error: t.field({ type: AgentErrorRef, resolve: (event) => event.error }),
}));
eventType('AgentCancelled', "The run's last event when it was cancelled or interrupted.", (t) => ({
  reason: t.exposeString('reason'),
}));
eventType(
  'AgentInputRequested',
  "The run asks a person and waits (WAITING); exactly one AgentInputReceived for it or the run's terminal event follows.",
  (t) => ({
    request: t.field({ type: InputRequestRef, description: 'The request as it was opened (PENDING).', resolve: (event) => event.request }),
  }),
);
eventType('AgentInputReceived', 'A person answered an input request; the run resumes once nothing else of it is open.', (t) => ({
  requestId: t.exposeID('requestId'),
  response: t.field({ type: InputResponseRef, resolve: (event) => event.response }),
}));
