/**
 * The one event every server under test delivers: an AgentToken as our schema shapes it, padded
 * so that a delivered frame is about FRAME_BYTES long, carrying the wall-clock time it was
 * published (performance.timeOrigin + now(): sub-millisecond, and shared by processes of a machine).
 */
export const FRAME_BYTES = 390;

export const SUBSCRIPTION = /* GraphQL */ `
  subscription Events($conversationId: ID!) {
    agentEvents(conversationId: $conversationId) {
      __typename
      id
      seq
      conversationId
      runId
      agentId
      timestamp
      ... on AgentToken {
        delta
      }
    }
  }
`;

export const wallClockMs = () => performance.timeOrigin + performance.now();

export interface BenchEvent {
  __typename: 'AgentToken';
  id: string;
  seq: number;
  conversationId: string;
  runId: string;
  agentId: string;
  timestamp: string;
  delta: string;
}

/** The delta: publish time first (what subscribers read back), then padding up to the frame size. */
export function deltaFor(conversationId: string): string {
  const overhead = 250 + conversationId.length * 2;
  return `${wallClockMs().toFixed(3)} `.padEnd(Math.max(20, FRAME_BYTES - overhead), 'x');
}

export function benchEvent(conversationId: string, seq: number): BenchEvent {
  return {
    __typename: 'AgentToken',
    id: `${conversationId}:${seq}`,
    seq,
    conversationId,
    runId: 'bench-run',
    agentId: 'guide',
    timestamp: new Date().toISOString(),
    delta: deltaFor(conversationId),
  };
}

/** The publish time inside a delivered frame, without parsing all of it. */
export function publishedAt(frame: string): number {
  const start = frame.indexOf('"delta":"');
  return start < 0 ? NaN : Number.parseFloat(frame.slice(start + 9, start + 30));
}

/** What every server's bench agent streams: word-sized deltas, as a model's reply arrives. */
export const RUN_DELTA = 'word ';

/** Events a run of `tokens` tokens delivers: ours has MessageCreated, AgentStarted and the terminal event besides. */
export const eventsPerRun = (tokens: number) => tokens + 3;

const runSeqs = new Map<string, number>();

/**
 * A run as the baselines (the floor, the typical stack) stream it: `eventsPerRun(tokens)` events,
 * one per macrotask, as a model's deltas come in one network read at a time and as ours' bench
 * agent streams them.
 */
export async function streamRun(conversationId: string, tokens: number, publish: (event: BenchEvent) => unknown): Promise<void> {
  for (let index = 0; index < eventsPerRun(tokens); index += 1) {
    const seq = (runSeqs.get(conversationId) ?? 0) + 1;
    runSeqs.set(conversationId, seq);
    await publish({ ...benchEvent(conversationId, seq), delta: RUN_DELTA });
    await new Promise((resolve) => setImmediate(resolve));
  }
}
