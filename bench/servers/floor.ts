/**
 * The floor: a raw `ws` broadcast server. A client connects to /?conversation=<id>; each event is
 * serialized once, as the same graphql-ws "next" frame the others send, and written to every
 * socket of its conversation. Nothing less can deliver the same bytes.
 *
 * For the runs benchmark, `POST /run` with `{conversationId, tokens}` answers at once and then
 * streams that run's events (event.ts's streamRun): the least a server can do per send.
 *
 * With REDIS_URL, the Redis floor: each frame goes through Redis pub/sub first (PUBLISH on the
 * conversation's channel, received on a subscriber connection, then broadcast), the one round
 * trip that any fan-out across instances through Redis pays. Nothing less can deliver an event
 * published on another instance.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { WebSocketServer, type WebSocket } from 'ws';
import { benchEvent, streamRun, type BenchEvent } from '../event.ts';
import { serveBench } from './common.ts';

const sockets = new Map<string, Set<WebSocket>>();
/** How a run's events go out: straight to the sockets, or through Redis first (set below). */
let publishRunEvent = (conversationId: string, event: BenchEvent): unknown => broadcast(conversationId, frameFor(event));
const httpServer = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    const { conversationId, tokens } = JSON.parse(body) as { conversationId: string; tokens: number };
    response.end('{"ok":true}');
    void streamRun(conversationId, tokens, (event) => publishRunEvent(conversationId, event));
  });
});
const wsServer = new WebSocketServer({ server: httpServer });
wsServer.on('connection', (socket, request) => {
  const conversationId = new URL(request.url ?? '/', 'http://localhost').searchParams.get('conversation') ?? '';
  let set = sockets.get(conversationId);
  if (!set) sockets.set(conversationId, (set = new Set()));
  set.add(socket);
  socket.once('close', () => set.delete(socket));
});
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));

function broadcast(conversationId: string, frame: string): void {
  for (const socket of sockets.get(conversationId) ?? []) socket.send(frame);
}

const frameFor = (event: BenchEvent) => JSON.stringify({ id: '1', type: 'next', payload: { data: { agentEvents: event } } });
const frameOf = (conversationId: string, seq: number) => frameFor(benchEvent(conversationId, seq));

const url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
const redisUrl = process.env['REDIS_URL'];
if (redisUrl) {
  const publisher = createClient({ url: redisUrl });
  const subscriber = publisher.duplicate();
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const channel = (conversationId: string) => `floor-${process.pid}-${randomUUID()}:${conversationId}`;
  const channels = new Map<string, string>();
  publishRunEvent = (conversationId, event) => publisher.publish(channels.get(conversationId)!, frameFor(event));
  serveBench({
    url,
    async prepare(conversationIds) {
      for (const id of conversationIds.filter((each) => !channels.has(each))) {
        channels.set(id, channel(id));
        await subscriber.subscribe(channels.get(id)!, (frame) => broadcast(id, frame));
      }
    },
    publish: (conversationId, seq) => publisher.publish(channels.get(conversationId)!, frameOf(conversationId, seq)),
  });
} else {
  serveBench({ url, publish: (conversationId, seq) => broadcast(conversationId, frameOf(conversationId, seq)) });
}
