/**
 * The floor: a raw `ws` broadcast server. A client connects to /?conversation=<id>; each event is
 * serialized once, as the same graphql-ws "next" frame the others send, and written to every
 * socket of its conversation. Nothing less can deliver the same bytes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { benchEvent } from '../event.ts';
import { serveBench } from './common.ts';

const sockets = new Map<string, Set<WebSocket>>();
const httpServer = createServer();
const wsServer = new WebSocketServer({ server: httpServer });
wsServer.on('connection', (socket, request) => {
  const conversationId = new URL(request.url ?? '/', 'http://localhost').searchParams.get('conversation') ?? '';
  let set = sockets.get(conversationId);
  if (!set) sockets.set(conversationId, (set = new Set()));
  set.add(socket);
  socket.once('close', () => set.delete(socket));
});
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));

serveBench({
  url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
  publish(conversationId, seq) {
    const frame = JSON.stringify({ id: '1', type: 'next', payload: { data: { agentEvents: benchEvent(conversationId, seq) } } });
    for (const socket of sockets.get(conversationId) ?? []) socket.send(frame);
  },
});
