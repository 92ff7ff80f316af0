/**
 * Execute once, fan out many: every subscriber of a conversation receives the same events, and
 * most use the same document, so each event is executed once per (document, operation, variables
 * used inside the selection) and the result shared. Only the subscribe field's own arguments
 * (conversationId, afterSeq) differ between subscribers, and they do not shape an event's result.
 *
 * Subscribers are woken by the same append at once, so the execution itself is shared while it
 * is in flight, not only its result afterwards. What is shared lives as long as its subscribers:
 * the last one to leave releases it, so documents opened and closed leave nothing behind.
 */
import {
  Kind,
  createSourceEventStream,
  execute,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../metrics.ts';

export interface SharedExecutionOptions {
  /** Results kept per shape, so that a subscriber behind the others still finds its events. */
  resultsPerShape: number;
  metrics: Metrics;
}

/** The subscribers of one document, operation and selection variables, and their events' results. */
interface Shape {
  subscribers: number;
  /** Per event id, oldest first: the execution, in flight or done. */
  results: Map<string, Promise<ExecutionResult>>;
}

export function useSharedEventExecution({ resultsPerShape, metrics }: SharedExecutionOptions): Plugin {
  const shapes = new Map<DocumentNode, Map<string, Shape>>();
  metrics.observe('agent_gateway_shared_event_results', () => {
    let entries = 0;
    for (const byKey of shapes.values()) for (const shape of byKey.values()) entries += shape.results.size;
    return entries;
  });

  const acquire = (document: DocumentNode, key: string): Shape => {
    let byKey = shapes.get(document);
    if (!byKey) shapes.set(document, (byKey = new Map()));
    let shape = byKey.get(key);
    if (!shape) byKey.set(key, (shape = { subscribers: 0, results: new Map() }));
    shape.subscribers += 1;
    return shape;
  };
  const release = (document: DocumentNode, key: string, shape: Shape) => {
    shape.subscribers -= 1;
    if (shape.subscribers > 0) return;
    const byKey = shapes.get(document);
    if (byKey?.get(key) === shape) byKey.delete(key);
    if (byKey?.size === 0) shapes.delete(document);
  };
  const executeFor = (args: ExecutionArgs, event: unknown) => {
    metrics.recordEventExecution();
    return execute({ ...args, rootValue: event });
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const stream = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in stream)) return stream;
        const key = shapeKey(args);
        const shape = acquire(args.document, key);
        return mapEvents(
          stream,
          (event) => {
            const id = (event as { id?: unknown }).id;
            if (typeof id !== 'string') return executeFor(args, event);
            let result = shape.results.get(id);
            if (!result) {
              // Stored before it is awaited: the subscribers woken by the same event join it.
              result = Promise.resolve(executeFor(args, event));
              shape.results.set(id, result);
              if (shape.results.size > resultsPerShape) shape.results.delete(shape.results.keys().next().value!);
            }
            return result;
          },
          () => release(args.document, key, shape),
        );
      });
    },
  };
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
 * Maps a stream lazily, passing return() on so that the source (and its follower) stops, and
 * calling `ended` once when the stream is over, however it ends.
 */
function mapEvents<T>(
  source: AsyncIterable<unknown> & { return?: () => Promise<unknown> },
  map: (event: unknown) => T | Promise<T>,
  ended: () => void,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    ended();
  };
  const mapped: AsyncIterableIterator<T> = {
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
