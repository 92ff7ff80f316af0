import type { RetentionPolicy } from '../event-log.ts';
import type { NewSend, SendOutcome, SendStore } from '../interfaces.ts';
import { sameOwner } from '../owner.ts';
import type { SendReservation } from '../../domain/records.ts';
import { PostgresConversationStore } from './conversations.ts';
import { PostgresEventLog } from './event-log.ts';
import { PostgresMessageStore } from './messages.ts';
import { PostgresRunQueue, PostgresRunStore } from './runs.ts';
import type { Sql } from './sql.ts';

/** A send that stores nothing: thrown inside its transaction, so that everything it did rolls back. */
class Refused extends Error {
  constructor(readonly outcome: SendOutcome) {
    super(outcome.outcome);
  }
}

/**
 * Sends, each in one transaction. It takes the idempotency key first (a concurrent send with
 * the same key, through any process, waits on it and then finds it taken), then locks the
 * conversation (so that the busy check and the send's place in the queue hold until commit),
 * and only then writes. The lease of `NewSend` is not stored: leases belong to the live layer.
 */
export class PostgresSendStore implements SendStore {
  /** @param keyTtlMs how long an idempotency key is remembered (IDEMPOTENCY_TTL_MS). */
  constructor(
    private readonly sql: Sql,
    private readonly retention: RetentionPolicy,
    private readonly keyTtlMs: number,
  ) {}

  async commit(send: NewSend): Promise<SendOutcome> {
    try {
      return await this.sql.transaction((tx) => this.store(tx, send));
    } catch (error) {
      if (error instanceof Refused) return error.outcome;
      throw error;
    }
  }

  private async store(tx: Sql, send: NewSend): Promise<SendOutcome> {
    const { idempotencyKey: key, conversation, message, run } = send;
    const conversations = new PostgresConversationStore(tx);
    if (key !== null) {
      const stored: SendReservation = { conversationId: conversation.id, messageId: message.id, runId: run.id };
      const first = await this.takeKey(tx, key, stored);
      if (first) throw new Refused({ outcome: 'repeated', stored: first });
    }
    const existing = await conversations.createLocked(conversation);
    if (!sameOwner(existing.owner, conversation.owner)) throw new Refused({ outcome: 'not-owner' });
    const runQueue = new PostgresRunQueue(tx);
    const activeRunIds = await runQueue.activeRunIds(conversation.id);
    if (activeRunIds.length >= send.maxActiveRuns) throw new Refused({ outcome: 'busy', activeRunIds });

    const event = await new PostgresEventLog(tx, this.retention).append({
      type: 'MessageCreated',
      conversationId: conversation.id,
      runId: run.id,
      agentId: null,
      message,
    });
    if (event.type !== 'MessageCreated') throw new Error('the log returned another event than it was given');
    await new PostgresMessageStore(tx).add(event.message);
    const touched = await conversations.touched(conversation.id, message.createdAt, send.title);
    await new PostgresRunStore(tx).create(run);
    await runQueue.push(conversation.id, run.id);
    return { outcome: 'stored', conversation: touched!, message: event.message, event };
  }

  /**
   * Takes `key` for this send, unless a live one holds it: answers what that first send stored,
   * or null when the key is now this send's (new, or taken over from an expired one). A send
   * holding the key in a transaction still open is waited for; if it rolls back, the key is free.
   */
  private async takeKey(tx: Sql, key: string, stored: SendReservation): Promise<SendReservation | null> {
    const taken = await tx.query(
      `INSERT INTO idempotency_keys AS held (key, conversation_id, message_id, run_id, expires_at)
       VALUES ($1, $2, $3, $4, now() + $5::float8 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         conversation_id = EXCLUDED.conversation_id, message_id = EXCLUDED.message_id,
         run_id = EXCLUDED.run_id, expires_at = EXCLUDED.expires_at
       WHERE held.expires_at <= now()`,
      [key, stored.conversationId, stored.messageId, stored.runId, this.keyTtlMs],
    );
    if (taken.rowCount === 1) return null;
    // The conflicting row is locked by the statement above until this transaction ends: it is there.
    const { rows } = await tx.query<{ conversation_id: string; message_id: string; run_id: string }>(
      'SELECT conversation_id, message_id, run_id FROM idempotency_keys WHERE key = $1',
      [key],
    );
    const first = rows[0]!;
    return { conversationId: first.conversation_id, messageId: first.message_id, runId: first.run_id };
  }
}
