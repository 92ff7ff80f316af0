/**
 * The event log of record: what PostgreSQL keeps of every conversation's events, without the
 * doorbell (`listen` is the live layer's).
 *
 * Per conversation, `event_seqs.last_seq` is the one seq authority: an append adds its events'
 * count to it and inserts them numbered below the sum, in one statement, so the row stays locked
 * until that append commits and the next one numbers after it, whichever process it comes from.
 * An append is thus visible before the next one is numbered: a reader that sees an event sees
 * every one before it. A rolled-back append leaves no hole, since the counter rolls back with
 * it. Events are stamped with the database's clock once the counter is locked, so that their
 * times rise with their seqs (which `read` relies on to find the first one the age retains).
 */
import { eventsExpired, LeaseLostError, withSeq, type RecordLog, type RetentionPolicy } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';
import { isoOf, numberOf } from './columns.ts';
import type { Sql } from './sql.ts';

/**
 * Parameters: $1 conversation id, $2 how many events, then per event (arrays, in order) $3 run
 * id, $4 agent id, $5 type, $6 body, then $7 the most events a conversation keeps; then per
 * reply (the message of an AgentCompleted of the batch; arrays) $8 its event's place in the
 * batch (from 1), $9 id, $10 role, $11 text, $12 agent id, $13 run id, $14 createdAt; fenced,
 * $15 the epoch and $16 the batch's run ids. Answers the batch's last seq and its timestamp, or
 * no row when fenced off (and then it stored nothing, no reply either).
 *
 * One statement: one round trip and one transaction however many events (a run's token stream
 * is appended in batches), one multi-row INSERT. The events that the count no longer retains
 * are deleted in the same step; those past the retention age are left out by `read`. A reply
 * is stored in the same step, numbered with its event's seq, so that whoever sees the event
 * finds the message; one already stored under its id is left as it is.
 */
function appendStatement(fenced: boolean): string {
  // Fencing: the batch goes in only while each of its runs is at the epoch named; FOR SHARE keeps
  // a `fence` that would move it on waiting until this append has committed.
  const allowed = fenced
    ? `fence AS (SELECT id FROM runs WHERE id = ANY($16::text[]) AND fence_epoch = $15::bigint FOR SHARE),
       allowed AS (SELECT (SELECT count(*) FROM fence) = cardinality($16::text[]) AS ok),`
    : `allowed AS (SELECT true AS ok),`;
  return `WITH ${allowed}
    counter AS (
      INSERT INTO event_seqs AS counter (conversation_id, last_seq)
      SELECT $1::text, $2::bigint FROM allowed WHERE ok
      ON CONFLICT (conversation_id) DO UPDATE SET last_seq = counter.last_seq + EXCLUDED.last_seq
      RETURNING last_seq, date_trunc('milliseconds', clock_timestamp()) AS appended_at
    ),
    appended AS (
      INSERT INTO events (conversation_id, seq, run_id, agent_id, type, body, appended_at)
      SELECT $1, counter.last_seq - $2::bigint + batch.ordinal, batch.run_id, batch.agent_id, batch.type, batch.body, counter.appended_at
      FROM counter, unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS batch(run_id, agent_id, type, body, ordinal)
    ),
    replied AS (
      INSERT INTO messages (id, conversation_id, seq, role, text, agent_id, run_id, created_at)
      SELECT reply.id, $1, counter.last_seq - $2::bigint + reply.ordinal, reply.role, reply.text, reply.agent_id, reply.run_id, reply.created_at
      FROM counter, unnest($8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[])
        AS reply(ordinal, id, role, text, agent_id, run_id, created_at)
      ON CONFLICT (id) DO NOTHING
    ),
    trimmed AS (
      DELETE FROM events WHERE conversation_id = $1 AND seq <= (SELECT last_seq FROM counter) - $7::bigint
    )
    SELECT last_seq, appended_at FROM counter`;
}

const APPEND = appendStatement(false);
const APPEND_FENCED = appendStatement(true);

/**
 * The conversation's last seq, the first seq still retained (null when none is), and up to $4
 * events with seq > $2 from that first one on: one statement, so one snapshot of the log.
 * Parameters: $1 conversation id, $2 afterSeq, $3 max events kept, $4 limit, $5 max age ms.
 */
const READ = `
  SELECT head.last_seq, head.first_retained, event.seq, event.run_id, event.agent_id, event.type, event.body, event.appended_at
  FROM (
    SELECT seqs.last_seq, (
      SELECT seq FROM events
      WHERE conversation_id = $1 AND seq > seqs.last_seq - $3::bigint AND appended_at >= now() - $5::float8 * interval '1 millisecond'
      ORDER BY seq LIMIT 1
    ) AS first_retained
    FROM event_seqs AS seqs WHERE seqs.conversation_id = $1
  ) AS head
  LEFT JOIN LATERAL (
    SELECT seq, run_id, agent_id, type, body, appended_at FROM events
    WHERE conversation_id = $1 AND seq > $2::bigint AND seq >= head.first_retained
    ORDER BY seq LIMIT $4
  ) AS event ON true
  ORDER BY event.seq`;

interface ReadRow {
  last_seq: string | number;
  first_retained: string | number | null;
  seq: string | number | null;
  run_id: string;
  agent_id: string | null;
  type: NewEvent['type'];
  body: string;
  appended_at: Date | string;
}

export class PostgresEventLog implements RecordLog {
  constructor(
    private readonly sql: Sql,
    private readonly retention: RetentionPolicy,
  ) {}

  async append(event: NewEvent, leaseEpoch?: number): Promise<StoredEvent> {
    return (await this.appendBatch([event], leaseEpoch))[0]!;
  }

  /** The events must all be of one conversation; fenced, every run among them must be at `leaseEpoch`. */
  async appendBatch(events: readonly NewEvent[], leaseEpoch?: number): Promise<StoredEvent[]> {
    const head = events[0];
    if (head === undefined) return [];
    const { conversationId } = head;
    const columns = { runIds: [] as string[], agentIds: [] as (string | null)[], types: [] as string[], bodies: [] as string[] };
    const replies = {
      ordinals: [] as number[],
      ids: [] as string[],
      roles: [] as string[],
      texts: [] as string[],
      agentIds: [] as (string | null)[],
      runIds: [] as (string | null)[],
      createdAts: [] as string[],
    };
    for (const [i, event] of events.entries()) {
      if (event.conversationId !== conversationId) throw new Error('a batch of events must be of one conversation');
      const { conversationId: _key, runId, agentId, type, ...body } = event;
      columns.runIds.push(runId);
      columns.agentIds.push(agentId);
      columns.types.push(type);
      columns.bodies.push(JSON.stringify(body));
      if (event.type !== 'AgentCompleted') continue;
      const { message } = event;
      replies.ordinals.push(i + 1);
      replies.ids.push(message.id);
      replies.roles.push(message.role);
      replies.texts.push(message.text);
      replies.agentIds.push(message.agentId);
      replies.runIds.push(message.runId);
      replies.createdAts.push(message.createdAt);
    }
    const params: unknown[] = [
      conversationId,
      events.length,
      columns.runIds,
      columns.agentIds,
      columns.types,
      columns.bodies,
      this.retention.maxEventsPerConversation,
      replies.ordinals,
      replies.ids,
      replies.roles,
      replies.texts,
      replies.agentIds,
      replies.runIds,
      replies.createdAts,
    ];
    const fenced = leaseEpoch !== undefined;
    if (fenced) params.push(leaseEpoch, [...new Set(columns.runIds)]);
    const { rows } = await this.sql.query<{ last_seq: string | number; appended_at: Date | string }>(fenced ? APPEND_FENCED : APPEND, params);
    const appended = rows[0];
    if (!appended) throw new LeaseLostError(head.runId);
    const first = numberOf(appended.last_seq) - events.length + 1;
    const timestamp = isoOf(appended.appended_at);
    return events.map((event, i) => withSeq(event, first + i, timestamp));
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const after = Math.max(0, Math.floor(afterSeq));
    const { rows } = await this.sql.query<ReadRow>(READ, [
      conversationId,
      after,
      this.retention.maxEventsPerConversation,
      Math.max(0, limit),
      this.retention.maxAgeMs,
    ]);
    const head = rows[0];
    if (!head) return [];
    const firstRetained = head.first_retained === null ? numberOf(head.last_seq) + 1 : numberOf(head.first_retained);
    if (after < firstRetained - 1) throw eventsExpired(afterSeq, firstRetained);
    return rows.filter((row) => row.seq !== null).map((row) => decode(conversationId, row));
  }

  async lastSeq(conversationId: string): Promise<number> {
    const { rows } = await this.sql.query<{ last_seq: string | number }>('SELECT last_seq FROM event_seqs WHERE conversation_id = $1', [conversationId]);
    return rows[0] ? numberOf(rows[0].last_seq) : 0;
  }
}

function decode(conversationId: string, row: ReadRow): StoredEvent {
  const body = JSON.parse(row.body) as object;
  const event = { conversationId, runId: row.run_id, agentId: row.agent_id, type: row.type, ...body } as NewEvent;
  return withSeq(event, numberOf(row.seq!), isoOf(row.appended_at));
}
