/**
 * The mounting examples as their users run them (examples/mount/): the gateway's HTTP routes and
 * WebSockets inside an Express and a Fastify application, beside routes of the application's
 * own, on its port; a run sent over HTTP and followed over graphql-ws; the application's own 404
 * for paths that are nobody's; and a clean stop on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../support/clients.ts';
import { spawnProcess, waitForHealthy, type ServerProcess } from '../support/process.ts';
import { expectRunInvariants, sendAndFollow } from '../support/runs.ts';
import { TEST_SECRET } from '../support/server.ts';

/** The URL the example prints once it listens. */
async function announced(example: ServerProcess): Promise<string> {
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(example.output());
    if (match) return match[1]!.replace(/\/$/, '');
    const ended = await Promise.race([example.exited, new Promise((resolve) => example.child.stdout!.once('data', () => resolve(null)))]);
    if (ended) throw new Error(`the example exited before listening:\n${example.output()}`);
  }
}

describe.each(['express', 'fastify'])('examples/mount/%s.ts', (framework) => {
  let example: ServerProcess;
  let url: string;

  beforeAll(async () => {
    example = spawnProcess(process.execPath, ['--import', 'tsx', `examples/mount/${framework}.ts`], {
      PORT: '0',
      AUTH_JWT_SECRET: TEST_SECRET,
      AGENT_STEP_DELAY_MS: '0',
      LOG_LEVEL: 'silent',
    });
    url = await announced(example);
    await waitForHealthy(url, example);
  });
  afterAll(() => example?.kill());

  it("serves the application's own routes beside the gateway's", async () => {
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'from the application' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('runs an agent: sent over HTTP, followed over graphql-ws on the same port', async () => {
    const { sent, events } = await sendAndFollow(url, await tokenFor(`${framework}-user`), { text: 'Hello there' });
    expectRunInvariants(events, { runId: sent.runId, agentId: 'guide' });
    expect(events.at(-1)!.__typename).toBe('AgentCompleted');
  });

  it("leaves paths that are not the gateway's to the application (its 404), the chat page included when turned off", async () => {
    for (const path of ['/nothing-here', '/']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain('NOT_FOUND');
    }
  });

  it('stops on SIGTERM, closing the gateway, and exits 0', async () => {
    example.child.kill('SIGTERM');
    expect(await example.exited).toEqual({ code: 0, signal: null });
  });
});
