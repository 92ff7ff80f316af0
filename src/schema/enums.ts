import { ARTIFACT_KINDS } from '../domain/events.ts';
import { AGENT_KINDS, PILLARS, SURFACES } from '../domain/product.ts';
import { INPUT_KINDS, INPUT_STATUSES, MESSAGE_ROLES, RUN_STATUSES } from '../domain/records.ts';
import { builder } from './builder.ts';

export const SurfaceEnum = builder.enumType('Surface', {
  description: 'Where in the product the user is; decides the agent when no target is given.',
  values: SURFACES,
});
export const PillarEnum = builder.enumType('Pillar', { values: PILLARS });
export const AgentKindEnum = builder.enumType('AgentKind', { values: AGENT_KINDS });
export const ActiveRunPolicyEnum = builder.enumType('ActiveRunPolicy', {
  description: 'What a send does while the conversation has a queued or running run.',
  values: {
    ENQUEUE: { description: 'Queue the new run behind the active ones.' },
    INTERRUPT: { description: 'Cancel the active (and queued) runs, then run the new one.' },
    REJECT: { description: 'Fail with CONFLICT and store nothing.' },
  } as const,
});
export const RunStatusEnum = builder.enumType('RunStatus', {
  description: 'WAITING: paused on a person (an approval, a question, a client tool); it holds no process meanwhile.',
  values: RUN_STATUSES,
});
export const InputKindEnum = builder.enumType('InputKind', {
  description: 'APPROVAL of a tool call, a QUESTION, or a CLIENT_TOOL the frontend executes.',
  values: INPUT_KINDS,
});
export const InputStatusEnum = builder.enumType('InputStatus', { values: INPUT_STATUSES });
export const MessageRoleEnum = builder.enumType('MessageRole', { values: MESSAGE_ROLES });
export const ArtifactKindEnum = builder.enumType('ArtifactKind', {
  values: ARTIFACT_KINDS,
});
