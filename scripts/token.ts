/**
 * `npm run token -- --sub alice [--tid acme] [--ttl 1h]`: prints a bearer token for that user,
 * signed with the secret the gateway verifies with: AUTH_JWT_SECRET, or outside production the
 * dev secret that instances on one Redis (REDIS_URL) share. A gateway alone without either made
 * its secret up at start, which no other process knows: it hands out tokens itself instead.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { pino } from 'pino';
import { Authenticator, authSettings } from '../src/experience/auth.ts';
import { signingSecret } from '../src/experience/dev-secret.ts';

const USAGE = 'Usage: npm run token -- --sub <user id> [--tid <tenant id>] [--ttl <seconds, or a span such as 30m, 1h, 7d>]';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: { sub: { type: 'string' }, tid: { type: 'string' }, ttl: { type: 'string', default: '1h' } },
  }));
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (!options.sub) fail(`--sub is required.\n${USAGE}`);

const config = (() => {
  try {
    return loadConfig();
  } catch (error) {
    return fail((error as Error).message);
  }
})();
if (!config.AUTH_JWT_SECRET && !config.REDIS_URL) {
  fail(
    'No AUTH_JWT_SECRET and no REDIS_URL: a gateway started so makes its secret up and keeps it to itself. ' +
      'Get a token from it with POST /auth/dev-token, or start it (and this command) with AUTH_JWT_SECRET set.',
  );
}
const signing = await signingSecret(config).catch((error: unknown) => fail((error as Error).message));
if (signing.secret === null) {
  fail('No AUTH_JWT_SECRET: tokens come from the identity provider (AUTH_JWKS_URL) alone, and there is no secret to sign one with.');
}
const ttl = /^\d+$/.test(options.ttl) ? Number(options.ttl) : options.ttl;
try {
  const authenticator = new Authenticator(authSettings(config, signing), pino({ level: 'silent' }));
  console.log(await authenticator.issue({ userId: options.sub, tenantId: options.tid ?? null }, ttl));
} catch (error) {
  fail(`--ttl ${options.ttl}: ${(error as Error).message}\n${USAGE}`);
}
