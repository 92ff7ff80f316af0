/**
 * /healthz, /readyz and /metrics, as every process serves them, gateway or worker: alive; ready
 * while its backend answers and it is not stopping; its metrics in Prometheus' text format.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface ProbeSources {
  /** Resolves when every backing service answers. */
  ping(): Promise<void>;
  /** True once the process has begun to stop: it is then no longer ready. */
  isStopping(): boolean;
  metrics: Registry;
  logger: Logger;
}

/** Answers a probe path and returns true, or returns false for any other path. */
export type Probes = (path: string, response: ServerResponse) => Promise<boolean>;

export function createProbes(sources: ProbeSources): Probes {
  return async function probe(path: string, response: ServerResponse): Promise<boolean> {
    if (path === '/healthz') return sendJson(response, 200, { status: 'ok' });
    if (path === '/readyz') {
      if (sources.isStopping()) return sendJson(response, 503, { status: 'stopping' });
      try {
        await sources.ping();
        return sendJson(response, 200, { status: 'ready' });
      } catch (error) {
        return sendJson(response, 503, { status: 'unavailable', reason: error instanceof Error ? error.message : String(error) });
      }
    }
    if (path === '/metrics') {
      try {
        const text = await sources.metrics.metrics();
        response.writeHead(200, { 'content-type': sources.metrics.contentType });
        response.end(text);
      } catch (error) {
        sources.logger.error({ err: error }, 'collecting metrics failed');
        sendJson(response, 500, { error: 'metrics failed' });
      }
      return true;
    }
    return false;
  };
}

export function sendJson(response: ServerResponse, status: number, body: unknown): true {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
  return true;
}
