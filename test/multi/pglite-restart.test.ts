/**
 * DATABASE_URL=file:///…: the PostgreSQL store of record on PGlite in a data folder, with the
 * live layer in the process. One gateway keeps its conversations across a restart on the same
 * folder, whether it was closed or killed, with no server.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { pgliteSql } from '../../src/store/postgres/index.ts';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { dataFolderUrl, freshDataFolder, removeDataFolders } from '../support/pglite.ts';
import { startTestServer, TEST_SECRET } from '../support/server.ts';
import { spawnGateway, waitForAnnouncedUrl } from '../support/process.ts';
import { CONVERSATION, waitForReadiness, type Instance } from './support.ts';

afterAll(() => removeDataFolders());

/**
 * A gateway process on `env`, given longer than a cluster's instances to come up: it compiles
 * PGlite's WebAssembly and opens the folder first, which a busy machine makes slow.
 */
async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const process = spawnGateway({ ...env, PORT: '0' });
  try {
    const url = await waitForAnnouncedUrl(process, 120_000);
    await waitForReadiness(url, 200, 60_000);
    return { name, url, process };
  } catch (error) {
    await process.kill();
    throw error;
  }
}

/** Sends through `url` and follows the run to its terminal event. */
async function converse(url: string, token: string, input: Record<string, unknown>) {
  const sent = (await userClient(url, token)(SEND, { input })).data.sendAgentMessage;
  const client = wsClient(url, token);
  try {
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    return { sent, events };
  } finally {
    await client.dispose();
  }
}

describe('a gateway on a PGlite data folder', () => {
  it('keeps history and idempotency across a close and a start on the same folder, and goes on from the last seq', { timeout: 360_000 }, async () => {
    const settings = { DATABASE_URL: dataFolderUrl(await freshDataFolder()) };
    const token = await tokenFor(`pglite-${randomUUID()}`);
    const clientMessageId = randomUUID();
    const first = await startTestServer(settings);
    let conversationId: string;
    let before;
    let firstSend;
    try {
      expect(first.gateway.backend.kind).toBe('postgres+memory');
      const { sent, events } = await converse(first.url, token, { text: 'Hello there', clientMessageId });
      expect(events.at(-1)?.__typename).toBe('AgentCompleted');
      firstSend = sent;
      conversationId = sent.conversation.id;
      before = (await userClient(first.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
    } finally {
      await first.close();
    }

    const second = await startTestServer(settings);
    try {
      expect((await userClient(second.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toEqual(before);
      const repeated = (await userClient(second.url, token)(SEND, { input: { text: 'Hello there', clientMessageId } })).data.sendAgentMessage;
      expect(repeated.run.id).toBe(firstSend.run.id);
      const next = await converse(second.url, token, { text: 'And what next?', conversationId });
      expect(next.sent.afterSeq).toBe(before.lastSeq);
      expect(next.events.map((event) => event.seq)).toEqual(next.events.map((_, index) => before.lastSeq + 1 + index));
    } finally {
      await second.close();
    }
  });

  it(
    'keeps what it acknowledged when its process is killed, for the next process on the folder, and refuses the folder to others meanwhile',
    { timeout: 360_000 },
    async () => {
      const folder = await freshDataFolder();
      const env = {
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        AUTH_JWT_SECRET: TEST_SECRET,
        AGENT_STEP_DELAY_MS: '0',
        LOG_LEVEL: 'info',
        DATABASE_URL: dataFolderUrl(folder),
      };
      const token = await tokenFor(`pglite-${randomUUID()}`);
      let killed: Instance | undefined = await startInstance('first', env);
      let next: Instance | undefined;
      try {
        const { sent } = await converse(killed.url, token, { text: 'Hello there' });
        const conversationId = sent.conversation.id;
        const before = (await userClient(killed.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
        // Two PGlites on one folder would damage it: while the gateway lives, nobody else opens it.
        await expect(pgliteSql(folder)).rejects.toThrow(/is open in process \d+/);
        await killed.process.kill(); // SIGKILL: no close, no checkpoint
        killed = undefined;
        next = await startInstance('second', env);
        expect((await userClient(next.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toEqual(before);
      } finally {
        await Promise.all([killed?.process.kill(), next?.process.kill()]);
      }
    },
  );

  it('is refused with REDIS_URL: one process opens a data folder, instances sharing Redis could not share it', () => {
    expect(() => loadConfig({ DATABASE_URL: 'file:///var/lib/agent-gateway', REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/one process/);
    expect(() => loadConfig({ DATABASE_URL: 'file:relative/folder' })).toThrow(/absolute path/);
    expect(loadConfig({ DATABASE_URL: 'file:///var/lib/agent-gateway' }).DATABASE_URL).toBe('file:///var/lib/agent-gateway');
  });
});
