/**
 * The one place where subscriptions are counted, whatever protocol serves them (GraphQL, AG-UI,
 * the AI SDK's stream, the older sockets): the stream is open from its first read or push until
 * it ends or is stopped, and every event handed on is a delivery. The protocol is an opaque label.
 */
import type { StoredEvent } from '../domain/events.ts';
import type { Metrics } from '../metrics.ts';
import type { EventSink, EventStream, Stoppable } from './event-stream.ts';

export function countedStream(stream: EventStream, metrics: Metrics, protocol: string): EventStream {
  return new CountedStream(stream, metrics, protocol);
}

class CountedStream implements EventStream {
  constructor(
    private readonly stream: EventStream,
    private readonly metrics: Metrics,
    private readonly protocol: string,
  ) {}

  async *iterate(signal: AbortSignal): AsyncGenerator<StoredEvent> {
    const { metrics, protocol } = this;
    metrics.subscriptionOpened(protocol);
    try {
      for await (const event of this.stream.iterate(signal)) {
        metrics.recordDelivery(event, protocol);
        yield event;
      }
    } finally {
      metrics.subscriptionClosed(protocol);
    }
  }

  push(sink: EventSink): Stoppable {
    const counting = new CountingSink(sink, this.metrics, this.protocol);
    counting.upstream = this.stream.push(counting);
    return counting;
  }
}

/** Classes rather than closures, as in event-stream.ts: an idle subscriber holds one object here. */
class CountingSink implements EventSink, Stoppable {
  upstream: Stoppable | null = null;
  private open = true;

  constructor(
    private readonly sink: EventSink,
    private readonly metrics: Metrics,
    private readonly protocol: string,
  ) {
    metrics.subscriptionOpened(protocol);
  }

  event(event: StoredEvent): void {
    this.metrics.recordDelivery(event, this.protocol);
    this.sink.event(event);
  }

  failed(error: unknown): void {
    this.close();
    this.sink.failed(error);
  }

  completed(): void {
    this.close();
    this.sink.completed();
  }

  stop(): void {
    this.close();
    this.upstream?.stop();
  }

  private close(): void {
    if (!this.open) return;
    this.open = false;
    this.metrics.subscriptionClosed(this.protocol);
  }
}
