/** Prometheus metrics of one process, served at /metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoredEvent } from './domain/events.ts';
import { redisCommandsSent } from './store/redis/command-count.ts';
import type { TokenUsage, RunStatus } from './domain/records.ts';

type ScrapedGauge = 'agent_gateway_shared_event_results' | 'agent_gateway_document_cache_bytes';

export class Metrics {
  readonly registry = new Registry();

  readonly openConnections = new Gauge({
    name: 'agent_gateway_open_connections',
    help: 'Open WebSocket connections.',
    registers: [this.registry],
  });

  /** By protocol: graphql (agentEvents over WebSocket and SSE), ag-ui, ai-sdk, and the older sockets. */
  readonly activeSubscriptions = new Gauge({
    name: 'agent_gateway_active_subscriptions',
    help: 'Event streams being served, by protocol.',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });

  readonly slowConsumersClosed = new Counter({
    name: 'agent_gateway_slow_consumers_closed_total',
    help: 'WebSockets closed with 1013 because their unsent data passed WS_MAX_BUFFERED_BYTES.',
    registers: [this.registry],
  });

  private readonly tokenChecks = new Counter({
    name: 'agent_gateway_token_checks_total',
    help: 'Bearer tokens accepted, by whether their signature was verified now or trusted from an earlier verification (AUTH_TOKEN_CACHE_MS).',
    labelNames: ['check'] as const,
    registers: [this.registry],
  });

  private readonly runs = new Counter({
    name: 'agent_gateway_runs_total',
    help: 'Runs that entered each status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  /** Counted on every event, so in plain numbers, handed to prom-client when scraped. */
  private readonly eventsAppended = scrapedCounter(this.registry, {
    name: 'agent_gateway_events_appended_total',
    help: 'Events appended to the event log by this process, by type.',
    labelName: 'type',
  });

  private readonly eventsDelivered = scrapedCounter(this.registry, {
    name: 'agent_gateway_events_delivered_total',
    help: 'Events handed to subscribers by this process, by protocol.',
    labelName: 'protocol',
  });

  /** Observed on every delivery, so in plain numbers, handed to prom-client when scraped. */
  private readonly deliveryLatency = scrapedHistogram(this.registry, {
    name: 'agent_gateway_event_delivery_latency_seconds',
    help: 'From an event being appended to it being handed to a subscriber.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });

  private readonly tokens = new Counter({
    name: 'agent_gateway_tokens_total',
    help: "Tokens the agents' models used in runs executed by this process, as they reported them, by kind.",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly eventExecutions = scrapedCounter(this.registry, {
    name: 'agent_gateway_event_executions_total',
    help: 'Executions of a subscription selection for one event; subscribers of the same document and variables share one.',
  });

  private readonly compiledEventExecutions = scrapedCounter(this.registry, {
    name: 'agent_gateway_compiled_event_executions_total',
    help: "Of the event executions, those run by the selection's compiled form rather than graphql-js.",
  });

  private readonly inputRequests = new Counter({
    name: 'agent_gateway_input_requests_total',
    help: 'Input requests (approvals, questions, client tools) by what became of them: opened, answered, expired.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  private readonly inputWait = new Histogram({
    name: 'agent_gateway_input_wait_seconds',
    help: 'From an input request being opened to it being answered.',
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers: [this.registry],
  });

  /** What the gauges read when scraped come from: counted then rather than on every change. */
  private readonly sources = new Map<ScrapedGauge, () => number>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Counted where commands go out (store/redis/command-count.ts) and read when scraped, so that
    // sending a command costs no more than adding one.
    new Counter({
      name: 'agent_gateway_redis_commands_total',
      help: 'Commands this process sent to Redis, on every connection (a script counts once): each a round trip.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(redisCommandsSent());
      },
    });
    const scraped: Record<ScrapedGauge, string> = {
      agent_gateway_shared_event_results: 'Event results kept for the subscribers that share them (released with their last subscriber).',
      agent_gateway_document_cache_bytes: 'Size (source characters) of the GraphQL documents kept for reuse, parsed or refused.',
    };
    for (const [name, help] of Object.entries(scraped) as [ScrapedGauge, string][]) {
      const sources = this.sources;
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(sources.get(name)?.() ?? 0);
        },
      });
    }
  }

  recordTokenCheck(check: 'verified' | 'cached'): void {
    this.tokenChecks.inc({ check });
  }

  recordRunStatus(status: RunStatus): void {
    this.runs.inc({ status });
  }

  recordUsage(usage: TokenUsage): void {
    if (usage.inputTokens) this.tokens.inc({ kind: 'input' }, usage.inputTokens);
    if (usage.outputTokens) this.tokens.inc({ kind: 'output' }, usage.outputTokens);
  }

  recordInput(change: { type: 'opened' | 'expired' } | { type: 'answered'; waitedMs: number }): void {
    this.inputRequests.inc({ event: change.type });
    if (change.type === 'answered') this.inputWait.observe(Math.max(0, change.waitedMs) / 1000);
  }

  recordAppend(event: StoredEvent): void {
    this.eventsAppended.add(event.type);
  }

  recordEventExecution(compiled: boolean): void {
    this.eventExecutions.add();
    if (compiled) this.compiledEventExecutions.add();
  }

  /** Reads the gauge's value from `read` when scraped: the delivery path stays free of it. */
  observe(name: ScrapedGauge, read: () => number): void {
    this.sources.set(name, read);
  }

  subscriptionOpened(protocol: string): void {
    this.activeSubscriptions.inc({ protocol });
  }

  subscriptionClosed(protocol: string): void {
    this.activeSubscriptions.dec({ protocol });
  }

  recordDelivery(event: StoredEvent, protocol: string): void {
    this.eventsDelivered.add(protocol);
    this.deliveryLatency.observe(Math.max(0, Date.now() - this.appendedAt(event.timestamp)) / 1000);
  }

  /** The last timestamp read, and its milliseconds. */
  private lastTimestamp = '';
  private lastTimestampMs = 0;

  /**
   * An event's timestamp in milliseconds, read once for all its subscribers (and for the events
   * appended in the same millisecond, which share it) rather than once per delivery.
   */
  private appendedAt(timestamp: string): number {
    if (timestamp !== this.lastTimestamp) {
      this.lastTimestamp = timestamp;
      this.lastTimestampMs = Date.parse(timestamp);
    }
    return this.lastTimestampMs;
  }
}

/** A counter added to in plain numbers (a Map lookup and an addition), per label value, or '' without a label. */
interface ScrapedCounter {
  add(labelValue?: string): void;
}

/**
 * A prom-client counter whose counts are kept in plain numbers and handed over when it is
 * scraped: prom-client's own `inc` hashes and checks its labels on every call, which the paths
 * that count every event should not pay.
 */
function scrapedCounter(registry: Registry, { name, help, labelName }: { name: string; help: string; labelName?: string }): ScrapedCounter {
  const counts = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: labelName ? [labelName] : [],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of counts) {
        if (labelName) this.inc({ [labelName]: value }, count);
        else this.inc(count);
      }
    },
  });
  return { add: (labelValue = '') => void counts.set(labelValue, (counts.get(labelValue) ?? 0) + 1) };
}

/** A histogram observed in plain numbers (a search of its few bounds and two additions). */
interface ScrapedHistogram {
  observe(value: number): void;
}

/**
 * A histogram without labels whose observations are counted per bucket in plain numbers and
 * read when it is scraped, in the exposition prom-client's own Histogram gives (cumulative
 * `_bucket` lines by `le`, then `_sum` and `_count`): its `observe` hashes and checks labels on
 * every call, which the delivery of every event should not pay. prom-client takes any metric
 * that answers `get`; its types name only its own classes.
 */
function scrapedHistogram(registry: Registry, { name, help, buckets }: { name: string; help: string; buckets: readonly number[] }): ScrapedHistogram {
  // One count per bound, the last for values above every bound.
  const counts = new Array<number>(buckets.length + 1).fill(0);
  let sum = 0;
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      let cumulative = 0;
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = buckets.map((bound, index) => {
        cumulative += counts[index]!;
        return { labels: { le: bound }, value: cumulative, metricName: `${name}_bucket` };
      });
      const count = cumulative + counts[buckets.length]!;
      values.push({ labels: { le: '+Inf' }, value: count, metricName: `${name}_bucket` });
      return {
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: [...values, { labels: {}, value: sum, metricName: `${name}_sum` }, { labels: {}, value: count, metricName: `${name}_count` }],
      };
    },
  };
  registry.registerMetric(metric as unknown as Histogram);
  return {
    observe(value) {
      let index = 0;
      while (index < buckets.length && value > buckets[index]!) index += 1;
      counts[index]! += 1;
      sum += value;
    },
  };
}
