import type { Principal } from '../../experience/auth.ts';
import type { Gateway } from '../../gateway.ts';
import type { GraphQLContext } from '../../schema/index.ts';

/**
 * A resolver context whose viewer is authenticated at most once, and only when a resolver asks:
 * introspection (GraphiQL's schema fetch) needs no token, everything else does.
 */
export function createContext(gateway: Gateway, authenticate: () => Promise<Principal>): GraphQLContext {
  let viewer: Promise<Principal> | undefined;
  return {
    viewer: () => (viewer ??= authenticate()),
    conversations: gateway.conversations,
    agents: gateway.agents,
    metrics: gateway.metrics,
  };
}

/** The bearer value from graphql-ws connectionParams, whatever the key's case (GraphiQL sends "Authorization"). */
export function authorizationFrom(connectionParams: Readonly<Record<string, unknown>> | undefined): unknown {
  const key = Object.keys(connectionParams ?? {}).find((name) => name.toLowerCase() === 'authorization');
  return key === undefined ? undefined : connectionParams?.[key];
}

/**
 * The context of a WebSocket's operations, made once per socket: its caller is known from
 * connection_init, and its subscriptions share it rather than each holding one.
 */
export class SocketContext implements GraphQLContext {
  readonly conversations: GraphQLContext['conversations'];
  readonly agents: GraphQLContext['agents'];
  readonly metrics: GraphQLContext['metrics'];
  private readonly principal: Promise<Principal>;

  constructor(gateway: Gateway, principal: Principal) {
    this.conversations = gateway.conversations;
    this.agents = gateway.agents;
    this.metrics = gateway.metrics;
    this.principal = Promise.resolve(principal);
  }

  viewer(): Promise<Principal> {
    return this.principal;
  }
}
