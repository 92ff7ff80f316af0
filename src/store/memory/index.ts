import { MemoryEventLog } from './event-log.ts';
import type { RetentionPolicy } from '../event-log.ts';
import type { Backend } from '../interfaces.ts';
import { MemoryControlChannel } from './control.ts';
import { MemoryConversationStore } from './conversations.ts';
import { fencedLog } from './fenced-event-log.ts';
import { MemoryRunLeases } from './leases.ts';
import { MemoryLockService } from './locks.ts';
import { MemoryRateLimiter } from './rate-limiter.ts';
import { MemoryMessageStore } from './messages.ts';
import { MemoryRunQueue, MemoryRunStore } from './runs.ts';
import { MemorySendStore } from './sends.ts';
import { MemoryInputRequestStore } from './inputs.ts';

export interface MemoryBackendOptions {
  /** How long a settled clientMessageId is remembered (IDEMPOTENCY_TTL_MS). */
  idempotencyTtlMs: number;
}

/** The embedded default: all state in this process, holding the same contract as Redis. */
export function createMemoryBackend(retention: RetentionPolicy, options: MemoryBackendOptions): Backend {
  const state = {
    conversations: new MemoryConversationStore(),
    messages: new MemoryMessageStore(),
    runs: new MemoryRunStore(),
    runQueue: new MemoryRunQueue(),
    leases: new MemoryRunLeases(),
    events: new MemoryEventLog(retention),
  };
  return {
    kind: 'memory',
    ...state,
    events: fencedLog(state.events, state.leases),
    sends: new MemorySendStore(state, options.idempotencyTtlMs),
    inputs: new MemoryInputRequestStore(state),
    locks: new MemoryLockService(),
    rateLimiter: new MemoryRateLimiter(),
    control: new MemoryControlChannel(),
    ping: async () => undefined,
    close: async () => undefined,
  };
}
