import { randomUUID } from 'node:crypto';
import type { HeadStart } from '../interfaces.ts';
import { runQueueLock } from '../interfaces.ts';
import { allowedFrom } from '../../domain/run-states.ts';
import { runEvent } from '../../domain/events.ts';
import { withSeq } from '../event-log.ts';
import type { HistoryRead } from '../recent-messages.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { bodyOf, epochOfReply, type OwnAppend } from './event-channel.ts';
import { APPEND_LUA, type RedisEventLog } from './event-log.ts';
import { GENERATION_LUA } from './generation.ts';
import { LEASE_LUA, NOW, type RedisRunLeases } from './leases.ts';
import { HISTORY_LUA, type HistoryReplyJson, type RedisMessageStore } from './messages.ts';
import { decode, luaStatusSet, luaString } from './runs.ts';
import { floorArgs } from './seq-floors.ts';

/**
 * Starting a conversation's head run in one round trip, on one Redis, where its queue, the run,
 * its lease, the queue's lock, its conversation's log and messages are all within one script's
 * reach (see `inReach` in ./keys.ts).
 *
 * The scheduler's long way is five round trips one after the other: take the queue's lock, read
 * the head, take the head run's lease, move the run to RUNNING, let go of the lock. The script
 * does the same in one atomic step, and only when nobody holds the lock: a holder is part way
 * through its own steps (the long way, settling a run that ended in the queue, deleting the
 * conversation), which must not interleave with these. Then it changes nothing and says so. When
 * the head is not a run the scheduler may start, it changes nothing and answers the head as it
 * found it, as the long way would have read it under the lock that nobody held.
 *
 * A run it starts is also opened, as its executor would next in a round trip of its own: its
 * AgentStarted is appended (unless it started before: a resumed run has one), and its history
 * and the live generation are read (see Backend.startHead).
 *
 * KEYS: queue, the queue's lock, `acquireLease`'s four keys, then the log's stream, counter and
 * epoch, the conversation's messages and the generation key.
 * ARGV: run prefix, holder, conversation id, lease TTL ms, startedAt (JSON), for a run that has
 * never started; the message prefix, how many messages of history (0: none), the kept message's
 * seq and JSON (see `lastThrough`); the log's max length, max age ms and channel; a fresh
 * generation; the epoch and seq of this process's previous append to the log (or '' and 0: see
 * `appendEvent`).
 * Returns {'started', lease epoch, 1 when the run had started before (a resumed run), the run's
 * hash, the generation, the history (`lastThrough`'s reply, or false), then the AgentStarted's
 * seq, timestamp ms and log epoch (false for a resumed run)}, {'found', head run id, its hash
 * (empty when gone)}, {'found'} for an empty queue, or {'locked'}.
 */
const START_HEAD = new LuaScript(`${NOW}${LEASE_LUA}${APPEND_LUA}${HISTORY_LUA}${GENERATION_LUA}
local STARTABLE = ${luaStatusSet(allowedFrom('scheduler', 'RUNNING'))}
if redis.call('EXISTS', KEYS[2]) == 1 then return {'locked'} end
local id = redis.call('LINDEX', KEYS[1], 0)
if not id then return {'found'} end
local run = ARGV[1] .. id
if not STARTABLE[redis.call('HGET', run, 'status')] then return {'found', id, redis.call('HGETALL', run)} end
local startedAt = redis.call('HGET', run, 'startedAt')
local resumed = startedAt and startedAt ~= 'null'
local epoch = acquireLease(KEYS[3], KEYS[4], KEYS[5], KEYS[6], id, ARGV[3], ARGV[2], ARGV[4], now)
redis.call('HSET', run, 'status', ${JSON.stringify(JSON.stringify('RUNNING'))})
local seq, at, logEpoch = false, false, false
if not resumed then
  redis.call('HSET', run, 'startedAt', ARGV[5])
  local body = ${agentStartedBody("redis.call('HGET', run, 'id')", "redis.call('HGET', run, 'agentId')")}
  seq, at, logEpoch = appendEvent(KEYS[7], KEYS[8], KEYS[9], body, ARGV[10], ARGV[11], ARGV[12], ARGV[14], ARGV[15])
end
local generation = liveGeneration(KEYS[11], ARGV[13])
local history = false
if tonumber(ARGV[7]) > 0 then
  history = lastThrough(ARGV[6] .. cjson.decode(redis.call('HGET', run, 'userMessageId')), KEYS[10], ARGV[7], ARGV[8], ARGV[9])
end
return {'started', epoch, resumed and 1 or 0, redis.call('HGETALL', run), generation, history, seq, at, logEpoch}
`);

/**
 * A run's AgentStarted body (see `bodyOf`) as a Lua expression, from expressions of its run id
 * and agent id as the run hash holds them (their JSON): made from the event itself, so that it
 * is the body an append of the event would store.
 */
function agentStartedBody(runIdJson: string, agentIdJson: string): string {
  const [runMark, agentMark] = ['RUN_ID_MARK', 'AGENT_ID_MARK'];
  const body = bodyOf(runEvent({ type: 'AgentStarted' }, { conversationId: '', id: runMark }, agentMark));
  return body
    .split(JSON.stringify(runMark))
    .map((part) => part.split(JSON.stringify(agentMark)).map(luaString).join(` .. ${agentIdJson} .. `))
    .join(` .. ${runIdJson} .. `);
}

export interface RedisHeadStartStores {
  leases: RedisRunLeases;
  events: RedisEventLog;
  messages: RedisMessageStore;
}

export class RedisHeadStart {
  constructor(
    private readonly redis: RedisConnection,
    private readonly stores: RedisHeadStartStores,
  ) {
    if (!redis.keys.inReach)
      throw new Error("a head run starts in one script only where the queue's lock, the leases and its conversation are within its reach (one Redis)");
  }

  async start(conversationId: string, holder: string, leaseMs: number, startedAt: string, historyMessages: number): Promise<HeadStart> {
    const { keys } = this.redis;
    const { leases, events, messages } = this.stores;
    const planned = historyMessages > 0 ? messages.planHistory(conversationId, historyMessages) : null;
    const floor = events.floorOf(conversationId);
    const script = () =>
      this.redis.eval<Reply[]>(
        START_HEAD,
        [
          this.redis.conversationKey(conversationId, 'queue'),
          keys.lock(runQueueLock(conversationId)),
          ...leases.keys,
          ...events.appendKeys(conversationId),
          events.epochKey(conversationId),
          this.redis.conversationKey(conversationId, 'msgs'),
          keys.generation,
        ],
        [
          keys.recordPrefix('run', conversationId),
          holder,
          conversationId,
          leaseMs,
          JSON.stringify(startedAt),
          keys.recordPrefix('msg', conversationId),
          ...(planned ? messages.historyArgs(planned) : [0, '', '']),
          ...events.appendLimits(conversationId),
          randomUUID(),
          ...floorArgs(floor),
        ],
      );
    let result!: HeadStart;
    // Tracked as the log's own appends are, so that the AgentStarted reaches this process's
    // listeners as the event stored here, at the reply or at its notification.
    await events.channel.track(conversationId, async () => {
      const answered = this.resultOf(conversationId, await script(), planned);
      result = answered.result;
      return answered.own;
    });
    return result;
  }

  /** What the start answered, and the AgentStarted it stored (none for a resumed or refused start) as the log's own append. */
  private resultOf(conversationId: string, reply: Reply[], planned: HistoryRead | null): { result: HeadStart; own: OwnAppend } {
    const nothingStored = { events: [] };
    if (reply[0] === 'locked') return { result: { outcome: 'locked' }, own: nothingStored };
    if (reply[0] === 'found') {
      const head = reply.length === 1 ? null : { runId: String(reply[1]), run: decode(reply[2]!) };
      return { result: { outcome: 'found', head }, own: nothingStored };
    }
    const [, leaseEpoch, resumed, hash, generation, history, seq, at, logEpoch] = reply;
    const run = decode(hash!);
    if (run === null) throw new Error(`the head run of conversation ${conversationId} vanished while it started`);
    if (seq !== null) this.stores.events.recordFloor(conversationId, logEpoch!, Number(seq));
    const agentStarted = seq === null ? null : withSeq(runEvent({ type: 'AgentStarted' }, run, run.agentId), Number(seq), new Date(Number(at)).toISOString());
    const result: HeadStart = {
      outcome: 'started',
      started: {
        run,
        leaseEpoch: Number(leaseEpoch),
        resumed: Number(resumed) === 1,
        opened: {
          agentStarted,
          history: planned ? this.stores.messages.historyFrom(planned, history as HistoryReplyJson) : [],
          generation: String(generation),
        },
      },
    };
    return { result, own: agentStarted ? { events: [agentStarted], epoch: epochOfReply(logEpoch!) } : nothingStored };
  }
}
