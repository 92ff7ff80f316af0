/**
 * A pool of subscriber connections in a process of its own (so that the servers' CPU time is
 * theirs alone): graphql-ws by hand on a bare `ws` (what any client sends), or the floor's plain
 * socket. It counts delivered events, and records each one's latency when asked to, with its
 * publish time, so that outliers can be placed in time (one event late for every subscriber, or
 * one pool late for several events in a row).
 */
import WebSocket from 'ws';
import { publishedAt, SUBSCRIPTION, wallClockMs } from './event.ts';
import { serveRequests } from './ipc.ts';

interface OpenArgs {
  url: string;
  protocol: 'graphql-ws' | 'floor';
  token?: string;
  /** One connection per entry, subscribed to that conversation. */
  conversationIds: string[];
}

const connections: { socket: WebSocket; received: number }[] = [];
let received = 0;
/** [publish time, latency] in ms, per delivered event, while recording. */
let latencies: [number, number][] | null = null;
let target: { count: number; reached: () => void } | null = null;
/** Events received per conversation since the last reset, and who waits for a count of them. */
const byConversation = new Map<string, number>();
const conversationTargets = new Map<string, { count: number; reached: () => void }>();

function open(args: OpenArgs, conversationId: string): Promise<void> {
  const graphqlWs = args.protocol === 'graphql-ws';
  const url = graphqlWs ? args.url : `${args.url}/?conversation=${encodeURIComponent(conversationId)}`;
  const socket = new WebSocket(url, graphqlWs ? 'graphql-transport-ws' : undefined, { perMessageDeflate: false });
  const connection = { socket, received: 0 };
  connections.push(connection);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    socket.once('open', () => {
      if (!graphqlWs) return resolve();
      socket.send(JSON.stringify({ type: 'connection_init', payload: args.token ? { authorization: `Bearer ${args.token}` } : {} }));
    });
    socket.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('{"type":"connection_ack"')) {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { conversationId } } }));
        return resolve();
      }
      if (frame.includes('"type":"ping"')) return socket.send('{"type":"pong"}');
      if (!frame.includes('"agentEvents"')) return console.error('unexpected frame', frame.slice(0, 300));
      connection.received += 1;
      received += 1;
      const ofConversation = (byConversation.get(conversationId) ?? 0) + 1;
      byConversation.set(conversationId, ofConversation);
      const waiter = conversationTargets.get(conversationId);
      if (waiter && ofConversation >= waiter.count) waiter.reached();
      if (latencies) {
        const now = wallClockMs();
        const at = publishedAt(frame);
        latencies.push([at, now - at]);
      }
      if (target && received >= target.count) target.reached();
    });
  });
}

serveRequests({
  /** Opens the connections, a few hundred at a time. */
  async open(args: OpenArgs) {
    for (let start = 0; start < args.conversationIds.length; start += 200) {
      await Promise.all(args.conversationIds.slice(start, start + 200).map((id) => open(args, id)));
    }
  },
  /** How many connections have received at least one event since the last reset. */
  listening: () => connections.filter((connection) => connection.received > 0).length,
  reset(args: { latency?: boolean }) {
    received = 0;
    byConversation.clear();
    for (const connection of connections) connection.received = 0;
    latencies = args.latency ? [] : null;
  },
  /** Resolves once `count` events have arrived since the last reset. */
  until(args: { count: number }) {
    if (received >= args.count) return received;
    return new Promise((resolve) => (target = { count: args.count, reached: () => ((target = null), resolve(received)) }));
  },
  /** Resolves once the conversation's connections have received `count` events since the last reset. */
  untilConversation(args: { conversationId: string; count: number }) {
    if ((byConversation.get(args.conversationId) ?? 0) >= args.count) return args.count;
    return new Promise((resolve) =>
      conversationTargets.set(args.conversationId, {
        count: args.count,
        reached: () => (conversationTargets.delete(args.conversationId), resolve(args.count)),
      }),
    );
  },
  latencies: () => latencies ?? [],
  close() {
    for (const { socket } of connections) socket.terminate();
    connections.length = 0;
  },
});
