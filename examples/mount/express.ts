/**
 * The gateway inside an Express application: its routes beside the application's own, on the
 * application's server and port. Run: `npx tsx examples/mount/express.ts` (PORT picks the port).
 */
import { createServer } from 'node:http';
import express from 'express';
import { createGatewayHandler } from 'agent-gateway';

const gateway = await createGatewayHandler({ webPage: false });

const app = express();
app.get('/hello', (_request, response) => {
  response.json({ hello: 'from the application' });
});
// Before any body parser: the gateway reads its requests' bodies itself.
app.use(gateway.handleRequest);

const server = createServer(app);
gateway.attach(server); // its WebSockets: /graphql (graphql-ws) and the older sockets
server.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`express app listening on http://127.0.0.1:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    server.close();
    await gateway.close({ graceMs: 10_000 }); // lets the runs executing here finish first
    process.exit(0);
  });
}
