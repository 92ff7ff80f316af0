/**
 * Several real gateway processes on one Redis, as production would run them: each started with
 * `node --import tsx src/start-gateway.ts` on port 0, found at the URL it announces, and awaited
 * until it is ready.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnGateway, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';
import { TEST_SECRET } from '../support/server.ts';

export interface Instance {
  name: string;
  url: string;
  process: ServerProcess;
}

/** Test-friendly settings shared by every instance of a cluster; per-instance ones go on top. */
export function clusterEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    AUTH_JWT_SECRET: TEST_SECRET,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `multi-${randomUUID()}:`,
    AGENT_STEP_DELAY_MS: '0',
    SEND_RATE_LIMIT: '100000',
    // Survivors notice a lost instance within about two seconds.
    RUN_LEASE_MS: '1500',
    RUN_SWEEP_INTERVAL_MS: '200',
    // …and a lock held by an instance that died frees within a second.
    REDIS_LOCK_TTL_MS: '1000',
    // At least info: each process announces the URL it listens on in its log.
    LOG_LEVEL: process.env['MULTI_LOG_LEVEL'] ?? 'info',
    ...overrides,
  };
}

export interface StartOptions {
  /** The process entry (default `src/start-gateway.ts`, a gateway; `src/start-worker.ts` starts a worker). */
  entry?: string;
  /** The variable that takes the port it serves /healthz and /readyz on (default PORT). */
  portVariable?: string;
}

export async function startInstance(name: string, env: Record<string, string>, options: StartOptions = {}): Promise<Instance> {
  const process = spawnGateway({ ...env, [options.portVariable ?? 'PORT']: '0' }, options.entry);
  try {
    const url = await waitForAnnouncedUrl(process);
    await waitForReadiness(url, 200);
    return { name, url, process };
  } catch (error) {
    await process.kill();
    throw error;
  }
}

/** Polls /readyz until it answers `status` (bounded): readiness has no other signal to await. */
export async function waitForReadiness(url: string, status: 200 | 503, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last: number;
  for (;;) {
    try {
      last = (await fetch(`${url}/readyz`)).status;
      if (last === status) return;
    } catch {
      last = -1;
    }
    if (Date.now() > deadline) throw new Error(`${url}/readyz still answered ${last}, not ${status}, after ${deadlineMs} ms`);
    await delay(25);
  }
}

export const CANCEL = /* GraphQL */ `
  mutation Cancel($runId: ID!) {
    cancelAgentRun(runId: $runId) {
      id
      status
    }
  }
`;

export const CONVERSATION = /* GraphQL */ `
  query Conversation($id: ID!) {
    conversation(id: $id) {
      id
      title
      lastSeq
      messages(last: 100) {
        id
        role
        text
        seq
        runId
        agentId
      }
      runs(last: 100) {
        id
        status
        agentId
        userMessageId
        error {
          code
          retryable
        }
      }
      activeRun {
        id
      }
      events(afterSeq: 0, first: 1000) {
        __typename
        seq
        runId
      }
    }
  }
`;

export const CONVERSATIONS = /* GraphQL */ `
  query Conversations {
    conversations(first: 50) {
      id
    }
  }
`;

export const RUN = /* GraphQL */ `
  query Run($id: ID!) {
    run(id: $id) {
      id
      status
      error {
        code
        retryable
      }
    }
  }
`;
