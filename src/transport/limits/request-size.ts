/**
 * A bound on request bodies, checked before a byte of the body is read: a 19 MiB body of
 * aliases costs tens of milliseconds just to be read and parsed as JSON, however quickly the
 * operation limits refuse it afterwards. The declared length is what is checked, so a body
 * without one (chunked) is refused too; every GraphQL client sends the length.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers 413 (or 411) and returns true when the request's body may not be read. */
export function refuseUnboundedBody(request: IncomingMessage, response: ServerResponse, maxBytes: number): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return false;
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) <= maxBytes) return false;
  const [status, error] =
    declared === undefined ? [411, 'Send the body with a Content-Length.'] : [413, `The body is over ${maxBytes} bytes (MAX_REQUEST_BYTES).`];
  // The rest of the body is not read: the connection is closed once the answer is out.
  response.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  response.end(JSON.stringify({ errors: [{ message: error, extensions: { code: 'BAD_USER_INPUT' } }] }), () => request.socket.destroy());
  return true;
}
