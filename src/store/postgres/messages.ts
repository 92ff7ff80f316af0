import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord, MessageRole } from '../../domain/records.ts';
import { isoOf, numberOf } from './columns.ts';
import type { Sql } from './sql.ts';
import { RecentMessages } from '../recent-messages.ts';

/** A message is a row of `messages`, listed per conversation by seq. */
const COLUMNS = 'id, conversation_id, seq, role, text, agent_id, run_id, created_at';

/** About what a message holds besides its text (its ids, seq and time), in bytes as its JSON would. */
const ROW_OVERHEAD = 200;

interface MessageRow {
  id: string;
  conversation_id: string;
  seq: string | number;
  role: MessageRole;
  text: string;
  agent_id: string | null;
  run_id: string | null;
  created_at: Date | string;
}

export class PostgresMessageStore implements MessageStore {
  /** @param recent the newest messages of conversations read lately, which a history read then reads on from (none kept by default) */
  constructor(
    private readonly sql: Sql,
    private readonly recent = new RecentMessages(0),
  ) {}

  /** Adding a message again (a retried write) leaves the stored one as it is. */
  async add(message: MessageRecord) {
    const { id, conversationId, seq, role, text, agentId, runId, createdAt } = message;
    await this.sql.query(`INSERT INTO messages (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`, [
      id,
      conversationId,
      seq,
      role,
      text,
      agentId,
      runId,
      createdAt,
    ]);
  }

  async listLast(conversationId: string, last: number, throughSeq = Number.MAX_SAFE_INTEGER) {
    if (last <= 0) return [];
    const { rows } = await this.sql.query<MessageRow>(
      `SELECT * FROM (
         SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3
       ) AS newest ORDER BY seq`,
      [conversationId, throughSeq, last],
    );
    return rows.map(decode);
  }

  async listLastThrough(conversationId: string, last: number, messageId: string) {
    if (last <= 0) return [];
    return this.recent.history(conversationId, last, async (count, kept) => {
      // In one statement: the seq of the message read through (no such message: the newest), and
      // whether the newest message kept is still stored and not past it (then only the messages
      // after it are read, see ../recent-messages.ts). One row at least, for the answer.
      const { rows } = await this.sql.query<Partial<MessageRow> & { on_from_kept: boolean }>(
        `WITH through AS (SELECT COALESCE((SELECT seq FROM messages WHERE id = $2), ${Number.MAX_SAFE_INTEGER}) AS seq),
       kept AS (
         SELECT $4::bigint IS NOT NULL AND (SELECT seq FROM through) >= $4::bigint
           AND EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND seq = $4::bigint AND id = $5) AS on_from_kept
       )
       SELECT kept.on_from_kept, newest.* FROM kept LEFT JOIN (
         SELECT ${COLUMNS} FROM messages
         WHERE conversation_id = $1 AND seq <= (SELECT seq FROM through)
           AND (NOT (SELECT on_from_kept FROM kept) OR seq > $4::bigint)
         ORDER BY seq DESC LIMIT $3
       ) AS newest ON true ORDER BY newest.seq`,
        [conversationId, messageId, count, kept?.newestSeq ?? null, kept?.newestIdentity ?? null],
      );
      const read = rows
        .filter((row): row is MessageRow & { on_from_kept: boolean } => row.id !== null && row.id !== undefined)
        .map((row) => ({ message: decode(row), size: ROW_OVERHEAD + row.text.length, identity: row.id }));
      return { onFromKept: rows[0]?.on_from_kept === true, read };
    });
  }

  async get(id: string) {
    const { rows } = await this.sql.query<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE id = $1`, [id]);
    return rows[0] ? decode(rows[0]) : null;
  }
}

function decode(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    role: row.role,
    text: row.text,
    agentId: row.agent_id,
    runId: row.run_id,
    seq: numberOf(row.seq),
    createdAt: isoOf(row.created_at),
  };
}
