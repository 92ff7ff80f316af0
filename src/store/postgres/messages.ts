import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord, MessageRole } from '../../domain/records.ts';
import { isoOf, numberOf } from './columns.ts';
import type { Sql } from './sql.ts';

/** A message is a row of `messages`, listed per conversation by seq. */
const COLUMNS = 'id, conversation_id, seq, role, text, agent_id, run_id, created_at';

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
  constructor(private readonly sql: Sql) {}

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
    // The message's seq looked up in the same statement (no such message: through the newest).
    const { rows } = await this.sql.query<MessageRow>(
      `SELECT * FROM (
         SELECT ${COLUMNS} FROM messages
         WHERE conversation_id = $1
           AND seq <= COALESCE((SELECT seq FROM messages WHERE id = $2), ${Number.MAX_SAFE_INTEGER})
         ORDER BY seq DESC LIMIT $3
       ) AS newest ORDER BY seq`,
      [conversationId, messageId, last],
    );
    return rows.map(decode);
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
