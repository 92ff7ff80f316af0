import type { CompletedRun, RunCompletion } from '../interfaces.ts';
import { LeaseLostError } from '../event-log.ts';
import { allowedFrom } from '../../domain/run-states.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { CONVERSATION_LUA } from './conversations.ts';
import { bodyOf } from './event-channel.ts';
import { APPEND_LUA, type AppendedAt, type RedisEventLog } from './event-log.ts';
import { LEASE_LUA, type RedisRunLeases } from './leases.ts';
import { MESSAGE_LUA, unnumberedJson, type RedisMessageStore } from './messages.ts';
import { decode, encode, luaStatusSet, RUN_LUA, type RedisRunQueue, type RedisRunStore } from './runs.ts';
import { floorArgs } from './seq-floors.ts';

/**
 * Completing a run in one round trip, on one Redis, where the run, its conversation's log,
 * messages, hash and queue, and the leases are all within one script's reach (see `inReach` in
 * ./keys.ts).
 *
 * The executor's long way is four writes one after the other: the run's last streamed text
 * (what waited for the append window when the agent finished) is appended, the run moves to
 * COMPLETED, its AgentCompleted is appended (storing the reply), then the conversation is
 * touched, the run leaves its queue and lets go of its lease (together). The script does all of
 * it in one atomic step, after the two checks the long way makes: the append's fence (the lease
 * still at the executor's epoch) and the move's (the run's status one the executor may complete
 * from). Either failing, it changes nothing.
 *
 * KEYS: the log's stream, counter, the lease epochs (its fence), the log's epoch, the
 * conversation's messages, the reply by id, the run, the conversation, its queue, then the
 * leases' set, holders and epoch counter.
 * ARGV: max length, max age ms, channel, run id, lease epoch, the epoch and seq of this
 * process's previous append to the log (or '' and 0), the reply's JSON up to its seq, the
 * AgentCompleted's body, the holder, the reply's time and its score (ms), n, the bodies of the
 * n streamed events before it, then the run's fields to set.
 * Returns nil when fenced off, {'stopped'} when the status had moved on, else {first seq,
 * timestamp ms, log epoch, runs left in the queue, the run's hash}.
 */
const COMPLETE = new LuaScript(`${APPEND_LUA}${MESSAGE_LUA}${CONVERSATION_LUA}${RUN_LUA}${LEASE_LUA}
local COMPLETABLE = ${luaStatusSet(allowedFrom('executor', 'COMPLETED'))}
if fencedOff(KEYS[3], ARGV[4], ARGV[5]) then return nil end
if not COMPLETABLE[redis.call('HGET', KEYS[7], 'status')] then return {'stopped'} end
local streamed = tonumber(ARGV[13])
redis.call('HSET', KEYS[7], unpack(ARGV, 14 + streamed))
local bodies = {unpack(ARGV, 14, 13 + streamed)}
bodies[streamed + 1] = ARGV[9]
local first, now, epoch = appendEvents(KEYS[1], KEYS[2], KEYS[4], bodies, ARGV[1], ARGV[2], ARGV[3], '', ARGV[6], ARGV[7])
local replySeq = first + streamed
addMessage(KEYS[6], KEYS[5], ARGV[8] .. replySeq .. '}', replySeq)
touchConversation(KEYS[8], '1', ARGV[11], ARGV[12], '')
local left = leaveQueue(KEYS[9], ARGV[4])
releaseLease(KEYS[10], KEYS[11], KEYS[3], KEYS[12], ARGV[4], ARGV[10])
return {first, now, epoch, left, redis.call('HGETALL', KEYS[7])}
`);

/** What the script answers (see above). */
type CompletionReply = [...AppendedAt, runsLeft: number, run: Reply] | ['stopped'] | null;

export interface RedisCompletionStores {
  events: RedisEventLog;
  messages: RedisMessageStore;
  runs: RedisRunStore;
  runQueue: RedisRunQueue;
  leases: RedisRunLeases;
}

export class RedisRunCompletion {
  constructor(
    private readonly redis: RedisConnection,
    private readonly stores: RedisCompletionStores,
  ) {
    if (!redis.keys.inReach) throw new Error('a run completes in one script only where its conversation and the leases are within its reach (one Redis)');
  }

  async complete({ run, patch, event, streamed, leaseEpoch, holder }: RunCompletion): Promise<CompletedRun | null> {
    const { events, messages, runs, runQueue, leases } = this.stores;
    const { conversationId } = run;
    const { message } = event;
    const [set, info, epochs, counter] = leases.keys;
    const [replyKey, messagesKey] = messages.keys(message);
    const [body, maxLen, maxAgeMs, channel] = events.appendArgs(event);
    const keys = [
      ...events.appendKeys(conversationId),
      epochs,
      events.epochKey(conversationId),
      messagesKey,
      replyKey,
      runs.keys(run)[0],
      this.redis.conversationKey(conversationId),
      runQueue.queue(conversationId),
      set,
      info,
      counter,
    ];
    const answer: { reply?: CompletionReply } = {};
    const stored = await events.appendThrough([...streamed, event], async (floor) => {
      const reply = await this.redis.eval<CompletionReply>(COMPLETE, keys, [
        maxLen,
        maxAgeMs,
        channel,
        run.id,
        leaseEpoch,
        ...floorArgs(floor),
        unnumberedJson(message),
        body,
        holder,
        message.createdAt,
        Date.parse(message.createdAt),
        streamed.length,
        ...streamed.map(bodyOf),
        ...encode({ ...patch, status: 'COMPLETED' }),
      ]);
      answer.reply = reply;
      if (reply === null) throw new LeaseLostError(run.id);
      return reply[0] === 'stopped' ? null : [reply[0], reply[1], reply[2]];
    });
    if (stored === null) return null; // stopped by someone else first
    const [, , , left, hash] = answer.reply as [...AppendedAt, number, Reply];
    const completed = decode(hash);
    if (completed === null) throw new Error(`run ${run.id} vanished as it completed`);
    return { run: completed, streamed: stored.slice(0, -1), event: stored.at(-1)!, runsLeft: Number(left) > 0 };
  }
}
