/** REDIS_CLUSTER_NODES: what a Redis Cluster serves so far, and a clear refusal of anything else. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const NODES = 'redis://10.0.0.1:6379, redis://10.0.0.2:6379';
const DATABASE_URL = 'postgres://gateway@db.internal/gateway';

describe('REDIS_CLUSTER_NODES', () => {
  it('takes comma-separated node URLs beside a PostgreSQL server', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL });
    expect(config.REDIS_CLUSTER_NODES).toEqual(['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379']);
    expect(loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL, RUN_EXECUTION: 'workers' }).RUN_EXECUTION).toBe('workers');
  });

  it('refuses a node that is not a URL, naming the setting', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:6379,10.0.0.2', DATABASE_URL })).toThrow(/REDIS_CLUSTER_NODES/);
  });

  it('refuses REDIS_URL beside it: two different Redis deployments', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL, REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/set one of them/);
  });

  it('refuses to be the store of record: without a PostgreSQL server, or with a data folder', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES })).toThrow(/needs DATABASE_URL naming a PostgreSQL server/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL: 'file:///var/lib/agw' })).toThrow(/needs DATABASE_URL naming a PostgreSQL server/);
  });

  it('refuses a key prefix with `{`, which would put every key in one slot', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL, REDIS_KEY_PREFIX: 'agw:{prod}:' })).toThrow(/REDIS_KEY_PREFIX must not hold/);
  });
});
