import type { AgentDefinition } from '../agents/contract.ts';
import type { Principal } from '../experience/auth.ts';
import type { AgentErrorInfo, TokenUsage, ConversationRecord, InputRequestRecord, InputResponse, MessageRecord, RunRecord } from '../domain/records.ts';
import { filesOf } from '../runtime/executor.ts';
import { builder } from './builder.ts';
import { AgentKindEnum, InputKindEnum, InputStatusEnum, MessageRoleEnum, PillarEnum, RunStatusEnum, SurfaceEnum } from './enums.ts';

export const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  description: 'The authenticated caller.',
  fields: (t) => ({
    id: t.exposeID('userId'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
  }),
});

export const AgentRef = builder.objectRef<AgentDefinition>('Agent').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: AgentKindEnum, resolve: (agent) => agent.kind }),
    pillar: t.field({ type: PillarEnum, nullable: true, resolve: (agent) => agent.pillar }),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
  }),
});

export const AgentErrorRef = builder.objectRef<AgentErrorInfo>('AgentError').implement({
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    retryable: t.exposeBoolean('retryable'),
  }),
});

export const TokenUsageRef = builder.objectRef<TokenUsage>('TokenUsage').implement({
  description: "Tokens a run's models used, summed over the run; a count is null when no model reported it.",
  fields: (t) => ({
    inputTokens: t.exposeInt('inputTokens', { nullable: true }),
    outputTokens: t.exposeInt('outputTokens', { nullable: true }),
    totalTokens: t.exposeInt('totalTokens', { nullable: true }),
  }),
});

export const MessageRef = builder.objectRef<MessageRecord>('Message').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    conversationId: t.exposeID('conversationId'),
    role: t.field({ type: MessageRoleEnum, resolve: (message) => message.role }),
    text: t.exposeString('text'),
    agentId: t.exposeID('agentId', { nullable: true }),
    runId: t.exposeID('runId', { nullable: true }),
    seq: t.exposeInt('seq'),
    createdAt: t.field({ type: 'DateTime', resolve: (message) => message.createdAt }),
  }),
});

export const InputResponseRef = builder.objectRef<InputResponse>('InputResponse').implement({
  description: "A person's answer to an input request.",
  fields: (t) => ({
    approved: t.exposeBoolean('approved', { nullable: true, description: 'APPROVAL: whether the call may run.' }),
    answer: t.field({
      type: 'JSON',
      nullable: true,
      description: "QUESTION: the answer; CLIENT_TOOL: the tool's result.",
      resolve: (response) => response.answer,
    }),
    comment: t.exposeString('comment', { nullable: true }),
    respondedBy: t.exposeID('respondedBy'),
    respondedAt: t.field({ type: 'DateTime', resolve: (response) => response.respondedAt }),
  }),
});

export const InputRequestRef = builder.objectRef<InputRequestRecord>('InputRequest').implement({
  description: 'What a paused run asks a person; answer it with respondToAgent.',
  fields: (t) => ({
    id: t.exposeID('id'),
    runId: t.exposeID('runId'),
    conversationId: t.exposeID('conversationId'),
    agentId: t.exposeID('agentId'),
    kind: t.field({ type: InputKindEnum, resolve: (request) => request.kind }),
    status: t.field({ type: InputStatusEnum, resolve: (request) => request.status }),
    prompt: t.exposeString('prompt', { description: 'What the person is asked, readable as it is.' }),
    toolCallId: t.exposeID('toolCallId', { nullable: true, description: 'APPROVAL and CLIENT_TOOL: the call in question.' }),
    toolName: t.exposeString('toolName', { nullable: true }),
    arguments: t.field({ type: 'JSON', nullable: true, resolve: (request) => request.arguments }),
    options: t.stringList({ nullable: true, description: 'QUESTION: the answers offered, if any.', resolve: (request) => request.options }),
    answerSchema: t.field({
      type: 'JSON',
      nullable: true,
      description: 'JSON Schema the answer must match, if any.',
      resolve: (request) => request.answerSchema,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (request) => request.createdAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (request) => request.expiresAt }),
    response: t.field({ type: InputResponseRef, nullable: true, resolve: (request) => request.response }),
  }),
});

export const AgentRunRef = builder.objectRef<RunRecord>('AgentRun').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    conversationId: t.exposeID('conversationId'),
    agentId: t.exposeID('agentId'),
    status: t.field({ type: RunStatusEnum, resolve: (run) => run.status }),
    userMessageId: t.exposeID('userMessageId'),
    createdAt: t.field({ type: 'DateTime', resolve: (run) => run.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (run) => run.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (run) => run.finishedAt }),
    error: t.field({ type: AgentErrorRef, nullable: true, resolve: (run) => run.error }),
    surface: t.field({ type: SurfaceEnum, description: 'The surface its message was sent from.', resolve: (run) => run.input.surface }),
    attachmentNames: t.stringList({
      description: 'The names of the files attached to its message (context.files), in order.',
      resolve: (run) => filesOf(run.input).map((file) => file.name),
    }),
    usage: t.field({
      type: TokenUsageRef,
      nullable: true,
      description: 'Tokens the run used, once it has ended; null when its agents reported none.',
      resolve: (run) => run.usage ?? null,
    }),
    pendingInputs: t.field({
      type: [InputRequestRef],
      description: 'Its open input requests, oldest first (a WAITING run waits for them).',
      resolve: (run, _args, context) => context.conversations.pendingInputs(run.conversationId, run.id),
    }),
  }),
});

export const ConversationRef = builder.objectRef<ConversationRecord>('Conversation');
