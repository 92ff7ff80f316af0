import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, tokenFor, wsClient } from '../support/clients.ts';
import { expectGapless, expectRunInvariants, send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

describe('many conversations at once', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '1' });
  });
  afterAll(() => server.close());

  it('30 concurrent conversations each get exactly their own events', async () => {
    const surfaces = ['HOME', 'CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES'];
    const conversations = await Promise.all(
      Array.from({ length: 30 }, async (_, index) => {
        // A few users own several conversations, so isolation is checked within a user too.
        const token = await tokenFor(`crowd-${index % 10}`);
        const run = await send(server.url, token, { text: `Message number ${index}`, surface: surfaces[index % 5] });
        const client = wsClient(server.url, token);
        const recorder = new EventRecorder(client, { conversationId: run.conversationId, afterSeq: run.afterSeq });
        return { run, client, recorder, index };
      }),
    );
    await Promise.all(
      conversations.map(async ({ run, client, recorder, index }) => {
        const events = await recorder.untilTerminals(1);
        recorder.stop();
        await client.dispose();
        expect(events.every((event) => event.conversationId === run.conversationId)).toBe(true);
        expectRunInvariants(events, run);
        expectGapless(events);
        expect(events[0]?.message.text).toBe(`Message number ${index}`);
        expect(events.at(-1)?.__typename).toBe('AgentCompleted');
      }),
    );
    expect(new Set(conversations.map(({ run }) => run.conversationId)).size).toBe(30);
  });
});
