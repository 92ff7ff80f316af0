import { retentionOf, type BackendRegistration } from '../registration.ts';
import { createMemoryBackend } from './index.ts';

/** The embedded default: serves any configuration that asks for no other backend. */
export const memoryBackend: BackendRegistration = {
  serves: () => true,
  create: async (config) => createMemoryBackend(retentionOf(config), { idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS }),
};
