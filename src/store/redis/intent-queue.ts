/**
 * The intent queue on one Redis Stream (`intents`) with one consumer group (`workers`): XADD to
 * append, XREADGROUP to claim new entries, XAUTOCLAIM to take over entries a dead worker claimed
 * and never acknowledged, XACK + XDEL to acknowledge (so that XLEN counts outstanding intents).
 *
 * The group is created on first use (from the start of the stream, so that intents appended
 * before any worker ever ran are delivered) and again should Redis have lost it. Claims block on
 * a connection of their own, made on first claim: only workers claim, and a blocking read must
 * not hold up the process's other commands.
 */
import { ErrorReply } from '@redis/client';
import type { ClaimedIntent, IntentQueue, QueuedIntent } from '../interfaces.ts';
import { LuaScript, pairs, unavailable, type RedisConnection, type Reply } from './connection.ts';
import { NO_REPLY, replyWithin } from './reply-within.ts';
import type { BlockingLink } from './link.ts';

const GROUP = 'workers';

/** KEYS: stream. ARGV: group, entry id. */
const ACK = new LuaScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
`);

/** KEYS: stream. ARGV: group, consumer. Deletes the consumer unless it has entries pending. */
const RETIRE = new LuaScript(`
local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if type(pending) ~= 'table' or pending.err or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/** How much longer than its BLOCK time a claim may take before it counts as unanswered. */
const CLAIM_GRACE_MS = 5000;

export class RedisIntentQueue implements IntentQueue {
  private readonly stream: string;
  private blocking: BlockingLink | null = null;
  private connectedOnce = false;
  private closed = false;

  constructor(private readonly redis: RedisConnection) {
    this.stream = redis.keys.intents;
  }

  async append(intent: QueuedIntent) {
    await this.redis.command(['XADD', this.stream, '*', 'runId', intent.runId, 'conversationId', intent.conversationId]);
  }

  async claim(consumer: string, count: number, blockMs: number) {
    if (count <= 0) return [];
    const reply = await this.inGroup(() =>
      this.blockingCommand(['XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.stream, '>'], blockMs),
    );
    // [[stream, [[id, [field, value, …]], …]]], or null when nothing came.
    const streams = Array.isArray(reply) ? reply : [];
    return streams.flatMap((entry) => (Array.isArray(entry) ? entries(entry[1] ?? null) : []));
  }

  async reclaimIdle(consumer: string, minIdleMs: number, count: number) {
    if (count <= 0) return [];
    const reply = await this.inGroup(() => this.redis.command(['XAUTOCLAIM', this.stream, GROUP, consumer, minIdleMs, '0-0', 'COUNT', count]));
    // [next cursor, [[id, [field, value, …]], …], [deleted ids]]
    return Array.isArray(reply) ? entries(reply[1] ?? null) : [];
  }

  async ack(entryId: string) {
    await this.redis.eval(ACK, [this.stream], [GROUP, entryId]);
  }

  async outstanding() {
    return Number(await this.redis.command(['XLEN', this.stream]));
  }

  async retire(consumer: string) {
    await this.redis.eval(RETIRE, [this.stream], [GROUP, consumer]);
  }

  close(): void {
    this.closed = true;
    // Nothing is under way on it by now (its only user, a worker's claim loop, has stopped).
    this.blocking?.destroy();
    this.blocking = null;
  }

  /** Runs `command`, creating the consumer group first when Redis does not know it. */
  private async inGroup(command: () => Promise<Reply>): Promise<Reply> {
    try {
      return await command();
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOGROUP')) throw error;
      await this.redis.command(['XGROUP', 'CREATE', this.stream, GROUP, '0', 'MKSTREAM'], this.stream).catch((cause: unknown) => {
        if (!(cause instanceof ErrorReply) || !cause.message.startsWith('BUSYGROUP')) throw cause;
      });
      return command();
    }
  }

  /** A command on the blocking connection, failing fast (SERVICE_UNAVAILABLE) while it is not connected. */
  private async blockingCommand(args: (string | number)[], blockMs: number): Promise<Reply> {
    const client = this.blockingClient();
    // A connection still opening for the first time gets as long as a reply would: a loaded
    // machine can take longer than a short block to connect. One that was open and is lost fails
    // once the block is over, so that a worker soon notices Redis is away.
    if (!client.isReady) await client.whenReady(this.connectedOnce ? blockMs : blockMs + CLAIM_GRACE_MS);
    if (!client.isReady) throw unavailable(new Error('not connected'));
    this.connectedOnce = true;
    const waitMs = blockMs + CLAIM_GRACE_MS;
    let reply: Reply | typeof NO_REPLY;
    try {
      reply = await replyWithin(client.send<Reply>(this.stream, args.map(String)), waitMs);
    } catch (error) {
      throw unavailable(error);
    }
    if (reply !== NO_REPLY) return reply;
    // As for any command with no reply (RedisConnection.command): this connection has its own
    // map of a cluster's slots, which must move off a hung primary too.
    await client.noReply();
    throw unavailable(new Error(`no reply within ${waitMs} ms`));
  }

  private blockingClient(): BlockingLink {
    if (this.blocking) return this.blocking;
    if (this.closed) throw unavailable(new Error('closed'));
    this.blocking = this.redis.blocking();
    return this.blocking;
  }
}

/** Decodes stream entries ([[id, [field, value, …]], …]); entries deleted meanwhile come without fields. */
function entries(reply: Reply): ClaimedIntent[] {
  if (!Array.isArray(reply)) return [];
  const out: ClaimedIntent[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry) || !Array.isArray(entry[1])) continue;
    const fields = pairs(entry[1]);
    if (fields['runId'] === undefined || fields['conversationId'] === undefined) continue;
    out.push({ entryId: String(entry[0]), runId: fields['runId'], conversationId: fields['conversationId'] });
  }
  return out;
}
