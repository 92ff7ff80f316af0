/**
 * The gateway inside a Fastify application: its routes beside the application's own, on the
 * application's server and port. Run: `npx tsx examples/mount/fastify.ts` (PORT picks the port).
 */
import Fastify from 'fastify';
import { createGatewayHandler } from 'agent-gateway';

const gateway = await createGatewayHandler({ webPage: false });

const app = Fastify();
app.get('/hello', async () => ({ hello: 'from the application' }));

// The gateway's paths, in a scope of their own where Fastify leaves request bodies unread: the
// gateway reads and bounds them itself, and answers on the raw response.
await app.register(async (scope) => {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
  for (const url of ['/graphql', '/ag-ui', '/ag-ui/*', '/ai-sdk/*', '/healthz', '/readyz', '/metrics', '/auth/dev-token', '/limits']) {
    scope.all(url, (request, reply) => {
      reply.hijack();
      gateway.handleRequest(request.raw, reply.raw);
    });
  }
});
gateway.attach(app.server); // its WebSockets: /graphql (graphql-ws) and the older sockets

const url = await app.listen({ port: Number(process.env['PORT'] ?? 3000), host: '127.0.0.1' });
console.log(`fastify app listening on ${url}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await app.close();
    await gateway.close({ graceMs: 10_000 }); // lets the runs executing here finish first
    process.exit(0);
  });
}
