/**
 * The backends this gateway can keep its shared state in, in order of preference: the first
 * whose registration serves the configuration is used (DATABASE_URL: PostgreSQL with Redis or
 * memory as the live layer; REDIS_URL or REDIS_CLUSTER_NODES alone: Redis; neither: memory). Adding a backend is one
 * folder under store/ and one line here (docs/backends.md).
 */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Backend } from './interfaces.ts';
import { memoryBackend } from './memory/registration.ts';
import type { BackendRegistration } from './registration.ts';
import { postgresBackend } from './postgres/registration.ts';
import { redisBackend } from './redis/registration.ts';

const BACKENDS: readonly BackendRegistration[] = [postgresBackend, redisBackend, memoryBackend];

export async function createBackend(config: Config, logger: Logger): Promise<Backend> {
  const registration = BACKENDS.find((candidate) => candidate.serves(config));
  if (!registration) throw new Error('No backend serves this configuration.');
  return registration.create(config, logger);
}
