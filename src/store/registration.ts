/**
 * How a backend is registered: which configurations it serves, and how it is made from one. Each
 * backend's folder exports one of these; store/backends.ts lists them.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { RetentionPolicy } from './event-log.ts';
import type { Backend } from './interfaces.ts';

export interface BackendRegistration {
  /** Whether the configuration asks for this backend (the first registered that serves it is used). */
  serves(config: Config): boolean;
  create(config: Config, logger: Logger): Promise<Backend>;
}

/** The retention every backend's event log applies, from the configuration. */
export function retentionOf(config: Config): RetentionPolicy {
  return { maxEventsPerConversation: config.EVENT_RETENTION_COUNT, maxAgeMs: config.EVENT_RETENTION_MS };
}
