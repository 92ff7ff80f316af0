import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SEND, tokenFor, userClient } from '../support/clients.ts';
import { send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

describe('limits that protect everyone else', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({
      SEND_RATE_LIMIT: '3',
      SEND_RATE_WINDOW_MS: '600000',
      MAX_QUEUED_RUNS_PER_CONVERSATION: '2',
      MAX_CONTEXT_BYTES: '32768',
      // Slow runs, so that queued ones stay queued while the test looks.
      AGENT_STEP_DELAY_MS: '200',
    });
  });
  afterAll(() => server.close());

  it('GET /limits tells the web page the limits of a send as this gateway is configured', async () => {
    const response = await fetch(`${server.url}/limits`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ maxTextLength: server.gateway.config.MAX_TEXT_LENGTH, maxContextBytes: 32768 });
  });

  it('a user sending too fast gets RATE_LIMITED with retryAfterMs; other users are unaffected', async () => {
    const hasty = userClient(server.url, await tokenFor('hasty'));
    for (let index = 0; index < 3; index += 1) {
      expect((await hasty(SEND, { input: { text: `message ${index}` } })).errors).toBeUndefined();
    }
    const refused = await hasty(SEND, { input: { text: 'one more' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.errors?.[0]?.extensions?.['retryAfterMs']).toBeGreaterThan(0);
    expect((await hasty(`{ conversations { id } }`)).data.conversations).toHaveLength(3);
    const calm = userClient(server.url, await tokenFor('calm'));
    expect((await calm(SEND, { input: { text: 'hello' } })).errors).toBeUndefined();
  });

  it('a conversation holds a bounded number of active runs', async () => {
    const token = await tokenFor('queuer');
    const first = await send(server.url, token, { text: 'Hello' });
    await send(server.url, token, { text: 'Again', conversationId: first.conversationId });
    const gql = userClient(server.url, token);
    const refused = await gql(SEND, { input: { text: 'And again', conversationId: first.conversationId } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    const runs = (await gql(`query ($id: ID!) { conversation(id: $id) { runs { id } } }`, { id: first.conversationId })).data.conversation.runs;
    expect(runs).toHaveLength(2);
  });
});
