/**
 * Execute once, fan out many: every subscriber of a conversation receives the same events, and
 * most use the same document, so each event is executed once per (document, operation, variables
 * used inside the selection) and the result shared. Only the subscribe field's own arguments
 * (conversationId, afterSeq) differ between subscribers, and they do not shape an event's result.
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

/** Results kept per document and operation: enough for every subscriber to catch up on a burst. */
const RESULTS_PER_SHAPE = 1024;

type Shape = Map<string, ExecutionResult>;

export function useSharedEventExecution(): Plugin {
  const shapes = new WeakMap<DocumentNode, Map<string, Shape>>();
  const shapeFor = (args: ExecutionArgs): Shape => {
    let byKey = shapes.get(args.document);
    if (!byKey) shapes.set(args.document, (byKey = new Map()));
    const key = shapeKey(args);
    let shape = byKey.get(key);
    if (!shape) byKey.set(key, (shape = new Map()));
    return shape;
  };
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const stream = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in stream)) return stream;
        const shape = shapeFor(args);
        return mapEvents(stream, async (event) => {
          const id = (event as { id?: unknown }).id;
          if (typeof id !== 'string') return execute({ ...args, rootValue: event });
          const known = shape.get(id);
          if (known) return known;
          const result = await execute({ ...args, rootValue: event });
          shape.set(id, result);
          if (shape.size > RESULTS_PER_SHAPE) shape.delete(shape.keys().next().value!);
          return result;
        });
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

/** Maps a stream lazily, passing return() on so that the source (and its follower) stops. */
function mapEvents<T>(
  source: AsyncIterable<unknown> & { return?: () => Promise<unknown> },
  map: (event: unknown) => Promise<T>,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const mapped: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => mapped,
    async next() {
      const step = await iterator.next();
      return step.done ? { done: true, value: undefined } : { done: false, value: await map(step.value) };
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error;
    },
  };
  return mapped;
}
