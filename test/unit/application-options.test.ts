/**
 * What an application gives in code: settings in camelCase over the environment (and refused when
 * they name no setting), the printed SettingsOptions in step with the settings, and a logger of
 * the application's own shape receiving the gateway's records.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { configFrom, loggerFrom, type LogSink } from '../../src/application-options.ts';
import { settingsSchema } from '../../src/config.ts';
import { OPTIONS_SOURCE, settingsOptionsSource } from '../../scripts/print-settings.ts';
import { PROJECT_ROOT } from '../support/process.ts';

it('takes settings in camelCase over the environment, the environment and defaults beneath', () => {
  const config = configFrom({ port: 0, authJwtSecret: 'x'.repeat(32), runTimeoutMs: 5000 }, { PORT: '4321', MAX_TEXT_LENGTH: '10' });
  expect(config.PORT).toBe(0);
  expect(config.AUTH_JWT_SECRET).toBe('x'.repeat(32));
  expect(config.RUN_TIMEOUT_MS).toBe(5000);
  expect(config.MAX_TEXT_LENGTH).toBe(10);
  expect(config.HOST).toBe('127.0.0.1');
});

it('refuses an option that names no setting, and a value the setting refuses, saying which', () => {
  expect(() => configFrom({ prot: 4000 } as never, {})).toThrow('"prot" is not a setting');
  expect(() => configFrom({ port: -1 }, {})).toThrow(/PORT/);
});

it('has src/settings-options.ts printed from the settings, one option per setting', () => {
  const source = readFileSync(join(PROJECT_ROOT, OPTIONS_SOURCE), 'utf8');
  expect(source).toBe(settingsOptionsSource());
  const options = [...source.matchAll(/^ {2}(\w+)\?: /gm)].map((match) => match[1]);
  expect(options).toHaveLength(Object.keys(settingsSchema.shape).length);
  expect(source).toContain("logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';");
  expect(source).toMatch(/Environment variable: `WS_MAX_SOCKETS_PER_USER`\.\n {3}\*\/\n {2}wsMaxSocketsPerUser\?: number;/);
});

it("writes the gateway's records to a logger of the application's shape, at the configured level", () => {
  const records: [string, string, Record<string, unknown>][] = [];
  const sink: LogSink = {
    error: (message, fields) => records.push(['error', message, fields]),
    warn: (message, fields) => records.push(['warn', message, fields]),
    info: (message, fields) => records.push(['info', message, fields]),
  };
  const logger = loggerFrom(sink, configFrom({ logLevel: 'info' }, {}), 'agent-gateway');
  logger.debug('not at this level');
  logger.info({ runId: 'r-1' }, 'run started');
  logger.child({ plane: 'runtime' }).warn('a warning');
  logger.fatal(new Error('boom'), 'fatal goes to error');
  expect(records.map(([level, message]) => [level, message])).toEqual([
    ['info', 'run started'],
    ['warn', 'a warning'],
    ['error', 'fatal goes to error'],
  ]);
  expect(records[0]![2]).toMatchObject({ runId: 'r-1', name: 'agent-gateway' });
  expect(records[1]![2]).toMatchObject({ plane: 'runtime' });
  expect(records[2]![2]).toMatchObject({ err: { message: 'boom' } });
});
