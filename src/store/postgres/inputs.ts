/**
 * Input requests of paused runs on PostgreSQL: a row each, the request as its JSON (what never
 * changes) beside its status, response and the time it is next looked at for expiry (`due_at`).
 * Answering is one transaction that locks the request and its run, settles the request, appends
 * its AgentInputReceived and, for the run's last open request, moves the run from WAITING back
 * to QUEUED (the state table's `answer` move): racing answers, through any instance, settle
 * once. The run's lease is the live layer's: the composition gives it one once it has resumed.
 */
import { inputReceived } from '../../domain/events.ts';
import { ANSWERABLE_STATUSES, allowedFrom, type RunStatus } from '../../domain/run-states.ts';
import { OPEN_INPUT_STATUS, settledBy } from '../../domain/input-states.ts';
import type { InputRequestRecord, InputResponse, RunRecord } from '../../domain/records.ts';
import type { RetentionPolicy } from '../event-log.ts';
import type { AnswerOutcome, InputRequestStore, ResumeLease } from '../interfaces.ts';
import { PostgresEventLog } from './event-log.ts';
import { PostgresRunStore } from './runs.ts';
import type { Sql } from './sql.ts';

interface RequestRow {
  request: string;
  status: InputRequestRecord['status'];
  response: string | null;
}

const COLUMNS = 'request, status, response';

function decode(row: RequestRow): InputRequestRecord {
  return {
    ...(JSON.parse(row.request) as InputRequestRecord),
    status: row.status,
    response: row.response === null ? null : (JSON.parse(row.response) as InputResponse),
  };
}

export class PostgresInputRequestStore implements InputRequestStore {
  constructor(
    private readonly sql: Sql,
    private readonly retention: RetentionPolicy,
  ) {}

  async open(request: InputRequestRecord) {
    const { status: _open, response: _none, ...fixed } = request;
    await this.sql.query(
      `INSERT INTO input_requests (id, run_id, conversation_id, request, status, due_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [request.id, request.runId, request.conversationId, JSON.stringify(fixed), OPEN_INPUT_STATUS, request.expiresAt],
    );
    return (await this.get(request.id))!;
  }

  async get(id: string) {
    const { rows } = await this.sql.query<RequestRow>(`SELECT ${COLUMNS} FROM input_requests WHERE id = $1`, [id]);
    return rows[0] ? decode(rows[0]) : null;
  }

  async pending(conversationId: string) {
    const { rows } = await this.sql.query<RequestRow>(`SELECT ${COLUMNS} FROM input_requests WHERE conversation_id = $1 AND status = $2 ORDER BY position`, [
      conversationId,
      OPEN_INPUT_STATUS,
    ]);
    return rows.map(decode);
  }

  async answer(id: string, response: InputResponse, _lease: ResumeLease): Promise<AnswerOutcome> {
    return this.sql.transaction(async (tx): Promise<AnswerOutcome> => {
      const found = await tx.query<RequestRow>(`SELECT ${COLUMNS} FROM input_requests WHERE id = $1 FOR UPDATE`, [id]);
      if (!found.rows[0]) return { outcome: 'not-found' };
      const request = decode(found.rows[0]);
      const run = await tx.query<{ status: RunStatus }>('SELECT status FROM runs WHERE id = $1 FOR UPDATE', [request.runId]);
      const status = run.rows[0]?.status;
      if (request.status !== OPEN_INPUT_STATUS || status === undefined || !ANSWERABLE_STATUSES.includes(status)) {
        return { outcome: 'settled', request };
      }
      const answered = await tx.query<RequestRow>(`UPDATE input_requests SET status = $2, response = $3, due_at = NULL WHERE id = $1 RETURNING ${COLUMNS}`, [
        id,
        settledBy('answer'),
        JSON.stringify(response),
      ]);
      const event = await new PostgresEventLog(tx, this.retention).append(inputReceived(request, response));
      const resumed = (await this.resume(tx, request.runId)) !== null;
      return { outcome: 'answered', request: decode(answered.rows[0]!), event, resumed };
    });
  }

  async resumeIfAnswered(runId: string, _lease: ResumeLease) {
    return this.sql.transaction(async (tx) => {
      await tx.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [runId]);
      return this.resume(tx, runId);
    });
  }

  async close(runId: string, _conversationId: string, status: 'EXPIRED' | 'CANCELLED', requestId?: string) {
    const { rows } = await this.sql.query<RequestRow>(
      `UPDATE input_requests SET status = $2, due_at = NULL
       WHERE run_id = $1 AND status = $3 AND ($4::text IS NULL OR id = $4) RETURNING ${COLUMNS}`,
      [runId, status, OPEN_INPUT_STATUS, requestId ?? null],
    );
    return rows.map(decode);
  }

  async claimDue(ttlMs: number, limit: number) {
    if (limit <= 0) return [];
    const { rows } = await this.sql.query<RequestRow>(
      `UPDATE input_requests SET due_at = now() + $3::float8 * interval '1 millisecond'
       WHERE id IN (
         SELECT id FROM input_requests WHERE status = $1 AND due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ) RETURNING ${COLUMNS}`,
      [OPEN_INPUT_STATUS, limit, ttlMs],
    );
    return rows.map(decode);
  }

  /** The run's move back to QUEUED once nothing of it is PENDING; its row is locked by the caller. */
  private async resume(tx: Sql, runId: string): Promise<RunRecord | null> {
    const open = await tx.query('SELECT 1 FROM input_requests WHERE run_id = $1 AND status = $2 LIMIT 1', [runId, OPEN_INPUT_STATUS]);
    if (open.rows.length > 0) return null;
    return new PostgresRunStore(tx).transition(runId, allowedFrom('answer', 'QUEUED'), { status: 'QUEUED' });
  }
}
