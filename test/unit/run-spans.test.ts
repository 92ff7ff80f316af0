/**
 * What a run's execution logs carries the ids of its span once tracing is on (so that a log
 * line leads to the run's trace), and nothing with the API's no-op tracer.
 */
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { RunSpans } from '../../src/runtime/run-spans.ts';
import { helloRun } from '../contract/worlds.ts';

/** A logger whose lines are kept, parsed. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(stream), lines };
}

afterAll(() => trace.disable());

it("logs a run's lines with its trace and span ids when tracing is on, and without them when it is off", () => {
  const run = helloRun('conversation-1');
  const off = recordingLogger();
  new RunSpans(run, 'Hello', false).logger(off.logger).warn('off');
  expect(off.lines[0]).not.toHaveProperty('trace_id');

  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  const on = recordingLogger();
  const spans = new RunSpans(run, 'Hello', false);
  spans.logger(on.logger).warn('on');
  spans.end();
  const [span] = exporter.getFinishedSpans();
  expect(span?.name).toBe(`invoke_agent ${run.agentId}`);
  expect(on.lines[0]).toMatchObject({ msg: 'on', trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId });
});
