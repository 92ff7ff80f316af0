/**
 * Real clients against a real server: signed tokens, GraphQL over HTTP, and the graphql-ws
 * client over WebSocket, with helpers that await events instead of sleeping.
 */
import { SignJWT } from 'jose';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';
import { TEST_SECRET } from './server.ts';

export interface TokenOptions {
  tenantId?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  secret?: string;
}

export async function tokenFor(userId: string, options: TokenOptions = {}): Promise<string> {
  let jwt = new SignJWT(options.tenantId ? { tid: options.tenantId } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId);
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export interface GraphQLResponse<T = any> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

export async function httpGraphQL<T = any>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** An HTTP GraphQL caller bound to one server and user. */
export function userClient(baseUrl: string, token: string) {
  return <T = any>(query: string, variables: Record<string, unknown> = {}) => httpGraphQL<T>(baseUrl, query, variables, token);
}

export function wsClient(baseUrl: string, token: string | null, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token === null ? {} : { authorization: `Bearer ${token}` },
    ...options,
  });
}

export const SEND = /* GraphQL */ `
  mutation Send($input: SendAgentMessageInput!) {
    sendAgentMessage(input: $input) {
      conversation {
        id
        title
        lastSeq
      }
      message {
        id
        seq
        text
        role
        runId
      }
      run {
        id
        status
        agentId
        conversationId
        userMessageId
      }
      afterSeq
    }
  }
`;

/** Every field of every event type, aliased where the contract's types would conflict. */
export const EVENT_FIELDS = /* GraphQL */ `
  __typename id seq conversationId runId agentId timestamp
  ... on MessageCreated { message { id text role seq } }
  ... on AgentThinking { text }
  ... on ToolExecuting { toolCallId toolName arguments }
  ... on ToolCompleted { toolCallId toolName result toolError: error { code message } durationMs }
  ... on AgentHandoff { fromAgentId toAgentId handoffReason: reason }
  ... on AgentToken { delta }
  ... on AgentArtifact { artifactId kind title data }
  ... on AgentCompleted { message { id text agentId seq role runId } }
  ... on AgentFailed { error { code message retryable } }
  ... on AgentCancelled { reason }
  ... on AgentInputRequested { request { id runId kind status prompt toolCallId toolName arguments options answerSchema expiresAt } }
  ... on AgentInputReceived { requestId response { approved answer comment respondedBy } }
`;

export const EVENTS = /* GraphQL */ `
  subscription Events($conversationId: ID!, $afterSeq: Int) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) { ${EVENT_FIELDS} }
  }
`;

export type AgentEvent = { __typename: string; seq: number; runId: string; agentId: string | null; [field: string]: any };

const TERMINAL = new Set(['AgentCompleted', 'AgentFailed', 'AgentCancelled']);
export const isTerminal = (event: AgentEvent) => TERMINAL.has(event.__typename);

/**
 * A live agentEvents subscription that records what arrives. `until` resolves once a predicate
 * over everything received so far holds; `error` resolves when the server ends it with errors.
 */
export class EventRecorder {
  readonly events: AgentEvent[] = [];
  errors: readonly { message: string; extensions?: Record<string, any> }[] | null = null;
  completed = false;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private readonly dispose: () => void;

  constructor(client: Client, variables: { conversationId: string; afterSeq?: number | null }) {
    this.dispose = client.subscribe<{ agentEvents: AgentEvent }>(
      { query: EVENTS, variables },
      {
        next: (result) => {
          if (result.errors) this.errors = result.errors as never;
          if (result.data?.agentEvents) this.events.push(result.data.agentEvents);
          this.notify();
        },
        error: (error) => {
          this.errors = Array.isArray(error) ? error : [{ message: String((error as Error)?.message ?? error) }];
          this.completed = true;
          this.notify();
        },
        complete: () => {
          this.completed = true;
          this.notify();
        },
      },
    );
  }

  until(check: (events: AgentEvent[]) => boolean, what = 'condition'): Promise<AgentEvent[]> {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          if (check(this.events)) {
            resolve(this.events);
            return true;
          }
          if (this.completed) {
            reject(new Error(`subscription ended before ${what}: ${JSON.stringify(this.errors)}`));
            return true;
          }
          return false;
        },
        resolve: () => undefined,
      };
      if (!waiter.check()) this.waiters.push(waiter);
    });
  }

  /** Resolves with the events once `count` terminal events have arrived. */
  untilTerminals(count = 1) {
    return this.until((events) => events.filter(isTerminal).length >= count, `${count} terminal event(s)`);
  }

  untilEnded(): Promise<void> {
    return this.until(() => this.completed, 'the end').then(
      () => undefined,
      () => undefined,
    );
  }

  stop() {
    this.dispose();
  }

  private notify() {
    this.waiters = this.waiters.filter((waiter) => !waiter.check());
  }
}

/** Waits for a WebSocket-level close and reports its code. */
export function closeCodeOf(client: Client): Promise<number> {
  return new Promise((resolve) => {
    client.on('closed', (event) => resolve((event as { code: number }).code));
  });
}
