import { builder } from './builder.ts';

export const SurfaceEnum = builder.enumType('Surface', {
  description: 'Where in the product the user is; decides the agent when no target is given.',
  values: ['HOME', 'CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES'] as const,
});
export const PillarEnum = builder.enumType('Pillar', { values: ['CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES'] as const });
export const AgentKindEnum = builder.enumType('AgentKind', { values: ['GUIDE', 'LIAISON'] as const });
export const ActiveRunPolicyEnum = builder.enumType('ActiveRunPolicy', {
  description: 'What a send does while the conversation has a queued or running run.',
  values: {
    ENQUEUE: { description: 'Queue the new run behind the active ones.' },
    INTERRUPT: { description: 'Cancel the active (and queued) runs, then run the new one.' },
    REJECT: { description: 'Fail with CONFLICT and store nothing.' },
  } as const,
});
export const RunStatusEnum = builder.enumType('RunStatus', {
  values: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const,
});
export const MessageRoleEnum = builder.enumType('MessageRole', { values: ['USER', 'AGENT'] as const });
export const ArtifactKindEnum = builder.enumType('ArtifactKind', {
  values: ['VISUALIZATION', 'TABLE', 'ANALYSIS', 'DRILL_DOWN'] as const,
});
