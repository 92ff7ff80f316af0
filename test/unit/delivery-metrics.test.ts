/**
 * What counting a delivery costs: an event delivered to many subscribers has its timestamp read
 * once, not once per subscriber, and every delivery is still counted and timed; the counts are
 * plain numbers that prom-client is handed when scraped, not a call of its own per event.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { withSeq } from '../../src/store/event-log.ts';
import { Metrics } from '../../src/metrics.ts';
import { token } from '../contract/worlds.ts';

afterEach(() => vi.restoreAllMocks());

it("reads an event's timestamp once for all of its subscribers, and counts and times every delivery", async () => {
  // Spied on before the counters exist, which take their `inc` from the prototype when made.
  const counted = vi.spyOn(Counter.prototype as unknown as { incWithoutExemplar: () => void }, 'incWithoutExemplar');
  const timed = vi.spyOn(Histogram.prototype as unknown as { observeWithoutExemplar: () => void }, 'observeWithoutExemplar');
  const metrics = new Metrics();
  const event = withSeq(token('conversation-1', 'word '), 1, new Date().toISOString());
  const parse = vi.spyOn(Date, 'parse');
  for (let subscriber = 0; subscriber < 100; subscriber += 1) metrics.recordDelivery(event, 'graphql');
  expect(parse).toHaveBeenCalledTimes(1);
  const next = withSeq(token('conversation-1', 'word '), 2, new Date(Date.now() + 1).toISOString());
  metrics.recordDelivery(next, 'graphql');
  expect(parse).toHaveBeenCalledTimes(2);
  parse.mockRestore();
  expect(counted).not.toHaveBeenCalled();
  expect(timed).not.toHaveBeenCalled();
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^agent_gateway_events_delivered_total\{protocol="graphql"\} 101$/m);
  expect(text).toMatch(/^agent_gateway_event_delivery_latency_seconds_count 101$/m);
  // Appends and event executions are counted the same way.
  counted.mockClear();
  metrics.recordAppend(next);
  metrics.recordEventExecution(true);
  expect(counted).not.toHaveBeenCalled();
  const scraped = await metrics.registry.metrics();
  expect(scraped).toMatch(/^agent_gateway_compiled_event_executions_total 1$/m);
  expect(scraped).toMatch(/^agent_gateway_events_appended_total\{type="AgentToken"\} 1$/m);
});

it("scrapes the delivery latencies as prom-client's own histogram of the same observations would", async () => {
  const metrics = new Metrics();
  const appended = Date.parse('2026-01-01T00:00:00.000Z');
  const registry = new Registry();
  const reference = new Histogram({
    name: 'agent_gateway_event_delivery_latency_seconds',
    help: 'From an event being appended to it being handed to a subscriber.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // On a bound, between bounds, above them all, and none in some buckets.
  for (const [seq, latencyMs] of [0, 1, 3, 10, 10, 70, 999, 7000].entries()) {
    vi.spyOn(Date, 'now').mockReturnValue(appended + latencyMs);
    metrics.recordDelivery(withSeq(token('conversation-1', 'word '), seq + 1, new Date(appended).toISOString()), 'graphql');
    reference.observe(latencyMs / 1000);
  }
  const lines = (text: string) => text.split('\n').filter((line) => line.startsWith('agent_gateway_event_delivery_latency_seconds'));
  const ours = lines(await metrics.registry.metrics());
  expect(ours).toHaveLength(15);
  expect(ours).toEqual(lines(await registry.metrics()));
});
