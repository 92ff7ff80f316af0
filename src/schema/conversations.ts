import { builder } from './builder.ts';
import { AgentEventRef } from './events.ts';
import { AgentRef, AgentRunRef, ConversationRef, InputRequestRef, MessageRef, ViewerRef } from './objects.ts';

ConversationRef.implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (conversation) => conversation.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (conversation) => conversation.updatedAt }),
    lastSeq: t.int({
      description: 'The seq of the newest event; subscribe with it as afterSeq to follow on from here.',
      resolve: (conversation, _args, context) => context.conversations.lastSeq(conversation.id),
    }),
    messages: t.field({
      type: [MessageRef],
      description: 'The last messages, oldest first.',
      args: { last: t.arg.int({ defaultValue: 50 }) },
      resolve: (conversation, args, context) => context.conversations.messages(conversation.id, args.last ?? 50),
    }),
    runs: t.field({
      type: [AgentRunRef],
      description: 'The last runs, oldest first.',
      args: { last: t.arg.int({ defaultValue: 20 }) },
      resolve: (conversation, args, context) => context.conversations.runs(conversation.id, args.last ?? 20),
    }),
    activeRun: t.field({
      type: AgentRunRef,
      nullable: true,
      description: 'The run executing now (or waiting for a person: WAITING), or the next to execute; null when the conversation is idle.',
      resolve: (conversation, _args, context) => context.conversations.activeRun(conversation.id),
    }),
    events: t.field({
      type: [AgentEventRef],
      description: 'Retained events with seq > afterSeq, in order. EVENTS_EXPIRED when afterSeq is older than retention.',
      args: { afterSeq: t.arg.int({ defaultValue: 0 }), first: t.arg.int({ defaultValue: 100 }) },
      resolve: (conversation, args, context) => context.conversations.events(conversation.id, args.afterSeq ?? 0, args.first ?? 100),
    }),
    pendingInputs: t.field({
      type: [InputRequestRef],
      description: 'Every open input request of the conversation, oldest first.',
      resolve: (conversation, _args, context) => context.conversations.pendingInputs(conversation.id),
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: ViewerRef, resolve: (_root, _args, context) => context.viewer() }),
  agents: t.field({
    type: [AgentRef],
    resolve: async (_root, _args, context) => {
      await context.viewer();
      return [...context.agents];
    },
  }),
  conversation: t.field({
    type: ConversationRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => context.conversations.conversation(await context.viewer(), args.id),
  }),
  conversations: t.field({
    type: [ConversationRef],
    description: "The viewer's conversations, most recently active first.",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (_root, args, context) => context.conversations.conversations(await context.viewer(), args.first ?? 20),
  }),
  run: t.field({
    type: AgentRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => context.conversations.run(await context.viewer(), args.id),
  }),
}));
