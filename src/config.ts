/**
 * Every setting in one place, parsed and validated once from the environment, each with its
 * default. Anything invalid stops the process at start with a message naming the setting.
 */
import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_KINDS, PILLARS } from './domain/product.ts';

const ALGORITHM = String.raw`(?:(?:RS|PS|ES)(?:256|384|512)|EdDSA)`;
/** A comma-separated list of asymmetric JWS algorithms: a key set never holds shared secrets. */
const ASYMMETRIC_ALGORITHMS = new RegExp(String.raw`^\s*${ALGORITHM}\s*(?:,\s*${ALGORITHM}\s*)*$`);

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/** One remote AG-UI agent of REMOTE_AGENTS. */
const remoteAgentSchema = z.object({
  id: z.string().regex(AGENT_ID_PATTERN, `an agent id must match ${AGENT_ID_PATTERN}`),
  name: z.string().min(1),
  description: z.string().default(''),
  kind: z.enum(AGENT_KINDS).default('LIAISON'),
  pillar: z.enum(PILLARS).nullable().default(null),
  url: z.string().url(),
  headers: z.record(z.string(), z.string()).default({}),
});

const jsonText = z.string().transform((text, context) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    context.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
});

/**
 * The settings: each is read from the environment variable of its name, with its default and a
 * one-line meaning (`.describe`), the single source the README's settings table is printed from.
 */
export const settingsSchema = z.object({
  NODE_ENV: z
    .string()
    .default('development')
    .describe('`production` turns off dev tokens and "Did you mean" hints, and requires AUTH_JWT_SECRET or AUTH_JWKS_URL.'),
  HOST: z.string().default('127.0.0.1').describe('Interface the gateway listens on.'),
  PORT: int(4000).describe('Port of the gateway (GraphQL, WebSocket, SSE, health, metrics, web page); 0 picks a free one.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
  AUTH_JWT_SECRET: z
    .string()
    .min(32, 'AUTH_JWT_SECRET must be at least 32 characters')
    .optional()
    .describe(
      'HS256 secret (at least 32 characters) that bearer tokens are signed with; unset outside production, a dev secret is made (shared by the instances on one REDIS_URL).',
    ),
  AUTH_JWKS_URL: z
    .string()
    .url()
    .optional()
    .describe("An identity provider's JSON Web Key Set (e.g. https://idp.example/.well-known/jwks.json): tokens signed with its keys are accepted."),
  AUTH_ISSUER: z.string().optional().describe('The `iss` that tokens verified through AUTH_JWKS_URL must carry; unset, not checked.'),
  AUTH_AUDIENCE: z.string().optional().describe('The `aud` that tokens verified through AUTH_JWKS_URL must carry; unset, not checked.'),
  AUTH_JWT_ALGORITHMS: z
    .string()
    .regex(ASYMMETRIC_ALGORITHMS, 'AUTH_JWT_ALGORITHMS must list asymmetric JWS algorithms, such as RS256,ES256')
    .default('RS256,ES256')
    .describe('Comma-separated algorithms accepted from the identity provider (AUTH_JWKS_URL); HS256 is for AUTH_JWT_SECRET alone.'),
  AUTH_TENANT_CLAIM: z.string().min(1).default('tid').describe('The token claim that holds the tenant id.'),
  AUTH_JWKS_COOLDOWN_MS: int(30_000).describe(
    'Least time between two fetches of AUTH_JWKS_URL prompted by an unknown key id or a failed fetch: made-up key ids cannot flood the identity provider.',
  ),
  AUTH_TOKEN_CACHE_MS: int(60_000).describe(
    "How long a verified token is trusted without checking its signature again (never past its exp; 0: every request is checked). Bounds how long a key removed from the identity provider's key set still lets its tokens in.",
  ),
  AUTH_JWKS_CACHE_MS: int(600_000).describe(
    'How long a fetched key set is used before it is fetched again (known keys keep working while the provider is unreachable).',
  ),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .describe('Comma-separated origins (https://app.example) whose pages may call the API from a browser; unset, only pages the gateway serves; `*` for any.'),
  DATABASE_URL: z
    .string()
    .url()
    .regex(/^(postgres(ql)?:\/\/|file:\/\/\/)/, 'DATABASE_URL must be a postgres:// URL, or a file:/// URL of a data folder (an absolute path)')
    .optional()
    .describe(
      'PostgreSQL (a `postgres://` URL) as the store of record: conversations, messages, runs, idempotency keys and every event; `npm run migrate` applies its schema. ' +
        'A `file:///` URL (an absolute path, e.g. file:///var/lib/agent-gateway) runs that PostgreSQL in this process instead (PGlite), in that data folder: one instance, whose history survives restarts with no server.',
    ),
  REDIS_URL: z.string().url().optional().describe('Redis shared by every instance; unset, all state lives in the process.'),
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().url()).min(1))
    .optional()
    .describe(
      'Instead of REDIS_URL, a Redis Cluster (comma-separated redis:// URLs of some of its nodes): alone, the store of record and the live layer, as REDIS_URL is; beside DATABASE_URL, the live layer. Each conversation in one slot, its events fanned out over sharded pub/sub.',
    ),
  REDIS_KEY_PREFIX: z.string().default('agw:').describe('Prepended to every Redis key and channel, so that deployments can share one Redis.'),
  // Short, since a conversation waits that long after such a death; longer than any pause.
  REDIS_LOCK_TTL_MS: int(5_000, 100).describe('How long a Redis lock outlives an instance that died holding it (its holder extends it while alive).'),
  REDIS_HOT_WINDOW_MS: int(600_000, 1).describe(
    "With DATABASE_URL: how long Redis keeps a conversation's newest events after its last one, so that replays and followers catching up need not read PostgreSQL.",
  ),
  RUN_EXECUTION: z
    .enum(['embedded', 'workers'])
    .default('embedded')
    .describe('Where runs execute: `embedded` in the gateway that accepted them, or `workers` (`npm run worker`) fed through Redis.'),
  WORKER_CONCURRENCY: int(4, 1).describe('How many runs one worker executes at once.'),
  WORKER_SHUTDOWN_GRACE_MS: int(30_000).describe('How long a worker stopping on SIGTERM lets its runs finish before ending them (SHUTDOWN, retryable).'),
  GATEWAY_SHUTDOWN_GRACE_MS: int(30_000).describe(
    'How long a gateway stopping on SIGTERM lets the runs it executes (RUN_EXECUTION=embedded) finish before ending them (SHUTDOWN, retryable).',
  ),
  WORKER_PORT: int(4100).describe('Where a worker serves /healthz, /readyz and /metrics (on HOST); 0 picks a free port.'),
  RUN_TIMEOUT_MS: int(120_000, 1).describe('A run longer than this ends with AgentFailed TIMEOUT.'),
  RUN_LEASE_MS: int(15_000, 100).describe('A run whose executing instance stops renewing its lease for this long is ended as WORKER_LOST.'),
  RUN_SWEEP_INTERVAL_MS: int(5_000, 10).describe('How often each instance looks for runs whose lease ran out.'),
  INPUT_TIMEOUT_MS: int(24 * 3600 * 1000, 1).describe(
    'How long a question or approval an agent asks a person stays open; unanswered, it expires and the run ends with AgentFailed INPUT_EXPIRED.',
  ),
  TOOLS_REQUIRING_APPROVAL: z
    .string()
    .optional()
    .describe(
      "Comma-separated names of registered tools that need a person's approval before each call (`*` for every tool), besides those whose definition says so.",
    ),
  IDEMPOTENCY_TTL_MS: int(24 * 3600 * 1000, 1000).describe('How long a settled clientMessageId is remembered.'),
  AGENT_STEP_DELAY_MS: int(40).describe('Pause of the built-in agents between steps (a realistic pace; tests set 0).'),
  APPEND_COALESCE_MS: int(1, 0).describe(
    'Streamed text (tokens, thinking) a run emits less than this many ms after its previous append waits until then and is stored in one append (0: only what comes while an append is in flight goes together).',
  ),
  AGENT_HISTORY_MESSAGES: int(200, 1).describe('Most recent messages of its conversation that an agent sees in a run, ending with the message it answers.'),
  HISTORY_CACHE_BYTES: int(16 * 1024 * 1024, 0).describe(
    "Total size (as JSON) of the newest messages kept for the conversations read lately, so that a run's history read asks its store of record (Redis or PostgreSQL) only for what was stored since; the least recently read go first (0: none kept).",
  ),
  MAX_TEXT_LENGTH: int(8000, 1).describe('Longest message text, in characters.'),
  MAX_CONTEXT_BYTES: int(64 * 1024, 1).describe('Largest `context` of a send, in bytes of JSON.'),
  MAX_CONTEXT_DEPTH: int(32, 1).describe("Deepest nesting of objects and lists in a send's `context`."),
  MAX_CLIENT_MESSAGE_ID_LENGTH: int(128, 1).describe('Longest clientMessageId, in characters.'),
  MAX_QUEUED_RUNS_PER_CONVERSATION: int(20, 1).describe('Runs waiting in one conversation at which sends answer RATE_LIMITED.'),
  MAX_QUEUED_RUNS: int(10_000, 1).describe('With RUN_EXECUTION=workers: runs waiting for a worker at which sends answer RATE_LIMITED.'),
  EVENT_RETENTION_COUNT: int(10_000, 1).describe('Events kept per conversation for replay; older ones answer EVENTS_EXPIRED.'),
  EVENT_RETENTION_MS: int(7 * 24 * 3600 * 1000, 1).describe('Age after which events are no longer kept for replay.'),
  SUBSCRIBER_BUFFER_EVENTS: int(1000, 1).describe('Live events buffered per subscription before it reads from the log instead.'),
  SHARED_EVENT_RESULTS: int(1024, 1).describe(
    'Event results kept per subscription document and variables, for subscribers catching up; released with the last subscriber.',
  ),
  DOCUMENT_CACHE_BYTES: int(1024 * 1024, 1).describe(
    'Total size (source characters) of the GraphQL documents whose parse and validation, or parse error, are kept for reuse; the least recently used go first.',
  ),
  WS_MAX_BUFFERED_BYTES: int(4 * 1024 * 1024, 1024).describe('Unsent bytes at which a slow WebSocket is closed with 1013 (the client resumes).'),
  WS_COALESCE_MS: int(1, 0).describe(
    "Frames for a WebSocket that wrote less than this many ms ago wait until then and go out in one write; while the server is busy (its event loop waited less than this since the socket's last write), they wait for the loop's next turn (0: only the frames of one tick go together).",
  ),
  WS_MAX_PAYLOAD_BYTES: int(256 * 1024, 1024).describe('Largest WebSocket message accepted from a client.'),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: int(100, 1).describe(
    'Operations open at once on one WebSocket (subscriptions, and queries or mutations in flight); one more gets an error.',
  ),
  WS_MAX_SOCKETS_PER_USER: int(20, 1).describe('Open WebSockets per user on one instance; one more is closed with 4429.'),
  WS_MAX_MESSAGES_PER_SECOND: int(100, 1).describe('Messages a WebSocket may send per second (bursts up to as many); a faster one is closed with 4429.'),
  WS_CONNECTION_INIT_TIMEOUT_MS: int(5_000, 1).describe('How long a new WebSocket may take to send connection_init before it is closed with 4408.'),
  MAX_REQUEST_BYTES: int(256 * 1024, 1024).describe(
    'Largest HTTP request body, by its Content-Length (as WS_MAX_PAYLOAD_BYTES bounds a WebSocket message); larger is refused with 413 unread.',
  ),
  MAX_OPERATION_TOKENS: int(2000, 100).describe('Most lexical tokens in one GraphQL document; a longer one is refused unread.'),
  MAX_OPERATION_DEPTH: int(10, 2).describe('Deepest nesting of fields in one operation (fragments flattened, introspection exempt).'),
  MAX_OPERATION_ALIASES: int(30, 0).describe('Most aliases in one operation.'),
  MAX_OPERATION_DIRECTIVES: int(20, 0).describe('Most directives in one operation.'),
  MAX_OPERATION_COST: int(20_000, 100).describe(
    'Highest cost of one operation: each field counts 1, and a list field counts its selection once per item of its first/last (or their default).',
  ),
  SEND_RATE_LIMIT: int(120, 1).describe('Sends per user per SEND_RATE_WINDOW_MS before RATE_LIMITED.'),
  SEND_RATE_WINDOW_MS: int(60_000, 1).describe('Window of SEND_RATE_LIMIT.'),
  LLM_BASE_URL: z
    .string()
    .url()
    .optional()
    .describe(
      'OpenAI-compatible endpoint (e.g. http://127.0.0.1:11434/v1); with LLM_MODEL, the guide and liaisons run on that model. Unset: the deterministic agents.',
    ),
  LLM_MODEL: z.string().min(1).optional().describe('The model the guide and liaisons run on at LLM_BASE_URL.'),
  LLM_API_KEY: z.string().optional().describe('Bearer key for LLM_BASE_URL, when the endpoint needs one.'),
  LLM_MAX_STEPS: int(5, 1).describe('Model calls per agent turn at most, tool round trips included.'),
  LLM_MAX_RETRIES: int(2).describe('Retries of a model request that failed before streaming anything (429, 5xx, refused).'),
  REMOTE_AGENTS: jsonText
    .pipe(z.array(remoteAgentSchema))
    .optional()
    .describe('JSON list of remote AG-UI agents, each {id, name, description, kind, pillar, url, headers}, added to the registry.'),
});

/** Whether a DATABASE_URL names a data folder (`file:///…`, opened in this process with PGlite) rather than a PostgreSQL server. */
export function isDataFolderUrl(url: string): boolean {
  return url.startsWith('file:');
}

/**
 * A Redis Cluster serves as the live layer beside a PostgreSQL server, or alone as store of
 * record and live layer (the Redis store's scripts each stay in one conversation's slot: see
 * src/store/redis/keys.ts). Not beside a data folder, which one process opens.
 */
function checkCluster(config: z.infer<typeof settingsSchema>): void {
  if (config.REDIS_URL) throw new Error('REDIS_URL and REDIS_CLUSTER_NODES name two different Redis deployments: set one of them.');
  if (config.DATABASE_URL && isDataFolderUrl(config.DATABASE_URL)) {
    throw new Error(
      'DATABASE_URL=file:/// is a data folder that one process opens (PGlite): instances sharing a Redis Cluster cannot share it. ' +
        'Name a PostgreSQL server (postgres://), or unset DATABASE_URL to keep everything on the cluster.',
    );
  }
  if (config.REDIS_KEY_PREFIX.includes('{')) {
    throw new Error('REDIS_KEY_PREFIX must not hold `{` with REDIS_CLUSTER_NODES: it would be the hash tag of every key, all in one slot.');
  }
}

/** A setting's default, for text that states it (schema descriptions): the one value, never restated. */
export function settingDefault<K extends keyof typeof settingsSchema.shape>(name: K): z.infer<typeof settingsSchema>[K] {
  return settingsSchema.shape[name].parse(undefined) as z.infer<typeof settingsSchema>[K];
}

/** The settings as an application may give them (numbers as numbers or strings). */
export type Settings = z.input<typeof settingsSchema>;

export type Config = z.infer<typeof settingsSchema> & { readonly production: boolean };

export function loadConfig(env: Record<string, unknown> = process.env): Config {
  // An empty variable means "not set", so that `FOO= npm start` falls back to the default.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = settingsSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = { ...parsed.data, production: parsed.data.NODE_ENV === 'production' };
  if (config.production && !config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL) {
    throw new Error(
      'AUTH_JWT_SECRET is required when NODE_ENV=production (or AUTH_JWKS_URL): without either no token could be verified ' +
        '(outside production a dev secret and POST /auth/dev-token are provided instead).',
    );
  }
  if (Boolean(config.LLM_BASE_URL) !== Boolean(config.LLM_MODEL)) {
    throw new Error('LLM_BASE_URL and LLM_MODEL go together: set both to run the agents on a model, or neither.');
  }
  if (config.DATABASE_URL && isDataFolderUrl(config.DATABASE_URL) && config.REDIS_URL) {
    throw new Error(
      'DATABASE_URL=file:/// is a data folder that one process opens (PGlite): instances sharing a REDIS_URL cannot share it. ' +
        'Unset REDIS_URL for one instance, or name a PostgreSQL server (postgres://) for many.',
    );
  }
  if (config.REDIS_CLUSTER_NODES) checkCluster(config);
  if (config.RUN_EXECUTION === 'workers' && !config.REDIS_URL && !config.REDIS_CLUSTER_NODES) {
    throw new Error(
      'RUN_EXECUTION=workers requires REDIS_URL (or REDIS_CLUSTER_NODES): gateways hand runs to workers through Redis ' +
        '(without Redis, leave RUN_EXECUTION unset and the gateway executes runs itself).',
    );
  }
  return config;
}
