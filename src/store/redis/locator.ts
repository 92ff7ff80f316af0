import { LRUCache } from 'lru-cache';
import type { RecordKind } from './keys.ts';
import type { RedisConnection } from './connection.ts';

/** How many records' conversations a process remembers (a few MB at most). */
const REMEMBERED = 10_000;

/**
 * Finds the conversation of a run, a message or an input request from its id alone.
 *
 * On a cluster a record lives under its conversation's tag (see ./keys.ts), and its index
 * (`run:<id>`…, the conversation's id) is written once, before the script that stores the record:
 * so an index may name a conversation where the record never came (its send was refused, or
 * its sender died in between), and a reader then finds no record, as for an unknown id; but a
 * stored record always has its index. A record never moves, so what a process learnt (it
 * stored the record, or looked it up) is remembered, and a transition of a run this process
 * started costs no look-up.
 *
 * On one Redis records are found by id alone: there is nothing to look up (the conversation
 * is '', which names nothing there).
 */
export class RedisLocator {
  private readonly known = new LRUCache<string, string>({ max: REMEMBERED });

  constructor(private readonly redis: RedisConnection) {}

  /** The conversation of the record `id`, or null when there is no such record. */
  async where(kind: RecordKind, id: string): Promise<string | null> {
    if (this.redis.keys.inReach) return '';
    const remembered = this.known.get(`${kind}:${id}`);
    if (remembered !== undefined) return remembered;
    const conversationId = await this.redis.command<string | null>(['GET', this.redis.keys.recordIndex(kind, id)]);
    if (conversationId !== null) this.known.set(`${kind}:${id}`, conversationId);
    return conversationId;
  }

  /** Writes the index of a record about to be stored (on a cluster; nothing to do on one Redis). */
  async index(kind: RecordKind, id: string, conversationId: string): Promise<void> {
    if (this.redis.keys.inReach) return;
    await this.redis.command(['SET', this.redis.keys.recordIndex(kind, id), conversationId]);
    this.known.set(`${kind}:${id}`, conversationId);
  }

  /** Drops the indexes of records that are gone (their conversation was deleted). */
  async forget(kind: RecordKind, ids: readonly string[]): Promise<void> {
    if (this.redis.keys.inReach) return;
    for (const id of ids) this.known.delete(`${kind}:${id}`);
    // One key per call: each index is in the slot of its own name.
    await Promise.all(ids.map((id) => this.redis.command(['DEL', this.redis.keys.recordIndex(kind, id)])));
  }
}
