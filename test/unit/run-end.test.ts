/**
 * How an execution ends when its run was taken over after the agent finished: the executor has
 * decided the run's status, but a survivor (a sweep that claimed the lease) holds the run now and
 * appends its terminal event. The executor learns it from its fenced append being refused (it
 * does not ask for its lease first), and then writes nothing more: no terminal event, no reply,
 * and the run's place in the queue and its lease stay the survivor's. On the memory backend,
 * through the real Runtime.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { BUILT_IN_AGENTS } from '../../src/agents/index.ts';
import { AgentRegistry } from '../../src/agents/registry.ts';
import { PLATFORM_TOOLS } from '../../src/runtime/platform-tools.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { ToolRegistry } from '../../src/runtime/tools.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { capturingLogger } from '../support/logs.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloSend } from '../contract/worlds.ts';

const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);

/** Streams a token, then has its run's lease taken by a survivor, as a sweep's claim would, and returns. */
const overtaken: AgentDefinition = {
  id: 'test.overtaken',
  kind: 'LIAISON',
  pillar: null,
  name: 'Overtaken',
  description: 'Loses its run as it finishes.',
  async run(context) {
    await context.stream('word ');
    await backend.leases.acquire(context.runId, context.conversationId, 'survivor', 60_000);
  },
};

it('writes nothing more once a survivor holds the run, learning it from its terminal append being refused', async () => {
  const { logger, lines } = capturingLogger();
  const runtime = new Runtime({
    backend,
    agents: new AgentRegistry([...BUILT_IN_AGENTS, overtaken]),
    tools: new ToolRegistry(PLATFORM_TOOLS),
    runTimeoutMs: 60_000,
    stepDelayMs: 0,
    historyMessages: 200,
    logger,
    leaseMs: 60_000,
    sweepIntervalMs: 60_000,
    inputTimeoutMs: 60_000,
  });
  const conversationId = randomUUID();
  const { run, lease } = runtime.draft({
    runId: randomUUID(),
    conversationId,
    owner: { userId: 'someone', tenantId: null },
    agentId: overtaken.id,
    userMessageId: randomUUID(),
    input: { text: 'Hello there', surface: 'HOME', projectId: null, context: null },
  });
  expect((await backend.sends.commit(helloSend(run, lease))).outcome).toBe('stored');
  await runtime.accepted(run);
  await expect.poll(async () => (await backend.runs.get(run.id))?.status).toBe('COMPLETED');
  await runtime.shutdown(60_000);

  const events = await backend.events.read(conversationId, 0, 100);
  expect(events.map((event) => event.type)).toEqual(['MessageCreated', 'AgentStarted', 'AgentToken']);
  expect(await backend.messages.listLast(conversationId, 10)).toHaveLength(1);
  expect(await backend.runQueue.list(conversationId)).toEqual([run.id]);
  expect(await backend.leases.renew(run.id, 'survivor', 60_000)).toBe(true);
  expect(lines.filter((line) => Number(line['level']) >= 50)).toEqual([]);
});
