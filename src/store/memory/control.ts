import { EventEmitter } from 'node:events';
import type { ControlChannel, ControlMessage } from '../interfaces.ts';

/** With one process there is nobody else to tell: publishing delivers to local subscribers. */
export class MemoryControlChannel implements ControlChannel {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(message: ControlMessage) {
    this.emitter.emit('message', message);
  }

  subscribe(handler: (message: ControlMessage) => void) {
    this.emitter.on('message', handler);
    return () => void this.emitter.off('message', handler);
  }
}
