/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation SendMessage($input: SendAgentMessageInput!) {\n    sendAgentMessage(input: $input) {\n      conversation { id title }\n      message { id seq text role runId createdAt }\n      run { id status agentId }\n      afterSeq\n    }\n  }\n": typeof types.SendMessageDocument,
    "\n  mutation CancelRun($runId: ID!) {\n    cancelAgentRun(runId: $runId) { id status }\n  }\n": typeof types.CancelRunDocument,
    "\n  query Agents {\n    viewer { id tenantId }\n    agents { id kind pillar name description }\n  }\n": typeof types.AgentsDocument,
    "\n  query Conversations($first: Int) {\n    conversations(first: $first) { id title updatedAt activeRun { id status } runs(last: 1) { surface attachmentNames } }\n  }\n": typeof types.ConversationsDocument,
    "\n  query ConversationHistory($id: ID!, $last: Int) {\n    conversation(id: $id) {\n      id\n      title\n      lastSeq\n      messages(last: $last) { id role text agentId runId seq createdAt }\n      runs(last: 200) { id status agentId userMessageId surface attachmentNames }\n      activeRun { id status agentId userMessageId }\n      pendingInputs { ...PendingInput }\n    }\n  }\n": typeof types.ConversationHistoryDocument,
    "\n  fragment PendingInput on InputRequest {\n    id runId agentId kind status prompt toolCallId toolName arguments options answerSchema expiresAt\n  }\n": typeof types.PendingInputFragmentDoc,
    "\n  mutation RespondToAgent($input: RespondToAgentInput!) {\n    respondToAgent(input: $input) { id status response { approved answer comment } }\n  }\n": typeof types.RespondToAgentDocument,
    "\n  subscription AgentEvents($conversationId: ID!, $afterSeq: Int) {\n    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {\n      __typename\n      id\n      seq\n      conversationId\n      runId\n      agentId\n      timestamp\n      ... on MessageCreated { message { id role text seq runId createdAt } }\n      ... on AgentThinking { text }\n      ... on ToolExecuting { toolCallId toolName arguments }\n      ... on ToolCompleted { toolCallId toolName result durationMs toolError: error { code message retryable } }\n      ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }\n      ... on AgentToken { delta }\n      ... on AgentArtifact { artifactId kind title data }\n      ... on AgentCompleted { message { id role text agentId runId seq createdAt } }\n      ... on AgentFailed { error { code message retryable } }\n      ... on AgentCancelled { reason }\n      ... on AgentInputRequested { request { ...PendingInput } }\n      ... on AgentInputReceived { requestId response { approved answer comment respondedBy } }\n    }\n  }\n": typeof types.AgentEventsDocument,
};
const documents: Documents = {
    "\n  mutation SendMessage($input: SendAgentMessageInput!) {\n    sendAgentMessage(input: $input) {\n      conversation { id title }\n      message { id seq text role runId createdAt }\n      run { id status agentId }\n      afterSeq\n    }\n  }\n": types.SendMessageDocument,
    "\n  mutation CancelRun($runId: ID!) {\n    cancelAgentRun(runId: $runId) { id status }\n  }\n": types.CancelRunDocument,
    "\n  query Agents {\n    viewer { id tenantId }\n    agents { id kind pillar name description }\n  }\n": types.AgentsDocument,
    "\n  query Conversations($first: Int) {\n    conversations(first: $first) { id title updatedAt activeRun { id status } runs(last: 1) { surface attachmentNames } }\n  }\n": types.ConversationsDocument,
    "\n  query ConversationHistory($id: ID!, $last: Int) {\n    conversation(id: $id) {\n      id\n      title\n      lastSeq\n      messages(last: $last) { id role text agentId runId seq createdAt }\n      runs(last: 200) { id status agentId userMessageId surface attachmentNames }\n      activeRun { id status agentId userMessageId }\n      pendingInputs { ...PendingInput }\n    }\n  }\n": types.ConversationHistoryDocument,
    "\n  fragment PendingInput on InputRequest {\n    id runId agentId kind status prompt toolCallId toolName arguments options answerSchema expiresAt\n  }\n": types.PendingInputFragmentDoc,
    "\n  mutation RespondToAgent($input: RespondToAgentInput!) {\n    respondToAgent(input: $input) { id status response { approved answer comment } }\n  }\n": types.RespondToAgentDocument,
    "\n  subscription AgentEvents($conversationId: ID!, $afterSeq: Int) {\n    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {\n      __typename\n      id\n      seq\n      conversationId\n      runId\n      agentId\n      timestamp\n      ... on MessageCreated { message { id role text seq runId createdAt } }\n      ... on AgentThinking { text }\n      ... on ToolExecuting { toolCallId toolName arguments }\n      ... on ToolCompleted { toolCallId toolName result durationMs toolError: error { code message retryable } }\n      ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }\n      ... on AgentToken { delta }\n      ... on AgentArtifact { artifactId kind title data }\n      ... on AgentCompleted { message { id role text agentId runId seq createdAt } }\n      ... on AgentFailed { error { code message retryable } }\n      ... on AgentCancelled { reason }\n      ... on AgentInputRequested { request { ...PendingInput } }\n      ... on AgentInputReceived { requestId response { approved answer comment respondedBy } }\n    }\n  }\n": types.AgentEventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($input: SendAgentMessageInput!) {\n    sendAgentMessage(input: $input) {\n      conversation { id title }\n      message { id seq text role runId createdAt }\n      run { id status agentId }\n      afterSeq\n    }\n  }\n"): (typeof documents)["\n  mutation SendMessage($input: SendAgentMessageInput!) {\n    sendAgentMessage(input: $input) {\n      conversation { id title }\n      message { id seq text role runId createdAt }\n      run { id status agentId }\n      afterSeq\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelRun($runId: ID!) {\n    cancelAgentRun(runId: $runId) { id status }\n  }\n"): (typeof documents)["\n  mutation CancelRun($runId: ID!) {\n    cancelAgentRun(runId: $runId) { id status }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Agents {\n    viewer { id tenantId }\n    agents { id kind pillar name description }\n  }\n"): (typeof documents)["\n  query Agents {\n    viewer { id tenantId }\n    agents { id kind pillar name description }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Conversations($first: Int) {\n    conversations(first: $first) { id title updatedAt activeRun { id status } runs(last: 1) { surface attachmentNames } }\n  }\n"): (typeof documents)["\n  query Conversations($first: Int) {\n    conversations(first: $first) { id title updatedAt activeRun { id status } runs(last: 1) { surface attachmentNames } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ConversationHistory($id: ID!, $last: Int) {\n    conversation(id: $id) {\n      id\n      title\n      lastSeq\n      messages(last: $last) { id role text agentId runId seq createdAt }\n      runs(last: 200) { id status agentId userMessageId surface attachmentNames }\n      activeRun { id status agentId userMessageId }\n      pendingInputs { ...PendingInput }\n    }\n  }\n"): (typeof documents)["\n  query ConversationHistory($id: ID!, $last: Int) {\n    conversation(id: $id) {\n      id\n      title\n      lastSeq\n      messages(last: $last) { id role text agentId runId seq createdAt }\n      runs(last: 200) { id status agentId userMessageId surface attachmentNames }\n      activeRun { id status agentId userMessageId }\n      pendingInputs { ...PendingInput }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment PendingInput on InputRequest {\n    id runId agentId kind status prompt toolCallId toolName arguments options answerSchema expiresAt\n  }\n"): (typeof documents)["\n  fragment PendingInput on InputRequest {\n    id runId agentId kind status prompt toolCallId toolName arguments options answerSchema expiresAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RespondToAgent($input: RespondToAgentInput!) {\n    respondToAgent(input: $input) { id status response { approved answer comment } }\n  }\n"): (typeof documents)["\n  mutation RespondToAgent($input: RespondToAgentInput!) {\n    respondToAgent(input: $input) { id status response { approved answer comment } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription AgentEvents($conversationId: ID!, $afterSeq: Int) {\n    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {\n      __typename\n      id\n      seq\n      conversationId\n      runId\n      agentId\n      timestamp\n      ... on MessageCreated { message { id role text seq runId createdAt } }\n      ... on AgentThinking { text }\n      ... on ToolExecuting { toolCallId toolName arguments }\n      ... on ToolCompleted { toolCallId toolName result durationMs toolError: error { code message retryable } }\n      ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }\n      ... on AgentToken { delta }\n      ... on AgentArtifact { artifactId kind title data }\n      ... on AgentCompleted { message { id role text agentId runId seq createdAt } }\n      ... on AgentFailed { error { code message retryable } }\n      ... on AgentCancelled { reason }\n      ... on AgentInputRequested { request { ...PendingInput } }\n      ... on AgentInputReceived { requestId response { approved answer comment respondedBy } }\n    }\n  }\n"): (typeof documents)["\n  subscription AgentEvents($conversationId: ID!, $afterSeq: Int) {\n    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {\n      __typename\n      id\n      seq\n      conversationId\n      runId\n      agentId\n      timestamp\n      ... on MessageCreated { message { id role text seq runId createdAt } }\n      ... on AgentThinking { text }\n      ... on ToolExecuting { toolCallId toolName arguments }\n      ... on ToolCompleted { toolCallId toolName result durationMs toolError: error { code message retryable } }\n      ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }\n      ... on AgentToken { delta }\n      ... on AgentArtifact { artifactId kind title data }\n      ... on AgentCompleted { message { id role text agentId runId seq createdAt } }\n      ... on AgentFailed { error { code message retryable } }\n      ... on AgentCancelled { reason }\n      ... on AgentInputRequested { request { ...PendingInput } }\n      ... on AgentInputReceived { requestId response { approved answer comment respondedBy } }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;