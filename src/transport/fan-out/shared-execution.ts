/**
 * Execute once, fan out many: every subscriber of a conversation receives the same events, and
 * most use the same document, so each event is executed once per (document, operation, variables
 * used inside the selection) and the result shared. Only the subscribe field's own arguments
 * (conversationId, afterSeq) differ between subscribers, and they do not shape an event's result.
 *
 * Subscribers are woken by the same append at once, so the execution itself is shared while it
 * is in flight, not only its result afterwards. What is shared lives as long as its subscribers:
 * the last one to leave releases it, so documents opened and closed leave nothing behind.
 *
 * Most conversations have one watcher, and then there is nobody to share with: a subscriber
 * alone in following its conversation with its shape has its events executed and serialized for
 * it directly, with nothing kept (keeping costs a lookup, an insertion and an eviction per event).
 */
import {
  GraphQLError,
  Kind,
  createSourceEventStream,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { PUSH, isPushable, type EventSink, type PushableEvents, type Stoppable } from '../../events/event-stream.ts';
import type { StoredEvent } from '../../domain/events.ts';
import type { Metrics } from '../../metrics.ts';
import type { PushedResults, ResultSink } from '../graphql/graphql-ws-server.ts';
import { eventSelectionFor, type EventSelection } from './event-selection.ts';

export interface SharedExecutionOptions {
  /** Results kept per shape, so that a subscriber behind the others still finds its events. */
  resultsPerShape: number;
  metrics: Metrics;
}

/** The subscribers of one document, operation and selection variables, and their events' results. */
interface Shape {
  key: string;
  subscribers: number;
  selection: EventSelection;
  /** Per event id, oldest first: the execution, in flight or done. */
  results: Map<string, ExecutionResult | Promise<ExecutionResult>>;
  /** Per conversation: how many of the subscribers follow it (counted from when they subscribe). */
  followers: Map<string, Followers>;
}

/** The subscribers of one shape that follow one conversation. */
interface Followers {
  conversationId: string;
  count: number;
}

/** Turns an error into what a client may see (error masking, as yoga does it over HTTP). */
export type MaskError = (error: unknown) => GraphQLError;

export class SharedEventExecution {
  private readonly shapes = new Map<DocumentNode, Map<string, Shape>>();
  private readonly json = new WeakMap<ExecutionResult, string>();
  private readonly resultsPerShape: number;
  private readonly metrics: Metrics;

  constructor({ resultsPerShape, metrics }: SharedExecutionOptions) {
    this.resultsPerShape = resultsPerShape;
    this.metrics = metrics;
    metrics.observe('agent_gateway_shared_event_results', () => {
      let entries = 0;
      for (const byKey of this.shapes.values()) for (const shape of byKey.values()) entries += shape.results.size;
      return entries;
    });
  }

  /**
   * graphql's `subscribe`, sharing each event's execution with the other subscribers of the same
   * shape, for subscriptions that go through yoga (Server-Sent Events), which masks the results.
   */
  async subscribe(args: ExecutionArgs): Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>> {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const shape = this.acquire(args, shapeKey(args));
    // Always shared, and counted among its conversation's followers, so that WebSocket ones share with it.
    const followers = isPushable(stream) ? this.follow(shape, stream.conversationId) : null;
    return mapEvents(
      stream,
      (event) => this.resultFor(shape, args, event),
      () => {
        if (followers) this.unfollow(shape, followers);
        this.release(args.document, shape);
      },
    );
  }

  /**
   * As `subscribe`, for the WebSocket server: the source is pushed (event-stream.ts), and each
   * result's JSON made once for every subscriber of its shape; results are masked here.
   */
  async subscribePushed(args: ExecutionArgs, maskError: MaskError): Promise<ExecutionResult | PushedResults> {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return masked(stream, maskError);
    // Every subscription field pushes its events (agentEvents is the only one): say so loudly if one does not.
    if (!isPushable(stream)) throw new Error('A subscription field returned a stream that cannot be pushed over WebSocket.');
    const shape = this.acquire(args, shapeKey(args));
    const followers = this.follow(shape, stream.conversationId);
    return { pushed: true, start: (sink) => new PushedSubscription(this, shape, followers, args, maskError, sink).start(stream) };
  }

  /** The JSON of a shared result, made by the first subscriber to send it. */
  jsonOf(result: ExecutionResult): string {
    let json = this.json.get(result);
    if (json === undefined) this.json.set(result, (json = JSON.stringify(result)));
    return json;
  }

  /** The sharing as a yoga plugin, for subscriptions over Server-Sent Events. */
  plugin(): Plugin {
    return {
      onSubscribe: ({ setSubscribeFn }) => setSubscribeFn((args) => this.subscribe(args)),
    };
  }

  /** Counts a subscriber among its shape's followers of its conversation. */
  private follow(shape: Shape, conversationId: string): Followers {
    let followers = shape.followers.get(conversationId);
    if (!followers) shape.followers.set(conversationId, (followers = { conversationId, count: 0 }));
    followers.count += 1;
    return followers;
  }

  unfollow(shape: Shape, followers: Followers): void {
    followers.count -= 1;
    if (followers.count === 0 && shape.followers.get(followers.conversationId) === followers) shape.followers.delete(followers.conversationId);
  }

  resultFor(shape: Shape, args: ExecutionArgs, event: unknown): ExecutionResult | Promise<ExecutionResult> {
    const id = (event as { id?: unknown }).id;
    if (typeof id !== 'string') return this.execute(shape, args, event);
    let result = shape.results.get(id);
    if (!result) {
      // Stored before it is awaited: the subscribers woken by the same event join it.
      result = this.execute(shape, args, event);
      shape.results.set(id, result);
      if (shape.results.size > this.resultsPerShape) shape.results.delete(shape.results.keys().next().value!);
    }
    return result;
  }

  execute(shape: Shape, args: ExecutionArgs, event: unknown): ExecutionResult | Promise<ExecutionResult> {
    try {
      return shape.selection.execute(args, event, this.recordExecution);
    } catch (error) {
      // As from graphql-js' execute, which is async: a throw reaches the subscriber as a rejection.
      return Promise.reject(error);
    }
  }

  private readonly recordExecution = (compiled: boolean) => this.metrics.recordEventExecution(compiled);

  private acquire(args: ExecutionArgs, key: string): Shape {
    let byKey = this.shapes.get(args.document);
    if (!byKey) this.shapes.set(args.document, (byKey = new Map()));
    let shape = byKey.get(key);
    if (!shape) byKey.set(key, (shape = { key, subscribers: 0, selection: eventSelectionFor(args), results: new Map(), followers: new Map() }));
    shape.subscribers += 1;
    return shape;
  }

  release(document: DocumentNode, shape: Shape): void {
    shape.subscribers -= 1;
    if (shape.subscribers > 0) return;
    const byKey = this.shapes.get(document);
    if (byKey?.get(shape.key) === shape) byKey.delete(shape.key);
    if (byKey?.size === 0) this.shapes.delete(document);
  }
}

/** The result as the client may see it; one without errors stays the shared object itself. */
function masked(result: ExecutionResult, maskError: MaskError): ExecutionResult {
  return result.errors ? { ...result, errors: result.errors.map(maskError) } : result;
}

/**
 * The operation's name and the values of the variables its selection uses (a variable used only
 * in the subscribe field's arguments does not change what an event looks like).
 */
function shapeKey(args: ExecutionArgs): string {
  const operation = args.document.definitions.find(
    (definition): definition is OperationDefinitionNode =>
      definition.kind === Kind.OPERATION_DEFINITION && (!args.operationName || definition.name?.value === args.operationName),
  );
  const used = new Set<string>();
  const collect = { Variable: (node: { name: { value: string } }) => void used.add(node.name.value) };
  for (const selection of operation?.selectionSet.selections ?? []) {
    if (selection.kind === Kind.FIELD && selection.selectionSet) visit(selection.selectionSet, collect);
    else visit(selection, collect);
  }
  for (const definition of args.document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, collect);
  }
  const values = [...used].sort().map((name) => [name, args.variableValues?.[name]]);
  return JSON.stringify([args.operationName ?? null, values]);
}

/**
 * Maps a stream of events to their results lazily, passing return() on so that the source (and
 * its follower) stops, and calling `ended` once when the stream is over, however it ends.
 */
function mapEvents(
  source: AsyncIterable<unknown> & { return?: () => Promise<unknown> },
  map: (event: unknown) => ExecutionResult | Promise<ExecutionResult>,
  ended: () => void,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    ended();
  };
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => mapped,
    async next() {
      try {
        const step = await iterator.next();
        if (step.done) {
          end();
          return { done: true, value: undefined };
        }
        return { done: false, value: await map(step.value) };
      } catch (error) {
        end();
        throw error;
      }
    },
    async return() {
      end();
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      end();
      await iterator.return?.();
      throw error;
    },
  };
  return mapped;
}

/**
 * One pushed subscription: each event's shared result handed to the sink as its JSON, in the
 * order of the events, also when some results are still being made (an asynchronous resolver):
 * those after it wait for it. Ends, however it ends, by stopping its source and releasing its shape.
 */
class PushedSubscription implements EventSink, Stoppable {
  /** The last result still being made, or null when all are sent. */
  private pending: Promise<void> | null = null;
  private over = false;
  /** Null while the source starts: it may end at once (a followed run over before it starts). */
  private source: Stoppable | null = null;

  constructor(
    private readonly shared: SharedEventExecution,
    private readonly shape: Shape,
    private readonly followers: Followers,
    private readonly args: ExecutionArgs,
    private readonly maskError: MaskError,
    private readonly sink: ResultSink,
  ) {}

  start(source: PushableEvents): this {
    const started = source[PUSH](this);
    if (this.over) started.stop();
    else this.source = started;
    return this;
  }

  stop(): void {
    this.end();
  }

  event(event: StoredEvent): void {
    // Alone in following its conversation: nobody to share the result or its JSON with.
    const alone = this.followers.count === 1;
    const result = alone ? this.shared.execute(this.shape, this.args, event) : this.shared.resultFor(this.shape, this.args, event);
    if (this.pending === null && !(result instanceof Promise)) return this.send(result, alone);
    this.after(
      () => result,
      (settled) => this.send(settled, alone),
    );
  }

  failed(error: unknown): void {
    this.after(() => this.fail(error));
  }

  completed(): void {
    this.after(() => this.end() && this.sink.complete());
  }

  private send(result: ExecutionResult, alone: boolean): void {
    if (this.over) return;
    if (result.errors) this.sink.next(JSON.stringify(masked(result, this.maskError)));
    else this.sink.next(alone ? JSON.stringify(result) : this.shared.jsonOf(result));
  }

  /** Runs `then` with what `step` makes, once everything before it is sent. */
  private after<T>(step: () => T | Promise<T>, then?: (value: T) => void): void {
    let value: T | Promise<T>;
    if (this.pending === null) {
      value = step();
      if (!(value instanceof Promise)) {
        then?.(value);
        return;
      }
    } else {
      value = this.pending.then(step);
    }
    const next: Promise<void> = value
      .then(
        (settled) => then?.(settled),
        (error: unknown) => this.fail(error),
      )
      .finally(() => {
        if (this.pending === next) this.pending = null;
      });
    this.pending = next;
  }

  /** As makeServer words a failed stream: one error, its message and extensions, masked first. */
  private fail(error: unknown): void {
    if (!this.end()) return;
    const shown = this.maskError(error);
    this.sink.error([new GraphQLError(shown.message, { originalError: shown })]);
  }

  /** Stops the source and releases the shape, once; answers whether this call did it. */
  private end(): boolean {
    if (this.over) return false;
    this.over = true;
    this.source?.stop();
    this.shared.unfollow(this.shape, this.followers);
    this.shared.release(this.args.document, this.shape);
    return true;
  }
}
