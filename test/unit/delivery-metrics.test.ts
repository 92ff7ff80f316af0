/**
 * What counting a delivery costs: an event delivered to many subscribers has its timestamp read
 * once, not once per subscriber, and every delivery is still counted and timed.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { withSeq } from '../../src/store/event-log.ts';
import { Metrics } from '../../src/metrics.ts';
import { token } from '../contract/worlds.ts';

afterEach(() => vi.restoreAllMocks());

it("reads an event's timestamp once for all of its subscribers, and counts and times every delivery", async () => {
  const metrics = new Metrics();
  const event = withSeq(token('conversation-1', 'word '), 1, new Date().toISOString());
  const parse = vi.spyOn(Date, 'parse');
  for (let subscriber = 0; subscriber < 100; subscriber += 1) metrics.recordDelivery(event, 'graphql');
  expect(parse).toHaveBeenCalledTimes(1);
  const next = withSeq(token('conversation-1', 'word '), 2, new Date(Date.now() + 1).toISOString());
  metrics.recordDelivery(next, 'graphql');
  expect(parse).toHaveBeenCalledTimes(2);
  parse.mockRestore();
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^agent_gateway_events_delivered_total\{protocol="graphql"\} 101$/m);
  expect(text).toMatch(/^agent_gateway_event_delivery_latency_seconds_count 101$/m);
});
