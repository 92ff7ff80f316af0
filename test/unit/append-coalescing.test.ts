/**
 * A run's streamed text waiting for the coalescing window (RunAppender over an AppendWindow), over
 * the memory backend's log, with the clock in the test's hands: the first piece goes at once;
 * what the run streams within the window after an append goes out in one batch when the window
 * ends; anything else, someone waiting, or a full queue sends what waits at once; after a quiet
 * spell nothing waits; the runs waiting at once share one timer. Counted in batches stored (the
 * appender's own hook, once per append) and in timers set.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { NewEvent } from '../../src/domain/events.ts';
import { AppendWindow } from '../../src/runtime/append-window.ts';
import { RunAppender, type RunAppenderOptions } from '../../src/runtime/run-appender.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, token } from '../contract/worlds.ts';

const WINDOW_MS = 5;

let conversationId: string;
let batches: string[][];
let window: AppendWindow;

/** How the batches below name an event: a token by its delta, anything else by its type. */
const deltaOrType = (event: NewEvent) => (event.type === 'AgentToken' ? event.delta : event.type);

/** An appender over a fresh memory backend's log and the test's window, noting each batch it stores (its events' deltas or types). */
function appender(options: RunAppenderOptions = {}): RunAppender {
  const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
  return new RunAppender(backend.events, { window, ...options, hooks: { onStored: (stored) => batches.push(stored.map(deltaOrType)) } });
}

const tokens = (run: RunAppender, ...deltas: string[]) => Promise.all(deltas.map((delta) => run.emit(token(conversationId, delta))));
/** Lets the memory log's appends (settled promises) run their course; the fake clock does not move. */
const settle = () => vi.advanceTimersByTimeAsync(0);
const toolCall = (): NewEvent => ({
  type: 'ToolExecuting',
  conversationId,
  runId: 'run-1',
  agentId: 'guide',
  toolCallId: 'c1',
  toolName: 'lookup',
  arguments: {},
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  conversationId = randomUUID();
  batches = [];
  window = new AppendWindow(WINDOW_MS);
});
afterEach(() => {
  vi.useRealTimers();
});

it('sends the first piece at once and what is streamed within the window after it in one batch when the window ends', async () => {
  const run = appender();
  await tokens(run, 't1');
  await settle();
  expect(batches).toEqual([['t1']]);
  await tokens(run, 't2', 't3', 't4');
  await settle();
  expect(batches).toEqual([['t1']]);
  await vi.advanceTimersByTimeAsync(WINDOW_MS - 1);
  expect(batches).toEqual([['t1']]);
  await vi.advanceTimersByTimeAsync(1);
  expect(batches).toEqual([['t1'], ['t2', 't3', 't4']]);
});

it('holds the runs waiting at once with one timer, which fires at the earliest end of their windows', async () => {
  const first = appender();
  await tokens(first, 'a1');
  await vi.advanceTimersByTimeAsync(2);
  const second = appender();
  await tokens(second, 'b1');
  await settle();
  await tokens(first, 'a2');
  await tokens(second, 'b2');
  await settle();
  expect(vi.getTimerCount()).toBe(1);
  // The first run's window ends 3 ms from now, the second's 5: both go out at the first's end.
  await vi.advanceTimersByTimeAsync(WINDOW_MS - 2);
  expect(batches).toEqual([['a1'], ['b1'], ['a2'], ['b2']]);
  expect(vi.getTimerCount()).toBe(0);
});

it('lets nothing wait after a quiet spell longer than the window', async () => {
  const run = appender();
  await tokens(run, 't1');
  await vi.advanceTimersByTimeAsync(WINDOW_MS);
  await tokens(run, 't2');
  await settle();
  expect(batches).toEqual([['t1'], ['t2']]);
});

it('sends what waits at once, in order, with an event that is not streamed text', async () => {
  const run = appender();
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2', 't3');
  await run.emit(toolCall());
  await settle();
  expect(batches).toEqual([['t1'], ['t2', 't3', 'ToolExecuting']]);
});

it('sends what waits at once for an append someone waits for, and for a flush', async () => {
  const run = appender();
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2');
  const stored = await run.append(token(conversationId, 't3'));
  expect(stored.seq).toBe(3);
  expect(batches).toEqual([['t1'], ['t2', 't3']]);
  await tokens(run, 't4');
  await run.flush();
  expect(batches).toEqual([['t1'], ['t2', 't3'], ['t4']]);
});

it('sends at once what came behind a batch in flight when a flush waits for it, rather than holding it for the window', async () => {
  const run = appender();
  // Not streamed text: it goes out at once, and is in flight while the tokens come behind it.
  void run.emit(toolCall());
  void tokens(run, 't1', 't2');
  let flushed = false;
  void run.flush().then(() => (flushed = true));
  // The fake clock does not move: the window never ends here.
  await settle();
  expect(batches).toEqual([['ToolExecuting'], ['t1', 't2']]);
  expect(flushed).toBe(true);
});

it('sends at once once the queue is full, rather than making the run wait for room and the window both', async () => {
  const run = appender({ maxQueued: 3 });
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2', 't3');
  await settle();
  expect(batches).toEqual([['t1']]);
  await tokens(run, 't4');
  await settle();
  expect(batches).toEqual([['t1'], ['t2', 't3', 't4']]);
});

it('waits for no window when it has none: what comes after an append has settled goes at once', async () => {
  const run = appender({ window: undefined });
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2');
  await settle();
  expect(batches).toEqual([['t1'], ['t2']]);
});

it('hands over what waits for the window instead of sending it, for the run end to store in the same step', async () => {
  const run = appender();
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2', 't3');
  const held = await run.takeHeld();
  expect(held.map(deltaOrType)).toEqual(['t2', 't3']);
  // Nor does the window's end send them; the next emit starts afresh.
  await vi.advanceTimersByTimeAsync(WINDOW_MS);
  expect(batches).toEqual([['t1']]);
  await tokens(run, 't4');
  await run.flush();
  expect(batches).toEqual([['t1'], ['t4']]);
});

it('hands over nothing but what waits for the window: anything else is stored first', async () => {
  const run = appender();
  await tokens(run, 't1');
  await settle();
  await tokens(run, 't2');
  void run.emit(toolCall());
  expect(await run.takeHeld()).toEqual([]);
  expect(batches).toEqual([['t1'], ['t2', 'ToolExecuting']]);
});
