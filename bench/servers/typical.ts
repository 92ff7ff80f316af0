/**
 * The typical stack, as one would build it in an afternoon from the libraries' own guides:
 * graphql-yoga with graphql-ws on `ws`, and yoga's pub/sub over Redis
 * (@graphql-yoga/redis-event-target), one topic per conversation, no auth, no replay.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { benchEvent, streamRun, type BenchEvent } from '../event.ts';
import { serveBench } from './common.ts';

const redisUrl = process.env['REDIS_URL']!;
const pubSub = createPubSub<{ agentEvents: [conversationId: string, event: BenchEvent] }>({
  eventTarget: createRedisEventTarget({ publishClient: new Redis(redisUrl), subscribeClient: new Redis(redisUrl) }),
});

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query {
        ok: Boolean
      }
      type AgentToken {
        id: ID!
        seq: Int!
        conversationId: ID!
        runId: ID!
        agentId: ID
        timestamp: String!
        delta: String!
      }
      type Subscription {
        agentEvents(conversationId: ID!): AgentToken!
      }
      type Mutation {
        run(conversationId: ID!, tokens: Int!): Boolean!
      }
    `,
    resolvers: {
      Mutation: {
        // A send for the runs benchmark: answered at once, the run's events published as they come.
        run: (_: unknown, args: { conversationId: string; tokens: number }) => {
          void streamRun(args.conversationId, args.tokens, (event) => pubSub.publish('agentEvents', args.conversationId, event));
          return true;
        },
      },
      Subscription: {
        agentEvents: {
          subscribe: (_: unknown, args: { conversationId: string }) => pubSub.subscribe('agentEvents', args.conversationId),
          resolve: (event: BenchEvent) => event,
        },
      },
    },
  }),
  logging: false,
});

const httpServer = createServer(yoga);
const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
// The recipe from yoga's documentation for graphql-ws.
useServer(
  {
    execute: (args: any) => args.rootValue.execute(args),
    subscribe: (args: any) => args.rootValue.subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      const args = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      return errors.length ? errors : args;
    },
  },
  wsServer,
);
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));

serveBench({
  url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`,
  publish(conversationId, seq) {
    pubSub.publish('agentEvents', conversationId, benchEvent(conversationId, seq));
  },
});
