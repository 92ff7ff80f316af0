// Printed by `npm run settings` from settingsSchema in src/config.ts: edit there.

/**
 * The settings as an application gives them in code (`startServer({ settings })`), each over the
 * environment variable of its name; unset, the variable or the default applies.
 */
export interface SettingsOptions {
  /**
   * `production` turns off dev tokens and "Did you mean" hints, and requires AUTH_JWT_SECRET or AUTH_JWKS_URL.
   * @defaultValue `development`
   * Environment variable: `NODE_ENV`.
   */
  nodeEnv?: string;
  /**
   * Interface the gateway listens on.
   * @defaultValue `127.0.0.1`
   * Environment variable: `HOST`.
   */
  host?: string;
  /**
   * Port of the gateway (GraphQL, WebSocket, SSE, health, metrics, web page); 0 picks a free one.
   * @defaultValue `4000`
   * Environment variable: `PORT`.
   */
  port?: number;
  /**
   * pino log level.
   * @defaultValue `info`
   * Environment variable: `LOG_LEVEL`.
   */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * HS256 secret (at least 32 characters) that bearer tokens are signed with; unset outside production, a dev secret is made (shared by the instances on one REDIS_URL).
   * Environment variable: `AUTH_JWT_SECRET`.
   */
  authJwtSecret?: string;
  /**
   * An identity provider's JSON Web Key Set (e.g. https://idp.example/.well-known/jwks.json): tokens signed with its keys are accepted.
   * Environment variable: `AUTH_JWKS_URL`.
   */
  authJwksUrl?: string;
  /**
   * The `iss` that tokens verified through AUTH_JWKS_URL must carry; unset, not checked.
   * Environment variable: `AUTH_ISSUER`.
   */
  authIssuer?: string;
  /**
   * The `aud` that tokens verified through AUTH_JWKS_URL must carry; unset, not checked.
   * Environment variable: `AUTH_AUDIENCE`.
   */
  authAudience?: string;
  /**
   * Comma-separated algorithms accepted from the identity provider (AUTH_JWKS_URL); HS256 is for AUTH_JWT_SECRET alone.
   * @defaultValue `RS256,ES256`
   * Environment variable: `AUTH_JWT_ALGORITHMS`.
   */
  authJwtAlgorithms?: string;
  /**
   * The token claim that holds the tenant id.
   * @defaultValue `tid`
   * Environment variable: `AUTH_TENANT_CLAIM`.
   */
  authTenantClaim?: string;
  /**
   * Least time between two fetches of AUTH_JWKS_URL prompted by an unknown key id or a failed fetch: made-up key ids cannot flood the identity provider.
   * @defaultValue `30000`
   * Environment variable: `AUTH_JWKS_COOLDOWN_MS`.
   */
  authJwksCooldownMs?: number;
  /**
   * How long a verified token is trusted without checking its signature again (never past its exp; 0: every request is checked). Bounds how long a key removed from the identity provider's key set still lets its tokens in.
   * @defaultValue `60000`
   * Environment variable: `AUTH_TOKEN_CACHE_MS`.
   */
  authTokenCacheMs?: number;
  /**
   * How long a fetched key set is used before it is fetched again (known keys keep working while the provider is unreachable).
   * @defaultValue `600000`
   * Environment variable: `AUTH_JWKS_CACHE_MS`.
   */
  authJwksCacheMs?: number;
  /**
   * Comma-separated origins (https://app.example) whose pages may call the API from a browser; unset, only pages the gateway serves; `*` for any.
   * Environment variable: `CORS_ALLOWED_ORIGINS`.
   */
  corsAllowedOrigins?: string;
  /**
   * PostgreSQL (a `postgres://` URL) as the store of record: conversations, messages, runs, idempotency keys and every event; `npm run migrate` applies its schema. A `file:///` URL (an absolute path, e.g. file:///var/lib/agent-gateway) runs that PostgreSQL in this process instead (PGlite), in that data folder: one instance, whose history survives restarts with no server.
   * Environment variable: `DATABASE_URL`.
   */
  databaseUrl?: string;
  /**
   * Redis shared by every instance; unset, all state lives in the process.
   * Environment variable: `REDIS_URL`.
   */
  redisUrl?: string;
  /**
   * Instead of REDIS_URL, a Redis Cluster (comma-separated redis:// URLs of some of its nodes): alone, the store of record and the live layer, as REDIS_URL is; beside DATABASE_URL, the live layer. Each conversation in one slot, its events fanned out over sharded pub/sub.
   * Environment variable: `REDIS_CLUSTER_NODES`.
   */
  redisClusterNodes?: string;
  /**
   * Prepended to every Redis key and channel, so that deployments can share one Redis.
   * @defaultValue `agw:`
   * Environment variable: `REDIS_KEY_PREFIX`.
   */
  redisKeyPrefix?: string;
  /**
   * How long a Redis lock outlives an instance that died holding it (its holder extends it while alive).
   * @defaultValue `5000`
   * Environment variable: `REDIS_LOCK_TTL_MS`.
   */
  redisLockTtlMs?: number;
  /**
   * With DATABASE_URL: how long Redis keeps a conversation's newest events after its last one, so that replays and followers catching up need not read PostgreSQL.
   * @defaultValue `600000`
   * Environment variable: `REDIS_HOT_WINDOW_MS`.
   */
  redisHotWindowMs?: number;
  /**
   * Where runs execute: `embedded` in the gateway that accepted them, or `workers` (`npm run worker`) fed through Redis.
   * @defaultValue `embedded`
   * Environment variable: `RUN_EXECUTION`.
   */
  runExecution?: 'embedded' | 'workers';
  /**
   * How many runs one worker executes at once.
   * @defaultValue `4`
   * Environment variable: `WORKER_CONCURRENCY`.
   */
  workerConcurrency?: number;
  /**
   * How long a worker stopping on SIGTERM lets its runs finish before ending them (SHUTDOWN, retryable).
   * @defaultValue `30000`
   * Environment variable: `WORKER_SHUTDOWN_GRACE_MS`.
   */
  workerShutdownGraceMs?: number;
  /**
   * How long a gateway stopping on SIGTERM lets the runs it executes (RUN_EXECUTION=embedded) finish before ending them (SHUTDOWN, retryable).
   * @defaultValue `30000`
   * Environment variable: `GATEWAY_SHUTDOWN_GRACE_MS`.
   */
  gatewayShutdownGraceMs?: number;
  /**
   * Where a worker serves /healthz, /readyz and /metrics (on HOST); 0 picks a free port.
   * @defaultValue `4100`
   * Environment variable: `WORKER_PORT`.
   */
  workerPort?: number;
  /**
   * A run longer than this ends with AgentFailed TIMEOUT.
   * @defaultValue `120000`
   * Environment variable: `RUN_TIMEOUT_MS`.
   */
  runTimeoutMs?: number;
  /**
   * A run whose executing instance stops renewing its lease for this long is ended as WORKER_LOST.
   * @defaultValue `15000`
   * Environment variable: `RUN_LEASE_MS`.
   */
  runLeaseMs?: number;
  /**
   * How often each instance looks for runs whose lease ran out.
   * @defaultValue `5000`
   * Environment variable: `RUN_SWEEP_INTERVAL_MS`.
   */
  runSweepIntervalMs?: number;
  /**
   * How long a question or approval an agent asks a person stays open; unanswered, it expires and the run ends with AgentFailed INPUT_EXPIRED.
   * @defaultValue `86400000`
   * Environment variable: `INPUT_TIMEOUT_MS`.
   */
  inputTimeoutMs?: number;
  /**
   * Comma-separated names of registered tools that need a person's approval before each call (`*` for every tool), besides those whose definition says so.
   * Environment variable: `TOOLS_REQUIRING_APPROVAL`.
   */
  toolsRequiringApproval?: string;
  /**
   * How long a settled clientMessageId is remembered.
   * @defaultValue `86400000`
   * Environment variable: `IDEMPOTENCY_TTL_MS`.
   */
  idempotencyTtlMs?: number;
  /**
   * Pause of the built-in agents between steps (a realistic pace; tests set 0).
   * @defaultValue `40`
   * Environment variable: `AGENT_STEP_DELAY_MS`.
   */
  agentStepDelayMs?: number;
  /**
   * Streamed text (tokens, thinking) a run emits less than this many ms after its previous append waits until then and is stored in one append (0: only what comes while an append is in flight goes together).
   * @defaultValue `1`
   * Environment variable: `APPEND_COALESCE_MS`.
   */
  appendCoalesceMs?: number;
  /**
   * Most recent messages of its conversation that an agent sees in a run, ending with the message it answers.
   * @defaultValue `200`
   * Environment variable: `AGENT_HISTORY_MESSAGES`.
   */
  agentHistoryMessages?: number;
  /**
   * Total size (as JSON) of the newest messages kept for the conversations read lately, so that a run's history read asks its store of record (Redis or PostgreSQL) only for what was stored since; the least recently read go first (0: none kept).
   * @defaultValue `16777216`
   * Environment variable: `HISTORY_CACHE_BYTES`.
   */
  historyCacheBytes?: number;
  /**
   * Longest message text, in characters.
   * @defaultValue `8000`
   * Environment variable: `MAX_TEXT_LENGTH`.
   */
  maxTextLength?: number;
  /**
   * Largest `context` of a send, in bytes of JSON.
   * @defaultValue `65536`
   * Environment variable: `MAX_CONTEXT_BYTES`.
   */
  maxContextBytes?: number;
  /**
   * Deepest nesting of objects and lists in a send's `context`.
   * @defaultValue `32`
   * Environment variable: `MAX_CONTEXT_DEPTH`.
   */
  maxContextDepth?: number;
  /**
   * Longest clientMessageId, in characters.
   * @defaultValue `128`
   * Environment variable: `MAX_CLIENT_MESSAGE_ID_LENGTH`.
   */
  maxClientMessageIdLength?: number;
  /**
   * Runs waiting in one conversation at which sends answer RATE_LIMITED.
   * @defaultValue `20`
   * Environment variable: `MAX_QUEUED_RUNS_PER_CONVERSATION`.
   */
  maxQueuedRunsPerConversation?: number;
  /**
   * With RUN_EXECUTION=workers: runs waiting for a worker at which sends answer RATE_LIMITED.
   * @defaultValue `10000`
   * Environment variable: `MAX_QUEUED_RUNS`.
   */
  maxQueuedRuns?: number;
  /**
   * Events kept per conversation for replay; older ones answer EVENTS_EXPIRED.
   * @defaultValue `10000`
   * Environment variable: `EVENT_RETENTION_COUNT`.
   */
  eventRetentionCount?: number;
  /**
   * Age after which events are no longer kept for replay.
   * @defaultValue `604800000`
   * Environment variable: `EVENT_RETENTION_MS`.
   */
  eventRetentionMs?: number;
  /**
   * Live events buffered per subscription before it reads from the log instead.
   * @defaultValue `1000`
   * Environment variable: `SUBSCRIBER_BUFFER_EVENTS`.
   */
  subscriberBufferEvents?: number;
  /**
   * Event results kept per subscription document and variables, for subscribers catching up; released with the last subscriber.
   * @defaultValue `1024`
   * Environment variable: `SHARED_EVENT_RESULTS`.
   */
  sharedEventResults?: number;
  /**
   * Total size (source characters) of the GraphQL documents whose parse and validation, or parse error, are kept for reuse; the least recently used go first.
   * @defaultValue `1048576`
   * Environment variable: `DOCUMENT_CACHE_BYTES`.
   */
  documentCacheBytes?: number;
  /**
   * Unsent bytes at which a slow WebSocket is closed with 1013 (the client resumes).
   * @defaultValue `4194304`
   * Environment variable: `WS_MAX_BUFFERED_BYTES`.
   */
  wsMaxBufferedBytes?: number;
  /**
   * Frames for a WebSocket that wrote less than this many ms ago wait until then and go out in one write; while the server is busy (its event loop waited less than this since the socket's last write), they wait for the loop's next turn (0: only the frames of one tick go together).
   * @defaultValue `1`
   * Environment variable: `WS_COALESCE_MS`.
   */
  wsCoalesceMs?: number;
  /**
   * Largest WebSocket message accepted from a client.
   * @defaultValue `262144`
   * Environment variable: `WS_MAX_PAYLOAD_BYTES`.
   */
  wsMaxPayloadBytes?: number;
  /**
   * Operations open at once on one WebSocket (subscriptions, and queries or mutations in flight); one more gets an error.
   * @defaultValue `100`
   * Environment variable: `WS_MAX_SUBSCRIPTIONS_PER_SOCKET`.
   */
  wsMaxSubscriptionsPerSocket?: number;
  /**
   * Open WebSockets per user on one instance; one more is closed with 4429.
   * @defaultValue `20`
   * Environment variable: `WS_MAX_SOCKETS_PER_USER`.
   */
  wsMaxSocketsPerUser?: number;
  /**
   * Messages a WebSocket may send per second (bursts up to as many); a faster one is closed with 4429.
   * @defaultValue `100`
   * Environment variable: `WS_MAX_MESSAGES_PER_SECOND`.
   */
  wsMaxMessagesPerSecond?: number;
  /**
   * How long a new WebSocket may take to send connection_init before it is closed with 4408.
   * @defaultValue `5000`
   * Environment variable: `WS_CONNECTION_INIT_TIMEOUT_MS`.
   */
  wsConnectionInitTimeoutMs?: number;
  /**
   * Largest HTTP request body, by its Content-Length (as WS_MAX_PAYLOAD_BYTES bounds a WebSocket message); larger is refused with 413 unread.
   * @defaultValue `262144`
   * Environment variable: `MAX_REQUEST_BYTES`.
   */
  maxRequestBytes?: number;
  /**
   * Most lexical tokens in one GraphQL document; a longer one is refused unread.
   * @defaultValue `2000`
   * Environment variable: `MAX_OPERATION_TOKENS`.
   */
  maxOperationTokens?: number;
  /**
   * Deepest nesting of fields in one operation (fragments flattened, introspection exempt).
   * @defaultValue `10`
   * Environment variable: `MAX_OPERATION_DEPTH`.
   */
  maxOperationDepth?: number;
  /**
   * Most aliases in one operation.
   * @defaultValue `30`
   * Environment variable: `MAX_OPERATION_ALIASES`.
   */
  maxOperationAliases?: number;
  /**
   * Most directives in one operation.
   * @defaultValue `20`
   * Environment variable: `MAX_OPERATION_DIRECTIVES`.
   */
  maxOperationDirectives?: number;
  /**
   * Highest cost of one operation: each field counts 1, and a list field counts its selection once per item of its first/last (or their default).
   * @defaultValue `20000`
   * Environment variable: `MAX_OPERATION_COST`.
   */
  maxOperationCost?: number;
  /**
   * Sends per user per SEND_RATE_WINDOW_MS before RATE_LIMITED.
   * @defaultValue `120`
   * Environment variable: `SEND_RATE_LIMIT`.
   */
  sendRateLimit?: number;
  /**
   * Window of SEND_RATE_LIMIT.
   * @defaultValue `60000`
   * Environment variable: `SEND_RATE_WINDOW_MS`.
   */
  sendRateWindowMs?: number;
  /**
   * OpenAI-compatible endpoint (e.g. http://127.0.0.1:11434/v1); with LLM_MODEL, the guide and liaisons run on that model. Unset: the deterministic agents.
   * Environment variable: `LLM_BASE_URL`.
   */
  llmBaseUrl?: string;
  /**
   * The model the guide and liaisons run on at LLM_BASE_URL.
   * Environment variable: `LLM_MODEL`.
   */
  llmModel?: string;
  /**
   * Bearer key for LLM_BASE_URL, when the endpoint needs one.
   * Environment variable: `LLM_API_KEY`.
   */
  llmApiKey?: string;
  /**
   * Model calls per agent turn at most, tool round trips included.
   * @defaultValue `5`
   * Environment variable: `LLM_MAX_STEPS`.
   */
  llmMaxSteps?: number;
  /**
   * Retries of a model request that failed before streaming anything (429, 5xx, refused).
   * @defaultValue `2`
   * Environment variable: `LLM_MAX_RETRIES`.
   */
  llmMaxRetries?: number;
  /**
   * JSON list of remote AG-UI agents, each {id, name, description, kind, pillar, url, headers}, added to the registry.
   * Environment variable: `REMOTE_AGENTS`.
   */
  remoteAgents?: string;
}
