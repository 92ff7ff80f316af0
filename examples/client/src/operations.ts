import { graphql } from './gql/index.js';

export const SendMessage = graphql(`
  mutation SendMessage($input: SendAgentMessageInput!) {
    sendAgentMessage(input: $input) {
      conversation { id }
      run { id status agentId }
      afterSeq
    }
  }
`);

// Every event type. ToolCompleted.error and AgentFailed.error (likewise AgentHandoff.reason and
// AgentCancelled.reason) differ in nullability, so one of each pair is aliased.
export const FollowRun = graphql(`
  subscription FollowRun($conversationId: ID!, $afterSeq: Int, $runId: ID) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq, runId: $runId) {
      __typename
      seq
      runId
      agentId
      ... on MessageCreated { message { text } }
      ... on AgentThinking { text }
      ... on ToolExecuting { toolCallId toolName arguments }
      ... on ToolCompleted { toolCallId toolName durationMs toolError: error { code message } }
      ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }
      ... on AgentToken { delta }
      ... on AgentArtifact { kind title }
      ... on AgentCompleted { message { text } }
      ... on AgentFailed { error { code message retryable } }
      ... on AgentCancelled { reason }
    }
  }
`);

export const CancelRun = graphql(`
  mutation CancelRun($runId: ID!) {
    cancelAgentRun(runId: $runId) { id status }
  }
`);
