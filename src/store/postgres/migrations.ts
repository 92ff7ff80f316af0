/**
 * The schema of the store of record, as numbered migrations: each is applied once, in order, and
 * recorded in `schema_migrations`. An applied migration is history: never edit one, add the next.
 *
 * There are no foreign keys between the tables: the stores' interfaces write each record on its
 * own (a message, a run, an event may come before or without its conversation), and what
 * belongs together is written together by the send's one transaction.
 */
import type { Sql } from './sql.ts';

export interface Migration {
  version: number;
  name: string;
  /** One statement each (an in-process PostgreSQL may take one statement per call). */
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'conversations, messages, runs and their queues, idempotency keys, events',
    statements: [
      // Ids compare byte by byte (COLLATE "C"), whatever the database's locale, as Redis orders them.
      `CREATE TABLE conversations (
        id text COLLATE "C" PRIMARY KEY,
        owner_key text COLLATE "C" NOT NULL,
        user_id text NOT NULL,
        tenant_id text,
        title text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
      `CREATE INDEX conversations_by_owner ON conversations (owner_key, updated_at DESC, id DESC)`,
      `CREATE TABLE messages (
        id text PRIMARY KEY,
        conversation_id text NOT NULL,
        seq bigint NOT NULL,
        role text NOT NULL,
        text text NOT NULL,
        agent_id text,
        run_id text,
        created_at timestamptz NOT NULL
      )`,
      `CREATE INDEX messages_by_conversation ON messages (conversation_id, seq)`,
      // JSON values are kept as text: jsonb would refuse a string holding \u0000 and reorder keys.
      // usage is NULL for a run stored without one, and the JSON 'null' for a run whose usage is null.
      `CREATE TABLE runs (
        id text PRIMARY KEY,
        position bigint GENERATED ALWAYS AS IDENTITY,
        conversation_id text NOT NULL,
        user_id text NOT NULL,
        tenant_id text,
        agent_id text NOT NULL,
        status text NOT NULL,
        user_message_id text NOT NULL,
        input text NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        error text,
        cancel_reason text,
        usage text,
        fence_holder text,
        fence_epoch bigint NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX runs_by_conversation ON runs (conversation_id, position)`,
      `CREATE INDEX runs_by_status ON runs (status, position)`,
      `CREATE TABLE run_queue (
        position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id text NOT NULL,
        run_id text NOT NULL
      )`,
      `CREATE INDEX run_queue_by_conversation ON run_queue (conversation_id, position)`,
      `CREATE TABLE idempotency_keys (
        key text PRIMARY KEY,
        conversation_id text NOT NULL,
        message_id text NOT NULL,
        run_id text NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
      `CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at)`,
      `CREATE INDEX idempotency_keys_by_conversation ON idempotency_keys (conversation_id)`,
      // The one seq authority per conversation: its row is locked by each append until it commits.
      `CREATE TABLE event_seqs (
        conversation_id text PRIMARY KEY,
        last_seq bigint NOT NULL
      )`,
      // body: the event's own fields as JSON, all but those in columns and those the log assigns.
      `CREATE TABLE events (
        conversation_id text NOT NULL,
        seq bigint NOT NULL,
        run_id text NOT NULL,
        agent_id text,
        type text NOT NULL,
        body text NOT NULL,
        appended_at timestamptz NOT NULL,
        PRIMARY KEY (conversation_id, seq)
      )`,
      // For the sweep of events past the retention age, in every conversation (see housekeeping.ts).
      `CREATE INDEX events_by_age ON events (appended_at)`,
    ],
  },
  {
    version: 2,
    name: 'input requests of paused runs; the time a run executed and whether it ended idle',
    statements: [
      `ALTER TABLE runs ADD COLUMN active_ms bigint, ADD COLUMN ended_idle boolean`,
      // request: the request's JSON but its status and response, which change.
      `CREATE TABLE input_requests (
        id text PRIMARY KEY,
        position bigint GENERATED ALWAYS AS IDENTITY,
        run_id text NOT NULL,
        conversation_id text NOT NULL,
        request text NOT NULL,
        status text NOT NULL,
        response text,
        due_at timestamptz
      )`,
      `CREATE INDEX input_requests_by_conversation ON input_requests (conversation_id, position)`,
      `CREATE INDEX input_requests_by_run ON input_requests (run_id)`,
      `CREATE INDEX input_requests_due ON input_requests (due_at) WHERE due_at IS NOT NULL`,
    ],
  },
  {
    version: 3,
    name: "the lease epoch of a run's last recorded change of hands, which orders them",
    statements: [`ALTER TABLE runs ADD COLUMN fence_handover bigint NOT NULL DEFAULT 0`],
  },
];

/** The advisory lock that instances migrating at once queue on (any constant, this one for this schema). */
const MIGRATION_LOCK = 0x61677773; // "agws"

/**
 * Applies the migrations not yet recorded, in one transaction under an advisory lock: instances
 * starting at once wait for the first, then find its migrations recorded. Returns the versions
 * this call applied.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const recorded = new Set(rows.map((row) => Number(row.version)));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (recorded.has(migration.version)) continue;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    return applied;
  });
}
