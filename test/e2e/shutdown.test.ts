/**
 * Graceful shutdown of a real process with no grace period for its runs: SIGTERM ends the
 * in-flight run with a retryable AgentFailed (code SHUTDOWN) that still reaches its live
 * subscriber, then closes the socket with 1001 and exits 0. (With a grace period the run may
 * finish first: test/process/stop-signals.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EventRecorder, SEND, closeCodeOf, isTerminal, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { spawnGateway, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';
import { TEST_SECRET } from '../support/server.ts';

describe('graceful shutdown', () => {
  let gateway: ServerProcess | undefined;
  afterAll(async () => {
    await gateway?.kill();
  });

  it('fails the in-flight run with SHUTDOWN (retryable), closes sockets with 1001 and exits 0 on SIGTERM', async () => {
    gateway = spawnGateway({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_JWT_SECRET: TEST_SECRET,
      AGENT_STEP_DELAY_MS: '50',
      GATEWAY_SHUTDOWN_GRACE_MS: '0',
      // Info, for the line that announces the port it got.
      LOG_LEVEL: 'info',
    });
    const url = await waitForAnnouncedUrl(gateway);

    const token = await tokenFor('shutdown-user');
    // The guide answers a greeting on HOME itself, streaming its reply token by token.
    const sent = await userClient(url, token)(SEND, { input: { text: 'Hello there', surface: 'HOME' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, afterSeq, run } = sent.data.sendAgentMessage;

    const client = wsClient(url, token);
    const closed = closeCodeOf(client);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first AgentToken');
    expect(recorder.events.some(isTerminal)).toBe(false);

    expect(gateway.child.kill('SIGTERM')).toBe(true);

    const events = await recorder.untilTerminals(1);
    const terminal = events.find(isTerminal)!;
    expect(terminal.__typename).toBe('AgentFailed');
    expect(terminal.runId).toBe(run.id);
    expect(terminal['error']).toMatchObject({ code: 'SHUTDOWN', retryable: true });
    expect(terminal['error'].message).toEqual(expect.any(String));
    expect(events.at(-1)).toBe(terminal);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => afterSeq + 1 + index));

    expect(await closed).toBe(1001);
    const exit = await gateway.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Nothing arrived after the terminal event.
    expect(recorder.events.at(-1)).toBe(terminal);
    await client.dispose();
  });
});
