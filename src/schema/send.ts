import { settingDefault } from '../config.ts';
import { builder } from './builder.ts';
import { ActiveRunPolicyEnum, AgentKindEnum, PillarEnum, SurfaceEnum } from './enums.ts';
import { AgentRunRef, ConversationRef, InputRequestRef, MessageRef } from './objects.ts';
import type { SendResult } from '../experience/conversations.ts';

const AgentTargetInput = builder.inputType('AgentTarget', {
  description: 'An explicit agent: {kind: GUIDE}, {kind: LIAISON, pillar: P}, or any registered agent by agentId.',
  fields: (t) => ({
    kind: t.field({ type: AgentKindEnum, required: true }),
    pillar: t.field({ type: PillarEnum }),
    agentId: t.id({
      description: 'Any agent in Query.agents; wins over kind and pillar. An unknown id is BAD_USER_INPUT (extensions.field "target.agentId").',
    }),
  }),
});

const SendAgentMessageInput = builder.inputType('SendAgentMessageInput', {
  fields: (t) => ({
    text: t.string({ required: true, description: `1 to ${settingDefault('MAX_TEXT_LENGTH')} characters (MAX_TEXT_LENGTH).` }),
    surface: t.field({ type: SurfaceEnum, defaultValue: 'HOME' }),
    target: t.field({ type: AgentTargetInput, description: 'Wins over the surface.' }),
    conversationId: t.id({
      description: 'Continues this conversation; an unused id (letters, digits, _ or -, at most 64) creates one with it.',
    }),
    clientMessageId: t.string({ description: 'Idempotency key per user: a repeat returns the same message and run.' }),
    onActiveRun: t.field({ type: ActiveRunPolicyEnum, defaultValue: 'ENQUEUE' }),
    projectId: t.id(),
    context: t.field({
      type: 'JSON',
      description: `Up to ${settingDefault('MAX_CONTEXT_BYTES') / 1024} KiB of JSON (MAX_CONTEXT_BYTES); context.files is a list of {name, content}.`,
    }),
  }),
});

const SendAgentMessagePayload = builder.objectRef<SendResult>('SendAgentMessagePayload').implement({
  fields: (t) => ({
    conversation: t.field({ type: ConversationRef, resolve: (result) => result.conversation }),
    message: t.field({ type: MessageRef, resolve: (result) => result.message }),
    run: t.field({ type: AgentRunRef, resolve: (result) => result.run }),
    afterSeq: t.exposeInt('afterSeq', {
      description: 'Subscribe to agentEvents with this afterSeq to receive every event of the run.',
    }),
  }),
});

const RespondToAgentInput = builder.inputType('RespondToAgentInput', {
  description: "APPROVAL: approved (and a comment, the reason of a denial). QUESTION: answer. CLIENT_TOOL: answer, the tool's result.",
  fields: (t) => ({
    requestId: t.id({ required: true }),
    approved: t.boolean(),
    answer: t.field({ type: 'JSON' }),
    comment: t.string(),
  }),
});

builder.mutationFields((t) => ({
  respondToAgent: t.field({
    type: InputRequestRef,
    description:
      'Answers an input request of your conversation. BAD_USER_INPUT when the answer does not fit; CONFLICT when the request is no longer PENDING (repeating its response returns it unchanged); NOT_FOUND for anyone else.',
    args: { input: t.arg({ type: RespondToAgentInput, required: true }) },
    resolve: async (_root, { input }, context) => context.conversations.respond(await context.viewer(), input, context.trace),
  }),
  sendAgentMessage: t.field({
    type: SendAgentMessagePayload,
    args: { input: t.arg({ type: SendAgentMessageInput, required: true }) },
    resolve: async (_root, { input }, context) => context.conversations.send(await context.viewer(), input, context.trace),
  }),
  cancelAgentRun: t.field({
    type: AgentRunRef,
    description: "Ends a queued, running or waiting run as CANCELLED (a waiting run's requests too); a finished run is returned unchanged.",
    args: { runId: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => context.conversations.cancel(await context.viewer(), args.runId),
  }),
  deleteConversation: t.boolean({
    description:
      "Deletes the viewer's conversation and everything of it (messages, runs, events, idempotency keys) from every store, " +
      'cancelling its active runs first; live subscriptions to it end with NOT_FOUND. False when there was nothing to delete (also for ' +
      "someone else's conversation).",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => context.conversations.delete(await context.viewer(), args.id),
  }),
}));
