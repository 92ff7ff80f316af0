import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Principal } from '../../experience/auth.ts';
import type { Gateway } from '../../gateway.ts';
import { schema, type GraphQLContext } from '../../schema/index.ts';
import { corsOptions, useCsrfPrevention } from '../http/browser-origins.ts';
import { createContext } from './context.ts';
import { documentCaches } from './document-cache.ts';
import { clientErrorMasking, useContractErrorCodes } from './errors.ts';
import { useOperationLimits } from '../limits/operation-limits.ts';
import { tracingRegistered, useOperationSpans } from './operation-spans.ts';
import type { TraceCarrier } from '../../tracing/spans.ts';
import type { SharedEventExecution } from '../fan-out/shared-execution.ts';

/** What a transport hands to yoga: a WebSocket has authenticated at connection_init already. */
export interface TransportContext {
  principal?: Principal;
  /** The trace context a WebSocket's client gave (see operation-spans.ts). */
  traceCarrier?: TraceCarrier;
}

export type Yoga = YogaServerInstance<TransportContext, GraphQLContext>;

/** Who GraphiQL is signed in as outside production. */
export const GRAPHIQL_USER = 'graphiql';

/**
 * What GraphiQL opens with. Follow selects every event type; two pairs of fields share a name but
 * not a type (ToolCompleted.error and AgentFailed.error, AgentHandoff.reason and
 * AgentCancelled.reason), which GraphQL forbids in one selection, so one of each is aliased.
 */
export const GRAPHIQL_QUERY = `# Run Send, then paste its conversation id and run id into Follow and run it: with runId it
# ends after the run's last event (leave runId out to follow the whole conversation).
mutation Send {
  sendAgentMessage(input: { text: "What trends are in this data?", surface: INSIGHTS,
    context: { files: [{ name: "sales.csv", content: "month,revenue\\n2026-01-01,120\\n2026-02-01,135\\n2026-03-01,160" }] } }) {
    conversation { id }
    run { id status agentId }
    afterSeq
  }
}

subscription Follow {
  agentEvents(conversationId: "PASTE-CONVERSATION-ID", afterSeq: 0, runId: "PASTE-RUN-ID") {
    __typename seq agentId
    ... on MessageCreated { message { role text } }
    ... on AgentStarted { timestamp }
    ... on AgentThinking { text }
    ... on ToolExecuting { toolCallId toolName arguments }
    ... on ToolCompleted { toolCallId toolName result durationMs toolError: error { code message } }
    ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }
    ... on AgentToken { delta }
    ... on AgentArtifact { kind title data }
    ... on AgentCompleted { message { text } }
    ... on AgentFailed { error { code message retryable } }
    ... on AgentCancelled { reason }
    ... on AgentInputRequested { request { id kind prompt toolName arguments options answerSchema expiresAt } }
    ... on AgentInputReceived { requestId response { approved answer comment } }
  }
}

# A run that asks a person (WAITING) lists its requests here; answer one with Respond:
# approved for an APPROVAL (comment: why not), answer for a QUESTION or a CLIENT_TOOL.
query Pending {
  conversation(id: "PASTE-CONVERSATION-ID") {
    pendingInputs { id runId kind prompt toolName arguments options answerSchema expiresAt }
  }
}

mutation Respond {
  respondToAgent(input: { requestId: "PASTE-REQUEST-ID", approved: true, comment: "Go ahead." }) {
    id status response { approved comment respondedAt }
  }
}
`;

export function createYogaServer(gateway: Gateway, sharedEvents: SharedEventExecution): Yoga {
  const { auth, config, logger, metrics } = gateway;
  return createYoga<TransportContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      // Yoga reports every resolver error here, the expected ones (UNAUTHENTICATED, NOT_FOUND…)
      // included; the unexpected ones are logged at error level by toClientError, with their id.
      error: (...args) => logger.debug(args.map(String).join(' ')),
    },
    // Every body is bounded by its declared length before yoga sees it (limits/request-size.ts),
    // and Node reads no more than that length. Yoga's own limit would pipe each body through a
    // stream that counts its bytes, about a tenth of a small request's CPU, to find nothing.
    maxRequestBodySize: false,
    parserAndValidationCache: documentCaches(config.DOCUMENT_CACHE_BYTES, metrics),
    maskedErrors: { maskError: clientErrorMasking(config.production, logger) },
    cors: corsOptions(gateway.config),
    plugins: [
      useCsrfPrevention(),
      ...useOperationLimits(gateway.config),
      useContractErrorCodes(logger),
      sharedEvents.plugin(),
      // Only with an SDK registered: without one, operations pay nothing for tracing.
      ...(tracingRegistered() ? [useOperationSpans()] : []),
    ],
    context: ({ request, principal }) =>
      createContext(gateway, () => (principal ? Promise.resolve(principal) : auth.authenticate(request?.headers.get('authorization')))),
    // GraphiQL from the npm package itself rather than a CDN: it works offline and behind
    // firewalls. Loaded on the first visit, so that starting the server does not pay for it.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    graphiql: () => graphiqlOptions(gateway),
  });
}

/**
 * GraphiQL's headers editor reaches HTTP requests but not its graphql-ws client, which takes
 * connectionParams fixed when the page is rendered. Outside production without a secret the
 * page opens signed in as a demo user, over WebSocket. With a real secret nobody's token can be
 * baked in, so subscriptions go over SSE, which carries the headers the user pastes.
 */
async function graphiqlOptions(gateway: Gateway) {
  const { auth } = gateway;
  const common = { title: 'Agent gateway', defaultQuery: GRAPHIQL_QUERY, shouldPersistHeaders: false };
  if (!auth.ephemeral) {
    return { ...common, subscriptionsProtocol: 'SSE' as const, headers: JSON.stringify({ Authorization: 'Bearer <jwt>' }) };
  }
  const authorization = `Bearer ${await auth.issue({ userId: GRAPHIQL_USER, tenantId: null }, 86_400)}`;
  return {
    ...common,
    subscriptionsProtocol: 'WS' as const,
    headers: JSON.stringify({ Authorization: authorization }),
    connectionParams: { authorization },
  };
}
