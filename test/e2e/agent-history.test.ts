/**
 * What an agent sees of its conversation is a bounded window (AGENT_HISTORY_MESSAGES) ending with
 * the message it answers, so that a run costs the same however long the conversation has grown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor } from '../support/clients.ts';
import { sendAndFollow } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

describe("an agent's view of a long conversation", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_HISTORY_MESSAGES: '3' });
  });
  afterAll(() => server.close());

  it('holds the latest AGENT_HISTORY_MESSAGES messages, however many the conversation has', async () => {
    const token = await tokenFor('long-talker');
    const first = await sendAndFollow(server.url, token, { text: 'Hello' });
    const { conversationId } = first.sent;
    for (const text of ['Hello again', 'And once more']) await sendAndFollow(server.url, token, { text, conversationId });
    // Six messages so far; the outcomes liaison says how many it was given.
    const { events } = await sendAndFollow(server.url, token, { text: 'What is the ROI?', surface: 'OUTCOMES', conversationId });
    const thoughts = events.filter((event) => event.__typename === 'AgentThinking').map((event) => event.text);
    expect(thoughts).toContain('Reviewing the 3 messages of this conversation.');
  });
});
