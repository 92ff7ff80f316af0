/**
 * How a backend is registered: which configurations it serves, and how it is made from one. Each
 * backend's folder exports one of these; store/backends.ts lists them.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { RetentionPolicy } from './event-log.ts';
import type { Backend } from './interfaces.ts';
import type { HotTailOptions } from './redis/hot-tail.ts';

export interface BackendRegistration {
  /** Whether the configuration asks for this backend (the first registered that serves it is used). */
  serves(config: Config): boolean;
  create(config: Config, logger: Logger): Promise<Backend>;
}

/** Events a hot tail keeps per conversation at most (never more than the log retains). */
const HOT_TAIL_EVENTS = 1000;

/** The hot tail of a history kept apart from Redis, kept `windowMs`: within what the history retains. */
export function hotTailOf(retention: RetentionPolicy, windowMs: number): HotTailOptions {
  return {
    capacity: Math.min(HOT_TAIL_EVENTS, retention.maxEventsPerConversation),
    windowMs: Math.min(windowMs, retention.maxAgeMs),
  };
}

/** The retention every backend's event log applies, from the configuration. */
export function retentionOf(config: Config): RetentionPolicy {
  return { maxEventsPerConversation: config.EVENT_RETENTION_COUNT, maxAgeMs: config.EVENT_RETENTION_MS };
}
