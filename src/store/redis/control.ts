import type { ControlChannel, ControlMessage } from '../interfaces.ts';
import type { RedisConnection } from './connection.ts';

/**
 * Messages to every instance (such as "cancel run X") on one pub/sub channel. Delivery is at
 * most once: whoever relies on a message also has a slower, sure path (the runtime's executors
 * check their run's status on every lease renewal).
 */
export class RedisControlChannel implements ControlChannel {
  private readonly channel: string;

  constructor(private readonly redis: RedisConnection) {
    this.channel = redis.keys.control;
  }

  async publish(message: ControlMessage) {
    await this.redis.publish(this.channel, JSON.stringify(message));
  }

  subscribe(handler: (message: ControlMessage) => void) {
    const listener = (raw: string) => {
      let message: ControlMessage;
      try {
        message = JSON.parse(raw) as ControlMessage;
      } catch {
        return;
      }
      handler(message);
    };
    this.redis.listen(this.channel, listener);
    return () => this.redis.unlisten(this.channel, listener);
  }
}
