/**
 * What every process that hosts the Runtime shares, gateway or worker: the backend it works on
 * and the Runtime's settings. Kept apart from gateway.ts so that a worker loads no Experience plane.
 */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Metrics } from './metrics.ts';
import type { Registries, RegistryOptions } from './registries.ts';
import type { EngineOptions } from './runtime/engine.ts';
import { createBackend } from './store/backends.ts';
import type { Backend, IntentQueue } from './store/interfaces.ts';
import { observeAnswers, observeSends } from './store/observed.ts';

/** Makes the backend a process works on, in place of the one the configuration asks for. */
export type BackendFactory = (config: Config, logger: Logger) => Promise<Backend>;

/** What an application gives a gateway or worker besides its settings. */
export interface HostOptions extends RegistryOptions {
  /**
   * Storage of the application's own (an out-of-tree store of record or live layer, composed
   * with `composeBackend`); default: the one the settings ask for (DATABASE_URL, REDIS_URL).
   * Gateways and their workers must be given the same.
   */
  backend?: BackendFactory;
}

/**
 * The backend the configuration (or `make`) gives, with the events its sends and answers store
 * counted in `metrics`. The Runtime's own appends (a run's events, the ends of runs) are counted
 * by the Runtime as they are stored (`onAppended`, see `runtimeSettings`): the log itself is
 * handed on as it is, with no layer in front of every append.
 */
export async function hostBackend(config: Config, logger: Logger, metrics: Metrics, make: BackendFactory = createBackend): Promise<Backend> {
  const backend = await make(config, logger);
  return {
    ...backend,
    sends: observeSends(backend.sends, (event) => metrics.recordAppend(event)),
    inputs: observeAnswers(backend.inputs, (event) => metrics.recordAppend(event)),
  };
}

/** The backend's intent queue, or why this process cannot do without one. */
export function requireIntents(backend: Backend, why: string): IntentQueue {
  if (!backend.intents) throw new Error(why);
  return backend.intents;
}

/** The Runtime's settings from the configuration, with its agents and tools, its statuses and tokens counted in `metrics`. */
export function runtimeSettings(config: Config, backend: Backend, metrics: Metrics, logger: Logger, registries: Registries): EngineOptions {
  return {
    backend,
    agents: registries.agents,
    tools: registries.tools,
    runTimeoutMs: config.RUN_TIMEOUT_MS,
    leaseMs: config.RUN_LEASE_MS,
    sweepIntervalMs: config.RUN_SWEEP_INTERVAL_MS,
    inputTimeoutMs: config.INPUT_TIMEOUT_MS,
    stepDelayMs: config.AGENT_STEP_DELAY_MS,
    appendCoalesceMs: config.APPEND_COALESCE_MS,
    historyMessages: config.AGENT_HISTORY_MESSAGES,
    logger: logger.child({ plane: 'runtime' }),
    onRunStatus: (status) => metrics.recordRunStatus(status),
    onAppended: (events) => {
      for (const event of events) metrics.recordAppend(event);
    },
    onUsage: (usage) => metrics.recordUsage(usage),
    onInput: (change) => metrics.recordInput(change),
  };
}
