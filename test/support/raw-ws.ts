/**
 * Bare `ws` sockets exchanging JSON frames by hand, to send what a protocol's client never would
 * (malformed frames) and observe exactly what the server answers: any path (the older sockets),
 * or graphql-transport-ws on /graphql.
 */
import WebSocket from 'ws';

export interface RawClose {
  code: number;
  reason: string;
}

export class RawJsonSocket {
  readonly socket: WebSocket;
  readonly closed: Promise<RawClose>;
  private readonly inbox: unknown[] = [];
  private waiters: { check: (message: unknown) => boolean; resolve: (message: unknown) => void; reject: (error: Error) => void }[] = [];
  private closeInfo: RawClose | null = null;

  /** Opens `path` (with its query) on the server at `baseUrl`. */
  constructor(baseUrl: string, path: string, options: { protocol?: string; headers?: Record<string, string> } = {}) {
    this.socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, options.protocol ?? [], { headers: options.headers ?? {} });
    this.socket.on('message', (data) => {
      const message: unknown = JSON.parse(String(data));
      const waiter = this.waiters.find((candidate) => candidate.check(message));
      if (waiter) {
        this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
        waiter.resolve(message);
      } else {
        this.inbox.push(message);
      }
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const waiter of this.waiters) waiter.reject(new Error(`socket closed (${code} ${reason.toString()})`));
        this.waiters = [];
        resolve(this.closeInfo);
      });
    });
  }

  opened(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  sendJson(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  sendRaw(text: string): void {
    this.socket.send(text);
  }

  /** The first message (already received or still to come) that `check` accepts. */
  nextMessage<T = any>(check: (message: unknown) => boolean = () => true): Promise<T> {
    const index = this.inbox.findIndex(check);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0] as T);
    if (this.closeInfo) return Promise.reject(new Error(`socket closed (${this.closeInfo.code})`));
    return new Promise((resolve, reject) => this.waiters.push({ check, resolve: resolve as (message: unknown) => void, reject }));
  }

  close(): void {
    this.socket.close();
  }
}

/** graphql-transport-ws on /graphql, spoken by hand. */
export class RawGraphQLSocket extends RawJsonSocket {
  constructor(baseUrl: string) {
    super(baseUrl, '/graphql', { protocol: 'graphql-transport-ws' });
  }

  /** Opens, sends connection_init with the token and awaits connection_ack. */
  async init(token: string): Promise<void> {
    await this.opened();
    this.sendJson({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    await this.nextMessage((message) => (message as { type?: string }).type === 'connection_ack');
  }
}
