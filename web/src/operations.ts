/**
 * Every operation the page sends, as typed documents: `graphql()` returns a TypedDocumentNode
 * whose result and variables types codegen derives from schema.graphql (`npm run codegen`).
 * The Node tests for Apollo Client and urql (test/clients) use these same documents.
 */
import { graphql } from './gql/index.ts';

export const SendMessage = graphql(`
  mutation SendMessage($input: SendAgentMessageInput!) {
    sendAgentMessage(input: $input) {
      conversation {
        id
        title
      }
      message {
        id
        seq
        text
        role
        runId
        createdAt
      }
      run {
        id
        status
        agentId
      }
      afterSeq
    }
  }
`);

export const CancelRun = graphql(`
  mutation CancelRun($runId: ID!) {
    cancelAgentRun(runId: $runId) {
      id
      status
    }
  }
`);

export const Agents = graphql(`
  query Agents {
    viewer {
      id
      tenantId
    }
    agents {
      id
      kind
      pillar
      name
      description
    }
  }
`);

export const Conversations = graphql(`
  query Conversations($first: Int) {
    conversations(first: $first) {
      id
      title
      updatedAt
      activeRun {
        id
        status
      }
      runs(last: 1) {
        surface
        attachmentNames
      }
    }
  }
`);

export const ConversationHistory = graphql(`
  query ConversationHistory($id: ID!, $last: Int) {
    conversation(id: $id) {
      id
      title
      lastSeq
      messages(last: $last) {
        id
        role
        text
        agentId
        runId
        seq
        createdAt
      }
      runs(last: 200) {
        id
        status
        agentId
        userMessageId
        surface
        attachmentNames
      }
      activeRun {
        id
        status
        agentId
        userMessageId
      }
      pendingInputs {
        ...PendingInput
      }
    }
  }
`);

/** An input request as the page shows it: what is asked, and the call in question. */
export const PendingInput = graphql(`
  fragment PendingInput on InputRequest {
    id
    runId
    agentId
    kind
    status
    prompt
    toolCallId
    toolName
    arguments
    options
    answerSchema
    expiresAt
  }
`);

export const RespondToAgent = graphql(`
  mutation RespondToAgent($input: RespondToAgentInput!) {
    respondToAgent(input: $input) {
      id
      status
      response {
        approved
        answer
        comment
      }
    }
  }
`);

/**
 * A conversation's events. `ToolCompleted.error` (nullable) and `AgentFailed.error` (non-null)
 * have different types, as do `AgentHandoff.reason` and `AgentCancelled.reason`, so one of each
 * pair is aliased: GraphQL forbids one response name with two types in a selection.
 */
export const AgentEvents = graphql(`
  subscription AgentEvents($conversationId: ID!, $afterSeq: Int) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {
      __typename
      id
      seq
      conversationId
      runId
      agentId
      timestamp
      ... on MessageCreated {
        message {
          id
          role
          text
          seq
          runId
          createdAt
        }
      }
      ... on AgentThinking {
        text
      }
      ... on ToolExecuting {
        toolCallId
        toolName
        arguments
      }
      ... on ToolCompleted {
        toolCallId
        toolName
        result
        durationMs
        toolError: error {
          code
          message
          retryable
        }
      }
      ... on AgentHandoff {
        fromAgentId
        toAgentId
        handoffReason: reason
      }
      ... on AgentToken {
        delta
      }
      ... on AgentArtifact {
        artifactId
        kind
        title
        data
      }
      ... on AgentCompleted {
        message {
          id
          role
          text
          agentId
          runId
          seq
          createdAt
        }
      }
      ... on AgentFailed {
        error {
          code
          message
          retryable
        }
      }
      ... on AgentCancelled {
        reason
      }
      ... on AgentInputRequested {
        request {
          ...PendingInput
        }
      }
      ... on AgentInputReceived {
        requestId
        response {
          approved
          answer
          comment
          respondedBy
        }
      }
    }
  }
`);
