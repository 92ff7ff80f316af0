/**
 * What an application gives the library in code, turned into what the gateway runs on: settings
 * in camelCase (src/settings-options.ts) over the environment, and a logger of its own shape.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig, settingsSchema, type Config } from './config.ts';
import { optionName } from './settings-names.ts';
import type { SettingsOptions } from './settings-options.ts';

/** Each option's environment variable, from the one list of settings. */
const ENVIRONMENT_NAME = new Map(Object.keys(settingsSchema.shape).map((name) => [optionName(name), name]));

/** The settings: `options` over the environment; an option that names no setting is refused, saying which. */
export function configFrom(options: SettingsOptions = {}, environment: Record<string, unknown> = process.env): Config {
  const given: Record<string, unknown> = {};
  for (const [option, value] of Object.entries(options)) {
    const name = ENVIRONMENT_NAME.get(option);
    if (!name) throw new Error(`Invalid configuration: "${option}" is not a setting (they are listed in SettingsOptions).`);
    if (value !== undefined) given[name] = value;
  }
  return loadConfig({ ...environment, ...given });
}

/**
 * A logger of the application's shape: each method takes the message and the record's fields.
 * Methods it lacks fall back to `info` (debug and trace to nothing).
 */
export interface LogSink {
  error(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  info(message: string, fields: Record<string, unknown>): void;
  debug?(message: string, fields: Record<string, unknown>): void;
  trace?(message: string, fields: Record<string, unknown>): void;
}

const LEVEL_NAMES: Record<number, keyof LogSink> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };

/** A pino logger (what the gateway logs through) at the configured level, writing to `sink` or to stdout. */
export function loggerFrom(sink: Logger | LogSink | undefined, config: Config, name: string): Logger {
  if (sink === undefined) return pino({ name, level: config.LOG_LEVEL });
  if (isPino(sink)) return sink;
  // Records below the level are never serialized; those that are reach the sink once, parsed.
  const destination = new Writable({
    write(line: Buffer, _encoding, done) {
      const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = JSON.parse(line.toString()) as Record<string, unknown>;
      const method = LEVEL_NAMES[level as number] ?? 'info';
      (sink[method] ?? (method === 'debug' || method === 'trace' ? undefined : sink.info))?.call(sink, String(msg ?? ''), fields);
      done();
    },
  });
  return pino({ name, level: config.LOG_LEVEL }, destination);
}

function isPino(logger: Logger | LogSink): logger is Logger {
  return typeof (logger as Logger).child === 'function' && typeof (logger as Logger).level === 'string';
}
