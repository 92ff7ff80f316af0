/**
 * A store of record and a live layer composed into the Backend the planes use.
 *
 * Memory and Redis are each their own live layer: a send, an append with its fan-out, and the
 * fence check are one atomic step there, so their parts compose as they are (on a Redis Cluster
 * the Redis store keeps its fence in each conversation's slot, apart from the leases: it gives
 * `fences`, and its leases are recorded there as below). A store of record apart from its live
 * layer (PostgreSQL) needs three things more, given here:
 * - its appends are announced through the live layer's fan-out once they are durable (append,
 *   then notify: a subscriber never hears of an event the history does not have), and reads
 *   are served by the fan-out's hot tail when it holds them, by the history otherwise;
 * - a send's run gets its lease in the live layer right after the send is stored, and so does a
 *   run an answer resumes, once the answer is;
 * - fencing moves to the store of record: whenever a lease changes hands, the new holder is
 *   recorded there, and the epoch it answers is what appends are fenced with, checked in the
 *   append's own transaction. Runs the live layer has no lease for (it lost its data, or the
 *   sender died between storing a run and leasing it) are found in the store of record before
 *   every sweep and given leases that have run out, so that the sweep settles them as it settles
 *   the runs of a process that died.
 */
import type { Logger } from 'pino';
import type { StoredEvent } from '../domain/events.ts';
import type { EventLog, RecordLog } from './event-log.ts';
import type {
  Backend,
  EventFanout,
  InputRequestStore,
  LiveLayer,
  RateLimiter,
  RecordStore,
  ResumeLease,
  RunFences,
  RunLeases,
  SendStore,
} from './interfaces.ts';

/** Who holds a lease given to a run found without one: nobody, so that the next sweep claims it. */
const NOBODY = '-';
/** How many active runs a sweep looks at for a missing lease, oldest first. */
const ADOPT_BATCH = 1000;

export function composeBackend(record: RecordStore, live: LiveLayer, logger?: Logger): Backend {
  const history = record.events;
  let events: EventLog;
  let sends: SendStore = record.sends;
  let inputs: InputRequestStore = record.inputs;
  let fanout: EventFanout | null = null;
  if (isHistoryOnly(history)) {
    fanout = live.fanoutOf(history);
    const announce = (batch: readonly StoredEvent[]) =>
      // The events are durable already: a fan-out that fails loses no event, only its doorbell.
      fanout!.publish(batch).catch((error: unknown) => logger?.warn({ err: error }, 'could not announce appended events'));
    events = announcedLog(history, fanout, announce);
    sends = leasedSends(record.sends, live.leases, announce);
    inputs = leasedAnswers(record.inputs, live.leases, announce);
  } else {
    events = history;
  }
  if (!record.sends.countsRate) sends = rateCountedSends(sends, live.rateLimiter);
  return {
    kind: record.kind === live.kind ? record.kind : `${record.kind}+${live.kind}`,
    conversations: record.conversations,
    messages: record.messages,
    runs: record.runs,
    runQueue: record.runQueue,
    sends,
    inputs,
    events,
    leases: record.fences ? fencedLeases(live.leases, record.fences, record.activeRuns?.bind(record)) : live.leases,
    locks: live.locks,
    rateLimiter: live.rateLimiter,
    control: live.control,
    ...(live.intents && { intents: live.intents }),
    liveGeneration: () => live.generation(),
    async deleteConversation(id) {
      const runIds = await record.deleteConversation(id);
      if (runIds === null) return false;
      await fanout?.forget?.(id);
      // A run's executor, wherever it is, finds its lease gone: its next append is refused.
      await Promise.all(runIds.map((runId) => live.leases.release(runId, null)));
      return true;
    },
    async ping() {
      await Promise.all([record.ping(), live.ping()]);
    },
    async close() {
      await record.close();
      await live.close();
    },
  };
}

/**
 * Sends counted against their rate window through the live layer's rate limiter, just before
 * the store of record, which does not count them itself, stores them.
 */
function rateCountedSends(sends: SendStore, rateLimiter: RateLimiter): SendStore {
  return {
    countsRate: true,
    async commit({ rate, ...send }) {
      if (rate) {
        const verdict = await rateLimiter.hit(rate.key, rate.limit, rate.windowMs);
        if (!verdict.allowed) return { outcome: 'rate-limited', retryAfterMs: verdict.retryAfterMs };
      }
      return sends.commit(send);
    },
  };
}

function isHistoryOnly(events: RecordLog | EventLog): events is RecordLog {
  return !('listen' in events);
}

/** The history, each batch announced once it is stored; listening is the fan-out's. */
function announcedLog(history: RecordLog, fanout: EventFanout, announce: (batch: readonly StoredEvent[]) => Promise<void>): EventLog {
  const appendBatch: EventLog['appendBatch'] = async (batch, leaseEpoch) => {
    const stored = await history.appendBatch(batch, leaseEpoch);
    await announce(stored);
    return stored;
  };
  return {
    append: async (event, leaseEpoch) => (await appendBatch([event], leaseEpoch))[0]!,
    appendBatch,
    read: async (conversationId, afterSeq, limit) => (await fanout.recent?.(conversationId, afterSeq, limit)) ?? history.read(conversationId, afterSeq, limit),
    lastSeq: (conversationId) => history.lastSeq(conversationId),
    listen: (conversationId, listener) => fanout.listen(conversationId, listener),
  };
}

/** Sends stored in the record, then leased and announced in the live layer. */
function leasedSends(sends: SendStore, leases: RunLeases, announce: (batch: readonly StoredEvent[]) => Promise<void>): SendStore {
  return {
    async commit(send) {
      const outcome = await sends.commit(send);
      if (outcome.outcome === 'stored') {
        // Only if it has none: a sweep may have found the run meanwhile and started it.
        await leases.adopt([{ runId: send.run.id, conversationId: send.run.conversationId }], send.lease.holder, send.lease.ttlMs);
        await announce([outcome.event]);
      }
      return outcome;
    },
  };
}

/** Answers stored in the record, then announced, and the run an answer resumes leased, in the live layer. */
function leasedAnswers(inputs: InputRequestStore, leases: RunLeases, announce: (batch: readonly StoredEvent[]) => Promise<void>): InputRequestStore {
  const lease = async (run: { id: string; conversationId: string }, { holder, ttlMs }: ResumeLease) =>
    leases.adopt([{ runId: run.id, conversationId: run.conversationId }], holder, ttlMs);
  return {
    open: (request) => inputs.open(request),
    get: (id) => inputs.get(id),
    pending: (conversationId) => inputs.pending(conversationId),
    async answer(id, response, resumeLease) {
      const outcome = await inputs.answer(id, response, resumeLease);
      if (outcome.outcome === 'answered') {
        if (outcome.resumed) await lease({ id: outcome.request.runId, conversationId: outcome.request.conversationId }, resumeLease);
        await announce([outcome.event]);
      }
      return outcome;
    },
    async resumeIfAnswered(runId, resumeLease) {
      const resumed = await inputs.resumeIfAnswered(runId, resumeLease);
      if (resumed) await lease(resumed, resumeLease);
      return resumed;
    },
    close: (runId, conversationId, status, requestId) => inputs.close(runId, conversationId, status, requestId),
    claimDue: (ttlMs, limit) => inputs.claimDue(ttlMs, limit),
  };
}

/**
 * The live layer's leases, with their change of hands recorded in the store of record (whose
 * epoch is then the lease's), and the active runs that have no lease adopted before a claim.
 * Each change of hands is recorded after the lease moved, by whoever moved it, so two of them
 * (a holder letting go while another instance takes the run, a sweep claiming while another
 * starts it) may be recorded out of order: the lease's own epoch, drawn as it moved, tells the
 * store of record which came last, and the one that came before changes nothing there.
 */
function fencedLeases(leases: RunLeases, fences: RunFences, activeRuns?: RecordStore['activeRuns']): RunLeases {
  return {
    async acquire(runId, conversationId, holder, ttlMs) {
      const handover = await leases.acquire(runId, conversationId, holder, ttlMs);
      return fences.fence(runId, holder, handover);
    },
    renew: (runId, holder, ttlMs) => leases.renew(runId, holder, ttlMs),
    async release(runId, holder) {
      // Nobody holds the run now: appends fenced with any epoch given so far are refused.
      const handover = await leases.release(runId, holder);
      return handover > 0 ? fences.fence(runId, NOBODY, handover) : 0;
    },
    async claimExpired(holder, ttlMs, limit) {
      if (activeRuns) {
        const active = await activeRuns(ADOPT_BATCH);
        await leases.adopt(
          active.map((run) => ({ runId: run.id, conversationId: run.conversationId })),
          NOBODY,
          0,
        );
      }
      const claimed = await leases.claimExpired(holder, ttlMs, limit);
      // Before anyone acts on a claim, the old holder's appends are refused.
      return Promise.all(claimed.map(async (lease) => ({ ...lease, epoch: await fences.fence(lease.runId, holder, lease.epoch) })));
    },
    adopt: (runs, holder, ttlMs) => leases.adopt(runs, holder, ttlMs),
  };
}
