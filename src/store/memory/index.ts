import { MemoryEventLog } from './event-log.ts';
import type { RetentionPolicy } from '../event-log.ts';
import { composeBackend } from '../compose.ts';
import type { Backend, LiveLayer, RecordStore } from '../interfaces.ts';
import { MemoryControlChannel } from './control.ts';
import { MemoryConversationStore } from './conversations.ts';
import { MemoryRunLeases } from './leases.ts';
import { ConversationListeners } from './listeners.ts';
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
  const live = createMemoryLiveLayer();
  return composeBackend(createMemoryRecordStore(retention, options, live.leases), live);
}

/**
 * A store of record in this process. It is its own live layer's partner: a send leases its run,
 * and an append checks its fence, against `leases` without yielding in between.
 */
function createMemoryRecordStore(retention: RetentionPolicy, options: MemoryBackendOptions, leases: MemoryRunLeases): RecordStore {
  const runs = new MemoryRunStore();
  const messages = new MemoryMessageStore();
  const state = {
    conversations: new MemoryConversationStore(),
    messages,
    runs,
    runQueue: new MemoryRunQueue(runs),
    leases,
    events: new MemoryEventLog(retention, Date.now, leases, messages),
  };
  const sends = new MemorySendStore(state, options.idempotencyTtlMs);
  const inputs = new MemoryInputRequestStore(state);
  return {
    kind: 'memory',
    conversations: state.conversations,
    messages: state.messages,
    runs: state.runs,
    runQueue: state.runQueue,
    events: state.events,
    sends,
    inputs,
    async deleteConversation(id) {
      // Nothing yields in between: no send or append sees half of it.
      if (!state.conversations.deleteSync(id)) return null;
      state.messages.deleteConversationSync(id);
      state.runQueue.deleteConversationSync(id);
      state.events.deleteConversationSync(id);
      sends.forgetConversationSync(id);
      inputs.deleteConversationSync(id);
      return state.runs.deleteConversationSync(id);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
}

/**
 * The live layer in this process: for the embedded default, and for one instance whose store of
 * record is elsewhere (PostgreSQL without Redis).
 */
export function createMemoryLiveLayer(): LiveLayer & { leases: MemoryRunLeases } {
  return {
    kind: 'memory',
    leases: new MemoryRunLeases(),
    locks: new MemoryLockService(),
    rateLimiter: new MemoryRateLimiter(),
    control: new MemoryControlChannel(),
    // This process's state is lost only with the process.
    generation: async () => 'memory',
    fanoutOf() {
      const listeners = new ConversationListeners();
      return {
        async publish(batch) {
          for (const event of batch) listeners.deliver(event);
        },
        listen: (conversationId, listener) => listeners.listen(conversationId, listener),
      };
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
}
