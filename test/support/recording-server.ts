/**
 * A local HTTP server standing in for an outside service (a model provider, a remote agent):
 * it records each request's JSON body, and notices when a client goes away before the response
 * ended, which is how a test sees that a cancel reached the outside.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest<Body> {
  body: Body;
  headers: IncomingHttpHeaders;
  /** Set when the client closed the request before the response ended. */
  aborted: boolean;
}

export interface RecordingServer<Body> {
  /** http://127.0.0.1:port */
  origin: string;
  requests: RecordedRequest<Body>[];
  /** Resolves with the next request whose client goes away before its response ended. */
  nextAbort(): Promise<RecordedRequest<Body>>;
  close(): Promise<void>;
}

export async function startRecordingServer<Body>(respond: (body: Body, response: ServerResponse) => Promise<void>): Promise<RecordingServer<Body>> {
  const requests: RecordedRequest<Body>[] = [];
  let abortWaiters: ((request: RecordedRequest<Body>) => void)[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      let raw = '';
      for await (const chunk of request) raw += chunk;
      const recorded: RecordedRequest<Body> = { body: JSON.parse(raw) as Body, headers: request.headers, aborted: false };
      requests.push(recorded);
      response.on('close', () => {
        if (response.writableFinished) return;
        recorded.aborted = true;
        const waiters = abortWaiters;
        abortWaiters = [];
        waiters.forEach((wake) => wake(recorded));
      });
      await respond(recorded.body, response);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    nextAbort: () => new Promise((resolve) => abortWaiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Yields to the event loop, as a real stream's chunks arrive apart. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));
