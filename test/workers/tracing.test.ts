/**
 * OpenTelemetry traces of a run across a gateway and a worker (real processes on one Redis),
 * exported over OTLP/HTTP (JSON) to a receiver here: a client's traceparent on the send, the
 * gateway's operation span, the worker's queue and agent spans with their model calls (GenAI
 * attributes) and tool call, a pause for an approval and the resumed execution in the same
 * trace, every span's parent present; an AG-UI request's trace carried on to a remote AG-UI
 * agent. And with tracing off: nothing carried, the SDK not loaded.
 */
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { propagation } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/tracing/sdk.ts';
import { SEND, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startFakeAgUi, type FakeAgUi } from '../support/fake-ag-ui.ts';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.ts';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { followRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';
import { clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { startWorker } from './support.ts';

/** The client's trace: the send continues it. */
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;
/** The trace of the client that answers, over a WebSocket whose connectionParams carry it. */
const ANSWER_TRACE_ID = 'a3ce929d0e0e47364bf92f3577b34da6';
const ANSWER_SPAN_ID = '0ba902b700f067aa';

const RUN = `query ($id: ID!) { run(id: $id) { status pendingInputs { id } } }`;
const RESPOND = `mutation Respond($id: ID!) { respondToAgent(input: { requestId: $id, approved: true }) { status } }`;

/** The trace of an AG-UI client's request to a remote agent. */
const AG_UI_TRACE_ID = '5b8aa5a2d2c872e8321cf37308d69df2';
const AG_UI_SPAN_ID = '051581bf3cb55c13';

/** One span as the receiver decoded it, with the service that exported it. */
interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}
type OtlpAttributes = { key: string; value: OtlpValue }[] | undefined;
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: OtlpAttributes }[] }[];
  }[];
}

function valueOf(value: OtlpValue): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

function attributesOf(attributes: OtlpAttributes): Record<string, unknown> {
  return Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

/** Every span the receiver has been sent so far. */
function exportedSpans(receiver: RecordingServer<OtlpExport>): Span[] {
  return receiver.requests.flatMap(({ body }) =>
    (body.resourceSpans ?? []).flatMap((resourceSpans) => {
      const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
      return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
        (scope.spans ?? []).map((span) => ({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          attributes: attributesOf(span.attributes),
        })),
      );
    }),
  );
}

/** Asks until `ready` holds of the run (bounded): across processes there is no event to await. */
async function untilRun<T>(gql: ReturnType<typeof userClient>, runId: string, ready: (run: any) => T | undefined): Promise<T> {
  for (let attempt = 0; attempt < 2000; attempt += 1) {
    const found = ready((await gql(RUN, { id: runId })).data?.run);
    if (found !== undefined) return found;
    await delay(20);
  }
  throw new Error(`run ${runId} never got there`);
}

/** Waits (bounded) until the spans exported of one trace satisfy `complete`. */
async function untilSpans(receiver: RecordingServer<OtlpExport>, traceId: string, complete: (spans: Span[]) => boolean): Promise<Span[]> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const spans = exportedSpans(receiver).filter((span) => span.traceId === traceId);
    if (complete(spans)) return spans;
    await delay(20);
  }
  throw new Error(
    `the trace never completed: ${exportedSpans(receiver)
      .map((span) => span.name)
      .join(', ')}`,
  );
}

const named = (spans: Span[], name: string) => spans.filter((span) => span.name === name);

describe('tracing on: a gateway and a worker exporting over OTLP', () => {
  let redis: TestRedis;
  let llm: FakeLlm;
  let remote: FakeAgUi;
  let receiver: RecordingServer<OtlpExport>;
  let gateway: Instance;
  let worker: Instance;

  beforeAll(async () => {
    [redis, llm, remote, receiver] = await Promise.all([
      startRedis(),
      startFakeLlm(),
      startFakeAgUi(),
      startRecordingServer<OtlpExport>(async (_body, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      }),
    ]);
    const env = clusterEnv(redis.url, {
      RUN_EXECUTION: 'workers',
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'fake-model',
      TOOLS_REQUIRING_APPROVAL: 'insights.profile_csv',
      REMOTE_AGENTS: JSON.stringify([{ id: 'remote.research', name: 'Research', description: 'Runs elsewhere.', url: remote.url }]),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.origin,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Spans go out a moment after they end, not after the default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    [gateway, worker] = await Promise.all([startInstance('G', env), startWorker('W', env)]);
  });
  afterAll(async () => {
    await Promise.all([gateway, worker].filter(Boolean).map((each) => each.process.kill()));
    await Promise.all([redis?.stop(), llm?.close(), remote?.close(), receiver?.close()]);
  });

  it('continues the client trace from the send through the pause to the end, with no span missing its parent', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const gql = userClient(gateway.url, token);
    // The guide hands "insights" to the insights liaison, whose model calls its first tool: that needs an approval.
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: TRACEPARENT },
      body: JSON.stringify({ query: SEND, variables: { input: { text: 'insights tool' } } }),
    });
    const sent = ((await response.json()) as { data: { sendAgentMessage: { run: { id: string }; conversation: { id: string } } } }).data.sendAgentMessage;
    const runId = sent.run.id;
    const requestId = await untilRun(gql, runId, (run) => (run?.status === 'WAITING' ? (run.pendingInputs[0]?.id as string) : undefined));
    const socket = wsClient(gateway.url, token, {
      connectionParams: { authorization: `Bearer ${token}`, traceparent: `00-${ANSWER_TRACE_ID}-${ANSWER_SPAN_ID}-01` },
    });
    try {
      const answered = await new Promise<any>((resolve, reject) => {
        socket.subscribe({ query: RESPOND, variables: { id: requestId } }, { next: resolve, error: reject, complete: () => undefined });
      });
      expect(answered.data.respondToAgent.status).toBe('ANSWERED');
    } finally {
      await socket.dispose();
    }
    await untilRun(gql, runId, (run) => (run?.status === 'COMPLETED' ? true : undefined));

    const spans = await untilSpans(receiver, CLIENT_TRACE_ID, (all) => {
      const ids = new Set(all.map((span) => span.spanId));
      const complete = all.every((span) => span.parentSpanId === CLIENT_SPAN_ID || ids.has(span.parentSpanId!));
      return complete && named(all, 'invoke_agent guide').length === 2 && named(all, 'execute_tool insights.profile_csv').length === 1;
    });
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const parentOf = (span: Span) => byId.get(span.parentSpanId!);

    // The send: the gateway's span of the operation, a child of the client's.
    const [send] = named(spans, 'mutation Send');
    expect(send).toMatchObject({ service: 'agent-gateway', parentSpanId: CLIENT_SPAN_ID });
    expect(send!.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'gen_ai.conversation.id': sent.conversation.id,
      'agent_gateway.run.id': runId,
    });

    // Two executions on the worker, before and after the pause, each queued first; both children of the send.
    const executions = named(spans, 'invoke_agent guide');
    const queues = named(spans, 'queue');
    expect(queues).toHaveLength(2);
    for (const span of [...executions, ...queues]) expect(span).toMatchObject({ service: 'agent-gateway-worker', parentSpanId: send!.spanId });
    const [paused, resumed] = [...executions].sort(
      (a, b) => Number(a.attributes['agent_gateway.run.resumed']) - Number(b.attributes['agent_gateway.run.resumed']),
    );
    expect(paused!.attributes).toMatchObject({
      'agent_gateway.run.resumed': false,
      'agent_gateway.run.status': 'WAITING',
      'agent_gateway.run.id': runId,
      'gen_ai.agent.id': 'guide',
    });
    expect(resumed!.attributes).toMatchObject({
      'agent_gateway.run.resumed': true,
      'agent_gateway.run.status': 'COMPLETED',
      'gen_ai.conversation.id': sent.conversation.id,
    });
    // The seq ranges the two produced follow each other: the answer's AgentInputReceived lies between.
    expect(Number(paused!.attributes['agent_gateway.seq.first'])).toBeLessThanOrEqual(Number(paused!.attributes['agent_gateway.seq.last']));
    expect(Number(resumed!.attributes['agent_gateway.seq.first'])).toBeGreaterThan(Number(paused!.attributes['agent_gateway.seq.last']));

    // The hand-off: the liaison in a span of its own under each execution of the guide.
    const liaisons = named(spans, 'invoke_agent liaison.insights');
    expect(liaisons.map((span) => parentOf(span)?.name)).toEqual(['invoke_agent guide', 'invoke_agent guide']);

    // The tool ran once, after the approval, under the resumed liaison.
    const [tool] = named(spans, 'execute_tool insights.profile_csv');
    expect(tool!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'insights.profile_csv' });
    expect(parentOf(parentOf(tool!)!)).toBe(resumed);

    // Every model call: a chat span with GenAI attributes, under an agent, its traceparent sent to the model.
    const chats = named(spans, 'chat fake-model');
    expect(chats.length).toBeGreaterThanOrEqual(3);
    for (const chat of chats) {
      expect(parentOf(chat)?.name).toMatch(/^invoke_agent /);
      expect(chat.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'fake-model',
        'gen_ai.usage.input_tokens': 12,
        'gen_ai.usage.output_tokens': 5,
      });
    }
    expect(chats.flatMap((chat) => chat.attributes['gen_ai.response.finish_reasons'] as string[])).toEqual(expect.arrayContaining(['tool_calls', 'stop']));
    // The answer is a span of its client's trace (over the WebSocket), saying which run it resumed.
    const [answer] = await untilSpans(receiver, ANSWER_TRACE_ID, (all) => named(all, 'mutation Respond').length === 1);
    expect(answer).toMatchObject({ service: 'agent-gateway', parentSpanId: ANSWER_SPAN_ID, attributes: { 'agent_gateway.run.id': runId } });

    const modelParents = llm.requests.map((request) => String(request.headers['traceparent']).split('-'));
    expect(
      modelParents
        .filter(([, traceId]) => traceId === CLIENT_TRACE_ID)
        .map(([, , spanId]) => spanId)
        .sort(),
    ).toEqual(chats.map((chat) => chat.spanId).sort());
  });

  it("continues an AG-UI request's trace and carries it on to a remote AG-UI agent", async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const response = await fetch(`${gateway.url}/ag-ui/remote.research`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
        traceparent: `00-${AG_UI_TRACE_ID}-${AG_UI_SPAN_ID}-01`,
      },
      body: JSON.stringify({
        threadId: randomUUID(),
        runId: randomUUID(),
        messages: [{ id: randomUUID(), role: 'user', content: 'Hello' }],
        tools: [],
        context: [],
      }),
    });
    expect(await response.text()).toContain('RUN_FINISHED');
    const spans = await untilSpans(
      receiver,
      AG_UI_TRACE_ID,
      (all) => named(all, 'invoke_agent remote.research').length === 1 && named(all, 'POST /ag-ui').length === 1,
    );
    const [request] = named(spans, 'POST /ag-ui');
    const [execution] = named(spans, 'invoke_agent remote.research');
    expect(request).toMatchObject({ service: 'agent-gateway', parentSpanId: AG_UI_SPAN_ID });
    expect(execution).toMatchObject({ service: 'agent-gateway-worker', parentSpanId: request!.spanId });
    // The remote agent was called within the execution's span.
    const called = remote.requests.map((each) => String(each.headers['traceparent']).split('-')).filter(([, traceId]) => traceId === AG_UI_TRACE_ID);
    expect(called.map(([, , spanId]) => spanId)).toEqual([execution!.spanId]);
  });
});

describe('tracing off', () => {
  it('starts no SDK, loads none of it, and stores no trace context with a run', async () => {
    expect(process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']).toBeUndefined();
    expect(await startTracing('agent-gateway')).toBeNull();
    const server = await startTestServer();
    try {
      const token = await tokenFor(`user-${randomUUID()}`);
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: TRACEPARENT },
        body: JSON.stringify({ query: SEND, variables: { input: { text: 'Hello' } } }),
      });
      const payload = ((await response.json()) as { data: { sendAgentMessage: any } }).data.sendAgentMessage;
      const sent = { conversationId: payload.conversation.id, runId: payload.run.id, afterSeq: payload.afterSeq } as Parameters<typeof followRun>[2];
      expect((await followRun(server.url, token, sent)).at(-1)?.__typename).toBe('AgentCompleted');
      expect((await server.gateway.backend.runs.get(sent.runId))?.input.trace).toBeUndefined();
    } finally {
      await server.close();
    }
    // The API answers with its no-op propagator; the SDK's modules were never required.
    expect(propagation.fields()).toEqual([]);
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.filter((path) => /@opentelemetry[\\/](sdk-|exporter-|resources)/.test(path))).toEqual([]);
  });
});
