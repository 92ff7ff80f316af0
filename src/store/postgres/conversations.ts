import type { ConversationStore } from '../interfaces.ts';
import { ownerKey } from '../owner.ts';
import type { ConversationRecord, Owner } from '../../domain/records.ts';
import { isoOf } from './columns.ts';
import type { Sql } from './sql.ts';

/** A conversation is a row of `conversations`; `owner_key` (see owner.ts) lists an owner's, most recently updated first. */
const COLUMNS = 'id, user_id, tenant_id, title, created_at, updated_at';

interface ConversationRow {
  id: string;
  user_id: string;
  tenant_id: string | null;
  title: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

export class PostgresConversationStore implements ConversationStore {
  constructor(private readonly sql: Sql) {}

  async createIfAbsent(conversation: ConversationRecord) {
    // The insert waits for a creator still in its transaction, so the read after it sees what
    // that one stored; the loop is for a conversation deleted in between, absent again.
    for (;;) {
      const created = await this.insert(conversation);
      if (created) return { conversation: created, created: true };
      const existing = await this.get(conversation.id);
      if (existing) return { conversation: existing, created: false };
    }
  }

  async get(id: string) {
    const { rows } = await this.sql.query<ConversationRow>(`SELECT ${COLUMNS} FROM conversations WHERE id = $1`, [id]);
    return rows[0] ? decode(rows[0]) : null;
  }

  /**
   * As `createIfAbsent`, answering the stored conversation locked until the transaction ends,
   * so that nothing else sends to it (or deletes it) meanwhile.
   */
  async createLocked(conversation: ConversationRecord): Promise<ConversationRecord> {
    for (;;) {
      const created = await this.insert(conversation);
      if (created) return created;
      const { rows } = await this.sql.query<ConversationRow>(`SELECT ${COLUMNS} FROM conversations WHERE id = $1 FOR UPDATE`, [conversation.id]);
      if (rows[0]) return decode(rows[0]);
    }
  }

  /** Inserts the conversation unless one has its id: answers it when inserted, null otherwise. */
  private async insert(conversation: ConversationRecord): Promise<ConversationRecord | null> {
    const { id, owner, title, createdAt, updatedAt } = conversation;
    const { rows } = await this.sql.query<ConversationRow>(
      `INSERT INTO conversations (id, owner_key, user_id, tenant_id, title, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [id, ownerKey(owner), owner.userId, owner.tenantId, title, createdAt, updatedAt],
    );
    return rows[0] ? decode(rows[0]) : null;
  }

  async listForOwner(owner: Owner, first: number) {
    if (first <= 0) return [];
    const { rows } = await this.sql.query<ConversationRow>(
      `SELECT ${COLUMNS} FROM conversations WHERE owner_key = $1 ORDER BY updated_at DESC, id DESC LIMIT $2`,
      [ownerKey(owner), first],
    );
    return rows.map(decode);
  }

  async touch(id: string, updatedAt: string, title?: string) {
    await this.touched(id, updatedAt, title);
  }

  /** As `touch`, answering the conversation as it is now (null when there is none). */
  async touched(id: string, updatedAt: string, title?: string) {
    const { rows } = await this.sql.query<ConversationRow>(
      `UPDATE conversations SET updated_at = GREATEST(updated_at, $2), title = COALESCE(title, NULLIF($3, ''))
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, updatedAt, title ?? null],
    );
    return rows[0] ? decode(rows[0]) : null;
  }
}

function decode(row: ConversationRow): ConversationRecord {
  return {
    id: row.id,
    owner: { userId: row.user_id, tenantId: row.tenant_id },
    title: row.title,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}
