import type { Sql } from './sql.ts';

/**
 * Deletes the conversation `id` and everything of it (messages, runs with their fences, its run
 * queue, its events and seq counter, the idempotency keys of its sends, the input requests of
 * its runs) in one transaction.
 * Answers the ids of its runs, oldest first, or null when there was no such conversation.
 *
 * The order matters under concurrency. Deleting the conversation's row first waits for a send
 * still storing into it, and keeps new ones out until commit. Locking its runs next waits for
 * fenced appends in flight (and takes the runs before the seq counter, as a fenced append does,
 * so that neither waits for the other in a circle); deleting the counter then waits for the
 * unfenced ones. Only then is the rest deleted, by a statement whose snapshot sees everything
 * those wrote, so that nothing of them is left behind (an event left behind would take the seq
 * of a new conversation's first event, should one be made with this id).
 */
export async function deleteConversation(sql: Sql, id: string): Promise<string[] | null> {
  return sql.transaction(async (tx) => {
    const conversation = await tx.query('DELETE FROM conversations WHERE id = $1 RETURNING id', [id]);
    if (conversation.rowCount === 0) return null;
    await tx.query('SELECT id FROM runs WHERE conversation_id = $1 FOR UPDATE', [id]);
    await tx.query('DELETE FROM event_seqs WHERE conversation_id = $1', [id]);
    const { rows } = await tx.query<{ run_ids: string[] }>(
      `WITH
         events AS (DELETE FROM events WHERE conversation_id = $1),
         messages AS (DELETE FROM messages WHERE conversation_id = $1),
         queue AS (DELETE FROM run_queue WHERE conversation_id = $1),
         keys AS (DELETE FROM idempotency_keys WHERE conversation_id = $1),
         requests AS (DELETE FROM input_requests WHERE conversation_id = $1),
         runs AS (DELETE FROM runs WHERE conversation_id = $1 RETURNING id, position)
       SELECT array(SELECT id FROM runs ORDER BY position) AS run_ids`,
      [id],
    );
    return rows[0]!.run_ids;
  });
}
