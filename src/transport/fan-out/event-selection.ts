/**
 * Executes a subscription's selection for one event. graphql-js walks the document and the schema
 * again for every event; graphql-jit compiles the selection once into a function that only reads
 * the event, which is most of an event's cost when nothing is shared (one subscriber). What it
 * cannot compile runs through graphql-js `execute`, and so does an event whose compiled result has
 * errors: graphql-jit words and locates errors differently (no locations, no original error behind
 * a null in a non-null field, which masking relies on), and clients must see graphql-js' errors.
 */
import { execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** Told, per event, whether the compiled selection answered it (true) or graphql-js did. */
export type ExecutedBy = (compiled: boolean) => void;

export interface EventSelection {
  /** Whether the selection compiled; events with errors still go through graphql-js. */
  readonly compiled: boolean;
  /** The result for one event; synchronous when no resolver of the selection is asynchronous. */
  execute(args: ExecutionArgs, event: unknown, executedBy: ExecutedBy): ExecutionResult | Promise<ExecutionResult>;
}

function interpret(args: ExecutionArgs, event: unknown, executedBy: ExecutedBy): Promise<ExecutionResult> {
  executedBy(false);
  return Promise.resolve(execute({ ...args, rootValue: event }));
}

const interpreted: EventSelection = { compiled: false, execute: interpret };

function compiledSelection(query: CompiledQuery): EventSelection {
  const orInterpreted = (result: ExecutionResult, args: ExecutionArgs, event: unknown, executedBy: ExecutedBy) => {
    if (result.errors) return interpret(args, event, executedBy);
    executedBy(true);
    return result;
  };
  return {
    compiled: true,
    execute: (args, event, executedBy) => {
      const result = query.query(event, args.contextValue, args.variableValues);
      return result instanceof Promise
        ? result.then((settled) => orInterpreted(settled, args, event, executedBy))
        : orInterpreted(result, args, event, executedBy);
    },
  };
}

/**
 * Compiled once per document and operation, for as long as the document lives (documents are
 * cached and reused, so subscribers opening and closing do not compile again).
 */
const selections = new WeakMap<DocumentNode, Map<string | null, EventSelection>>();

export function eventSelectionFor(args: ExecutionArgs): EventSelection {
  let byOperation = selections.get(args.document);
  if (!byOperation) selections.set(args.document, (byOperation = new Map()));
  const operationName = args.operationName ?? null;
  let selection = byOperation.get(operationName);
  if (!selection) {
    byOperation.set(operationName, (selection = compile(args)));
  }
  return selection;
}

function compile(args: ExecutionArgs): EventSelection {
  try {
    const query = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    return isCompiledQuery(query) ? compiledSelection(query) : interpreted;
  } catch {
    // graphql-js reports whatever the compiler could not handle, per event, as it always has.
    return interpreted;
  }
}
