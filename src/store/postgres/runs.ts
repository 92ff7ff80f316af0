import type { RunQueue, RunStore } from '../interfaces.ts';
import type { RunRecord } from '../../domain/records.ts';
import { ACTIVE_STATUSES, LEASED_STATUSES, type RunStatus } from '../../domain/run-states.ts';
import { isoOf, isoOrNull, numberOf } from './columns.ts';
import type { Sql } from './sql.ts';

/**
 * A run is a row of `runs`, in the order runs were created (`position`), with its fence: who
 * holds the run (`fence_holder`), the epoch its appends are checked against (`fence_epoch`), and
 * the lease epoch of the change of hands recorded last (`fence_handover`), which orders them.
 */
const COLUMNS =
  'id, conversation_id, user_id, tenant_id, agent_id, status, user_message_id, input, created_at, started_at, finished_at, error, cancel_reason, usage, active_ms, ended_idle';

interface RunRow {
  id: string;
  conversation_id: string;
  user_id: string;
  tenant_id: string | null;
  agent_id: string;
  status: RunStatus;
  user_message_id: string;
  input: string;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  error: string | null;
  cancel_reason: string | null;
  usage: string | null;
  active_ms: string | number | null;
  ended_idle: boolean | null;
}

/** Each field of a run, as the columns that hold it. */
const FIELD_COLUMNS: { [Field in keyof RunRecord]-?: (value: RunRecord[Field]) => Partial<RunRow> } = {
  id: (id) => ({ id }),
  conversationId: (conversationId) => ({ conversation_id: conversationId }),
  owner: (owner) => ({ user_id: owner.userId, tenant_id: owner.tenantId }),
  agentId: (agentId) => ({ agent_id: agentId }),
  status: (status) => ({ status }),
  userMessageId: (userMessageId) => ({ user_message_id: userMessageId }),
  input: (input) => ({ input: JSON.stringify(input) }),
  createdAt: (createdAt) => ({ created_at: createdAt }),
  startedAt: (startedAt) => ({ started_at: startedAt }),
  finishedAt: (finishedAt) => ({ finished_at: finishedAt }),
  error: (error) => ({ error: error === null ? null : JSON.stringify(error) }),
  cancelReason: (cancelReason) => ({ cancel_reason: cancelReason }),
  usage: (usage) => ({ usage: usage === undefined ? null : JSON.stringify(usage) }),
  activeMs: (activeMs) => ({ active_ms: activeMs ?? null }),
  endedIdle: (endedIdle) => ({ ended_idle: endedIdle ?? null }),
};

/** The columns and values holding `fields` (those given as undefined left out); an unknown field is refused. */
function columnsOf(fields: Partial<RunRecord>): [string[], unknown[]] {
  const row: Partial<RunRow> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    // Own fields only: a patch naming `toString` must not reach Object.prototype's.
    if (!Object.hasOwn(FIELD_COLUMNS, field)) throw new Error(`a run has no field ${JSON.stringify(field)}`);
    Object.assign(row, (FIELD_COLUMNS as Record<string, (value: unknown) => Partial<RunRow>>)[field]!(value));
  }
  return [Object.keys(row), Object.values(row)];
}

export class PostgresRunStore implements RunStore {
  constructor(private readonly sql: Sql) {}

  async create(run: RunRecord) {
    const [columns, values] = columnsOf(run);
    await this.sql.query(`INSERT INTO runs (${columns.join(', ')}) VALUES (${placeholders(values.length)})`, values);
  }

  async get(id: string) {
    const { rows } = await this.sql.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = $1`, [id]);
    return rows[0] ? decode(rows[0]) : null;
  }

  async listLast(conversationId: string, last: number) {
    if (last <= 0) return [];
    const { rows } = await this.sql.query<RunRow>(
      `SELECT ${COLUMNS} FROM (
         SELECT position, ${COLUMNS} FROM runs WHERE conversation_id = $1 ORDER BY position DESC LIMIT $2
       ) AS newest ORDER BY position`,
      [conversationId, last],
    );
    return rows.map(decode);
  }

  async transition(id: string, from: readonly RunStatus[], patch: Partial<RunRecord>) {
    const [columns, values] = columnsOf(patch);
    // An empty patch still answers whether the status was one of `from`.
    const set = columns.length > 0 ? columns.map((column, i) => `${column} = $${i + 3}`).join(', ') : 'status = status';
    const { rows } = await this.sql.query<RunRow>(`UPDATE runs SET ${set} WHERE id = $1 AND status = ANY($2) RETURNING ${COLUMNS}`, [id, [...from], ...values]);
    return rows[0] ? decode(rows[0]) : null;
  }

  /**
   * Records that `holder` holds the run and answers the epoch its appends are fenced with: the
   * same while `holder` holds it already, else the next one (epochs only ever grow). Kept in
   * the record, so that an epoch survives whatever happens to the leases, and checked in the
   * same statement as each fenced append (see PostgresEventLog).
   */
  async fence(runId: string, holder: string, handover: number): Promise<number> {
    const { rows } = await this.sql.query<{ fence_epoch: string | number }>(
      `UPDATE runs SET
         fence_epoch = CASE WHEN fence_holder IS NOT DISTINCT FROM $2 THEN fence_epoch ELSE fence_epoch + 1 END,
         fence_holder = $2,
         fence_handover = $3
       WHERE id = $1 AND fence_handover <= $3 RETURNING fence_epoch`,
      [runId, holder, handover],
    );
    // Not stored, or a later change of hands is recorded already: this one holds nothing.
    return rows[0] ? numberOf(rows[0].fence_epoch) : 0;
  }

  /** Up to `limit` runs that hold a lease (queued or running), in any conversation, oldest first: what a recovery looks at. */
  async active(limit: number): Promise<RunRecord[]> {
    if (limit <= 0) return [];
    const { rows } = await this.sql.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE status = ANY($1) ORDER BY position LIMIT $2`, [LEASED_STATUSES, limit]);
    return rows.map(decode);
  }
}

export class PostgresRunQueue implements RunQueue {
  constructor(private readonly sql: Sql) {}

  async push(conversationId: string, runId: string) {
    await this.sql.query('INSERT INTO run_queue (conversation_id, run_id) VALUES ($1, $2)', [conversationId, runId]);
  }

  async list(conversationId: string) {
    const { rows } = await this.sql.query<{ run_id: string }>('SELECT run_id FROM run_queue WHERE conversation_id = $1 ORDER BY position', [conversationId]);
    return rows.map((row) => row.run_id);
  }

  async head(conversationId: string) {
    const { rows } = await this.sql.query<{ run_id: string }>('SELECT run_id FROM run_queue WHERE conversation_id = $1 ORDER BY position LIMIT 1', [
      conversationId,
    ]);
    const runId = rows[0]?.run_id;
    return runId === undefined ? null : { runId, run: await new PostgresRunStore(this.sql).get(runId) };
  }

  async remove(conversationId: string, runId: string) {
    // The statement's look at the queue does not see its own deletion: the run is left out of it.
    const { rows } = await this.sql.query<{ runs_left: boolean }>(
      `WITH gone AS (DELETE FROM run_queue WHERE conversation_id = $1 AND run_id = $2)
       SELECT EXISTS (SELECT 1 FROM run_queue WHERE conversation_id = $1 AND run_id <> $2) AS runs_left`,
      [conversationId, runId],
    );
    return rows[0]?.runs_left === true;
  }

  /** The queued runs of the conversation that have not ended, in queue order. */
  async activeRunIds(conversationId: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ run_id: string }>(
      `SELECT queue.run_id FROM run_queue AS queue JOIN runs ON runs.id = queue.run_id
       WHERE queue.conversation_id = $1 AND runs.status = ANY($2) ORDER BY queue.position`,
      [conversationId, ACTIVE_STATUSES],
    );
    return rows.map((row) => row.run_id);
  }
}

function placeholders(count: number): string {
  return Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ');
}

function decode(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: row.id,
    conversationId: row.conversation_id,
    owner: { userId: row.user_id, tenantId: row.tenant_id },
    agentId: row.agent_id,
    status: row.status,
    userMessageId: row.user_message_id,
    input: JSON.parse(row.input) as RunRecord['input'],
    createdAt: isoOf(row.created_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    error: row.error === null ? null : (JSON.parse(row.error) as RunRecord['error']),
    cancelReason: row.cancel_reason,
  };
  // NULL is a run stored without usage; the JSON 'null' one whose usage is null.
  if (row.usage !== null) run.usage = JSON.parse(row.usage) as RunRecord['usage'];
  // Likewise: a run stored without them has neither.
  if (row.active_ms !== null) run.activeMs = numberOf(row.active_ms);
  if (row.ended_idle !== null) run.endedIdle = row.ended_idle;
  return run;
}
