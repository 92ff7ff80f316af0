/**
 * How many commands this process has sent to Redis, on every connection (./link.ts counts each
 * one as it goes out; a script is one command, however many calls it makes inside). Each is a
 * round trip someone waits for, so this is what cutting them is measured by
 * (`agent_gateway_redis_commands_total`). Kept per process, as Prometheus' process metrics are.
 */
let sent = 0;

export function countRedisCommand(): void {
  sent += 1;
}

export function redisCommandsSent(): number {
  return sent;
}
