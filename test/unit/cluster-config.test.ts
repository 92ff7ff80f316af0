/** REDIS_CLUSTER_NODES: a Redis Cluster alone or beside a PostgreSQL server, and a clear refusal of anything else. */
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

  it('is the store of record on its own, with workers too', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: NODES }).REDIS_CLUSTER_NODES).toEqual(['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379']);
    expect(loadConfig({ REDIS_CLUSTER_NODES: NODES, RUN_EXECUTION: 'workers' }).RUN_EXECUTION).toBe('workers');
  });

  it('refuses a data folder beside it, which one process opens', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL: 'file:///var/lib/agw' })).toThrow(/data folder that one process opens/);
  });

  it('refuses a key prefix with `{`, which would put every key in one slot', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: NODES, DATABASE_URL, REDIS_KEY_PREFIX: 'agw:{prod}:' })).toThrow(/REDIS_KEY_PREFIX must not hold/);
  });
});
