/** What a wait for a reply ends with when the reply did not come in time. */
export const NO_REPLY = Symbol('no reply');

/**
 * `reply`, or NO_REPLY once `ms` have passed without it. Told apart from a failure on purpose:
 * a command that failed was not carried out, one with no reply may have been, and a node that
 * keeps silent may be hung (see RedisLink's `noReply`).
 */
export async function replyWithin<T>(reply: Promise<T>, ms: number): Promise<T | typeof NO_REPLY> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof NO_REPLY>((resolve) => {
    timer = setTimeout(() => resolve(NO_REPLY), ms);
  });
  try {
    return await Promise.race([reply, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
