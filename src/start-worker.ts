/**
 * Worker process entry (`npm run worker`): executes the runs that gateways started with
 * RUN_EXECUTION=workers hand over through the intent queue in Redis. Serves /healthz, /readyz
 * and /metrics on WORKER_PORT; on SIGTERM or SIGINT it claims nothing more, lets its runs finish
 * for up to WORKER_SHUTDOWN_GRACE_MS, ends the rest as retryable failures and exits 0 (a second
 * signal, later than the first's echoes, cuts the grace period short: see process-shell.ts).
 */
import { runProcess } from './process-shell.ts';
import { startWorker } from './worker-process.ts';

// A bad setting, or no REDIS_URL, fails the start: the shell says which and exits 1.
await runProcess('agent-gateway-worker', startWorker);
