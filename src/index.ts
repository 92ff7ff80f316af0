/**
 * The gateway as a library: an application starts a gateway (and, with RUN_EXECUTION=workers,
 * workers) with its own agents and tools beside, or in place of, the built-in ones.
 *
 *   import { startServer, AgentError } from 'agent-gateway';
 *   await startServer({ agents: [myAgent], settings: { port: 4000 } });
 *
 * Gateways and their workers must be given the same agents and tools.
 */
import type { Logger } from 'pino';
import { configFrom, loggerFrom, type LogSink } from './application-options.ts';
import type { HostOptions } from './runtime-host.ts';
import type { SettingsOptions } from './settings-options.ts';
import { createGatewayHandler as mountGatewayHandler, startServer as startGatewayServer, type GatewayHandler, type RunningServer } from './server.ts';
import { startWorker as startWorkerProcess, type RunningWorker } from './worker-process.ts';

export interface StartOptions extends HostOptions {
  /** Settings (docs/settings.md) in camelCase, over the environment variables of their names. */
  settings?: SettingsOptions;
  /** Where to log: a pino logger, or any logger with error, warn and info (default: pino to stdout at logLevel). */
  logger?: Logger | LogSink;
}

/** Starts a gateway: GraphQL over HTTP, WebSocket and SSE, health, metrics and the web page on one port. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const config = configFrom(options.settings);
  return startGatewayServer(config, loggerFrom(options.logger, config, 'agent-gateway'), options);
}

/**
 * The gateway as handlers for the application's own server: `handleRequest(request, response,
 * next?)` as Node request handler or Express middleware, and `attach(server)` (or
 * `handleUpgrade`) for its WebSockets. Settings that concern listening (host, port) do not apply.
 */
export async function createGatewayHandler(options: StartOptions & { webPage?: boolean } = {}): Promise<GatewayHandler> {
  const config = configFrom(options.settings);
  return mountGatewayHandler(config, loggerFrom(options.logger, config, 'agent-gateway'), options);
}

/** Starts a worker that executes the runs gateways with RUN_EXECUTION=workers hand over (needs REDIS_URL). */
export async function startWorker(options: StartOptions = {}): Promise<RunningWorker> {
  const config = configFrom(options.settings);
  return startWorkerProcess(config, loggerFrom(options.logger, config, 'agent-gateway-worker'), options);
}

/**
 * Starts OpenTelemetry tracing as `npm start` and `npm run worker` do, from the OTEL_* variables
 * (docs/tracing.md): call it before starting the gateway. Without an OTLP endpoint it does
 * nothing and loads nothing. An application with an SDK of its own registers that instead.
 */
export { startTracing, type Tracing } from './tracing/sdk.ts';
export type { CloseOptions, GatewayHandler, RunningServer } from './server.ts';
export type { RunningWorker } from './worker-process.ts';
export type { Config } from './config.ts';
export type { SettingsOptions } from './settings-options.ts';
export type { LogSink } from './application-options.ts';
export type { BackendFactory } from './runtime-host.ts';
export { composeBackend } from './store/compose.ts';
export type { Backend, EventFanout, LiveLayer, RecordStore, RunFences } from './store/interfaces.ts';
export type { EventLog, RecordLog } from './store/event-log.ts';
export { createMemoryLiveLayer } from './store/memory/index.ts';

type RedisLiveLayerFactory = typeof import('./store/redis/index.ts').createRedisLiveLayer;
type PostgresRecordStoreFactory = typeof import('./store/postgres/index.ts').createPostgresRecordStore;

/** Redis as the live layer of a composition of the application's own (its client is loaded only when called). */
export async function createRedisLiveLayer(...args: Parameters<RedisLiveLayerFactory>): ReturnType<RedisLiveLayerFactory> {
  return (await import('./store/redis/index.ts')).createRedisLiveLayer(...args);
}

/** PostgreSQL as the store of record of a composition of the application's own (its client is loaded only when called). */
export async function createPostgresRecordStore(...args: Parameters<PostgresRecordStoreFactory>): ReturnType<PostgresRecordStoreFactory> {
  return (await import('./store/postgres/index.ts')).createPostgresRecordStore(...args);
}
export type { AgentContext, AgentDefinition, AgentDirectory, Question, ResumedWork, ToolDescription } from './agents/contract.ts';
export type { AgentId, AttachedFile, Pillar, Surface } from './domain/product.ts';
export { AGENT_ID_PATTERN } from './domain/product.ts';
export { AgentError, ToolDeniedError } from './agents/errors.ts';
export { BUILT_IN_AGENTS } from './agents/index.ts';
export type { AgentsOption } from './agents/registry.ts';
export { llmAgent, type LlmAgentOptions } from './agents/llm/llm-agent.ts';
export { openAICompatibleModel, type OpenAICompatibleModelOptions } from './agents/llm/openai-compatible.ts';
export { agUiAgent, type AgUiAgentOptions } from './agents/ag-ui/ag-ui-agent.ts';
export type { ToolApprovalContext, ToolDefinition, ToolScope, ToolsOption } from './runtime/tools.ts';
export { PLATFORM_TOOLS } from './runtime/platform-tools.ts';
export { PLATFORM_ARTIFACTS, type ArtifactOf, type ArtifactSpec } from './agents/platform-artifacts.ts';
export type { ArtifactKind } from './domain/events.ts';
export type { AgentErrorInfo, TokenUsage, MessageRecord, RunInput, InputKind, InputRequestRecord, InputResponse, InputStatus } from './domain/records.ts';
