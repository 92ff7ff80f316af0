/**
 * Composes the planes for one process: the backend, the Runtime with the built-in agents, the
 * Experience plane's services, auth and metrics. The transports (server.ts) only call into this.
 */
import type { Logger } from 'pino';
import type { AgentDefinition } from './agents/contract.ts';
import type { Config } from './config.ts';
import { Authenticator, authSettings } from './experience/auth.ts';
import { signingSecret } from './experience/dev-secret.ts';
import { ConversationService } from './experience/conversations.ts';
import { Metrics } from './metrics.ts';
import { createRegistries, type Registries } from './registries.ts';
import { Runtime } from './runtime/runtime.ts';
import { hostBackend, requireIntents, runtimeSettings, type HostOptions } from './runtime-host.ts';
import type { Backend } from './store/interfaces.ts';

export interface Gateway {
  config: Config;
  backend: Backend;
  runtime: Runtime;
  conversations: ConversationService;
  auth: Authenticator;
  agents: readonly AgentDefinition[];
  /** The agents and tools runs execute with; workers of this gateway need the same. */
  registries: Registries;
  metrics: Metrics;
  logger: Logger;
  /** Ends in-flight runs per the contract and releases the backend. */
  close(): Promise<void>;
}

export async function createGateway(config: Config, logger: Logger, options: HostOptions = {}): Promise<Gateway> {
  const registries = createRegistries(config, options);
  const metrics = new Metrics();
  const backend = await hostBackend(config, logger, metrics, options.backend);
  const signing = await signingSecret(config);
  const runtime = new Runtime({
    ...runtimeSettings(config, backend, metrics, logger, registries),
    // Left to workers: this gateway stores and queues runs and hands each to them in an intent.
    ...(config.RUN_EXECUTION === 'workers' && {
      workers: { queue: requireIntents(backend, 'RUN_EXECUTION=workers requires REDIS_URL.'), maxQueuedRuns: config.MAX_QUEUED_RUNS },
    }),
  });
  const conversations = new ConversationService({
    backend,
    runtime,
    agents: registries.agents,
    limits: {
      maxTextLength: config.MAX_TEXT_LENGTH,
      maxContextBytes: config.MAX_CONTEXT_BYTES,
      maxContextDepth: config.MAX_CONTEXT_DEPTH,
      maxClientMessageIdLength: config.MAX_CLIENT_MESSAGE_ID_LENGTH,
      maxQueuedRunsPerConversation: config.MAX_QUEUED_RUNS_PER_CONVERSATION,
      sendRateLimit: config.SEND_RATE_LIMIT,
      sendRateWindowMs: config.SEND_RATE_WINDOW_MS,
      subscriberBufferEvents: config.SUBSCRIBER_BUFFER_EVENTS,
    },
  });
  return {
    config,
    backend,
    runtime,
    conversations,
    auth: new Authenticator(authSettings(config, signing), logger, (check) => metrics.recordTokenCheck(check)),
    agents: registries.agents.list(),
    registries,
    metrics,
    logger,
    async close() {
      await runtime.shutdown();
      await backend.close();
    },
  };
}
