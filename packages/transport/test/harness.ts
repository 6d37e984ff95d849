// Test helpers for the transport suites: messages, a recording connection handler, bounded waits,
// and a tracker that closes every listener, connection, socket and worker a test opened.
import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { encodeMessage, type Message, type ProtocolVersion } from '@cinder/protocol';
import type { Connection, ConnectionHandler, FramingOptions, Listener } from '../src/transport.js';

export { encodeMessage };

export const MiB = 1024 * 1024;

/**
 * The kernel's timer kind for an established IPv4 loopback socket (Linux /proc/net/tcp, column
 * "tr"): '02' while a keepalive timer is armed (SO_KEEPALIVE on an idle socket), '00' with none;
 * undefined when no such socket is listed. `local` and `remote` are its own and its peer's port.
 */
export function loopbackTcpTimer(local: number, remote: number): string | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const wanted = `0100007F:${hex(local)} 0100007F:${hex(remote)} 01`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .find((l) => l.includes(wanted))
    ?.trim()
    .split(/\s+/)[5]
    ?.split(':')[0];
}

export function framing(versions: readonly ProtocolVersion[], maxMessageSize = 64 * MiB): FramingOptions {
  return { versions, maxMessageSize };
}

export function message(
  seq: number,
  payload: Uint8Array | string = '',
  extra: Partial<Message> = {},
): Message {
  return {
    type: 4,
    flags: 0,
    seq,
    serializerId: 3,
    correlationId: null,
    annotations: null,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    ...extra,
  };
}

/** Rejects if `promise` has not settled within `ms`: every wait in these suites is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves `true` if `promise` settles within `ms`, `false` otherwise (never rejects). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A ConnectionHandler that records everything and lets tests wait for it. */
export class Recorder implements ConnectionHandler {
  readonly messages: Message[] = [];
  readonly errors: Error[] = [];
  readonly closes: Array<Error | undefined> = [];
  /** Called after a message is recorded (e.g. to echo it). */
  onMessageHook: ((message: Message) => void) | undefined;
  #waiters: Array<() => void> = [];

  constructor(onMessageHook?: (message: Message) => void) {
    this.onMessageHook = onMessageHook;
  }

  onMessage(message: Message): void {
    this.messages.push(message);
    this.onMessageHook?.(message);
    this.#wake();
  }

  onError(error: Error): void {
    this.errors.push(error);
    this.#wake();
  }

  onClose(error?: Error): void {
    this.closes.push(error);
    this.#wake();
  }

  /** Waits until `predicate` holds (checked after every event). */
  until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (predicate()) resolve();
          else this.#waiters.push(check);
        };
        this.#waiters.push(check);
      }),
      ms,
      what,
    );
  }

  messagesAtLeast(n: number, ms = 5000): Promise<void> {
    return this.until(() => this.messages.length >= n, `${n} messages (have ${this.messages.length})`, ms);
  }

  closed(ms = 5000): Promise<Error | undefined> {
    return this.until(() => this.closes.length > 0, 'onClose', ms).then(() => this.closes[0]);
  }

  errored(ms = 5000): Promise<Error> {
    return this.until(() => this.errors.length > 0, 'onError', ms).then(() => this.errors[0] as Error);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Everything a test opened, closed in afterEach. */
export class Tracker {
  readonly #listeners = new Set<Listener>();
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<Socket>();
  readonly #servers = new Set<Server>();
  readonly #workers = new Set<Worker>();
  readonly #cleanups: Array<() => Promise<void>> = [];

  /** Runs `cleanup` in closeAll(). */
  onClose(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  listener<T extends Listener>(l: T): T {
    this.#listeners.add(l);
    return l;
  }

  connection<T extends Connection>(c: T): T {
    this.#connections.add(c);
    return c;
  }

  socket<T extends Socket>(s: T): T {
    this.#sockets.add(s);
    s.on('error', () => {});
    return s;
  }

  /** A raw server: its accepted sockets are tracked too, so closing it cannot wait on them. */
  server<T extends Server>(s: T): T {
    this.#servers.add(s);
    s.on('connection', (socket: Socket) => this.socket(socket));
    return s;
  }

  worker<T extends Worker>(w: T): T {
    this.#workers.add(w);
    return w;
  }

  async closeAll(): Promise<void> {
    for (const c of this.#connections) c.destroy();
    for (const s of this.#sockets) s.destroy();
    await Promise.all([
      ...[...this.#listeners].map((l) => l.close()),
      ...[...this.#servers].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.listening) s.close(() => resolve());
            else resolve();
          }),
      ),
      ...[...this.#workers].map((w) => w.terminate()),
      ...this.#cleanups.splice(0).map((c) => c()),
    ]);
    this.#listeners.clear();
    this.#connections.clear();
    this.#sockets.clear();
    this.#servers.clear();
    this.#workers.clear();
  }
}

/** A Pyro5 header announcing `dataSize` payload bytes (for oversize tests; nothing follows it). */
export function pyro5Header(dataSize: number, annotationsSize = 0): Buffer {
  const h = Buffer.alloc(40);
  h.write('PYRO', 0, 'latin1');
  h.writeUInt16BE(502, 4);
  h.writeUInt8(4, 6);
  h.writeUInt8(3, 7);
  h.writeUInt32BE(dataSize, 12);
  h.writeUInt32BE(annotationsSize, 16);
  h.writeUInt16BE(0x4dc5, 38);
  return h;
}

/** Joins a message's encoded chunks (for comparing with raw bytes read from a socket). */
export function encodedBytes(m: Message, version: ProtocolVersion): Buffer {
  return Buffer.concat(encodeMessage(m, { version }));
}
