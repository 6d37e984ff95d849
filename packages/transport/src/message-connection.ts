// One framed connection over a message channel (a WebSocket): the same Pyro frames as over a
// stream socket, carried in binary messages. Frames sent in one tick leave in one message; incoming
// messages go through the same FrameReader, so a frame may span messages and a message may hold
// several frames. The channel itself is an adapter (the `ws` package on Node, the platform's
// WebSocket in a browser), so this file uses no Node built-ins.
import {
  type CallOptions,
  ConnectionClosedError,
  type Logger,
  ProtocolError,
  TimeoutError,
  withDeadline,
} from '@cinder/core';
import {
  type EncodeOptions,
  encodeMessage,
  FrameReader,
  type Message,
  type ProtocolVersion,
} from '@cinder/protocol';
import type { Connection, ConnectionHandler, FramingOptions, PeerCertificate } from './transport.js';

/** What a message connection needs from its channel. */
export interface MessageChannel {
  /** Sends one binary message. */
  send(data: Uint8Array): void;
  /** Bytes handed to `send` and not yet written out. */
  bufferedAmount(): number;
  /** Starts a clean close (close frame); `closed` is called once it is done. */
  close(): void;
  /** Drops the channel at once. */
  terminate(): void;
  /** Stops reading from the network (flow control); optional where the platform cannot. */
  pauseReading?(): void;
  resumeReading?(): void;
  peerCertificate?(): PeerCertificate | null;
}

/** How the adapter reports what happens on the channel. */
export interface ChannelEvents {
  data(chunk: Uint8Array): void;
  /** Something sent was written out (where the platform says so; else the connection polls). */
  written(): void;
  /** The channel has closed; `error` when it was not a clean close. */
  closed(error?: Error): void;
}

export interface MessageConnectionInit {
  transport: 'ws' | 'wss';
  framing: FramingOptions;
  server: boolean;
  remoteAddress: string;
  localAddress: string;
  idleTimeoutMs?: number | undefined;
  logger: Logger;
  onClosed?: ((connection: MessageConnection) => void) | undefined;
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
/** `send` reports backpressure above this many buffered bytes (a stream socket's default). */
const HIGH_WATER_MARK = 16 * 1024;
/** Frames up to this size are combined into the tick's message; larger ones go on their own. */
const COMBINE_LIMIT = 16 * 1024;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const DRAIN_POLL_MS = 5;

let nextId = 1_000_000_000;

// The end of the tick where Node has one (after every promise job of this turn, so more frames
// share a message); a microtask in browsers.
const nodeProcess = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process;
const atEndOfTick: (fn: () => void) => void =
  typeof nodeProcess?.nextTick === 'function' ? nodeProcess.nextTick.bind(nodeProcess) : queueMicrotask;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(size);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

export class MessageConnection implements Connection {
  readonly id: number = nextId++;
  readonly transport: 'ws' | 'wss';
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Filled in by the adapter once the channel exists. */
  channel!: MessageChannel;

  readonly #reader: FrameReader;
  readonly #encode: EncodeOptions;
  readonly #logger: Logger;
  readonly #onClosed: ((connection: MessageConnection) => void) | undefined;
  readonly #idleMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #versionKnown: boolean;
  #state = OPEN;
  #handler: ConnectionHandler | null = null;
  #paused = false;
  /** Messages (or a framing error) read while paused or before a handler was set. */
  #backlog: Array<Message | Error> = [];
  #failed = false;
  /** Small frames of this tick, sent as one message at its end. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #closeError: Error | undefined;
  #closeNotified = false;
  readonly #closed = deferred();
  #drain: ReturnType<typeof deferred<void>> | null = null;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(init: MessageConnectionInit) {
    this.transport = init.transport;
    this.remoteAddress = init.remoteAddress;
    this.localAddress = init.localAddress;
    this.#logger = init.logger;
    this.#onClosed = init.onClosed;
    const { framing } = init;
    this.#reader = new FrameReader({
      maxMessageSize: framing.maxMessageSize,
      maxInflatedSize: framing.maxInflatedSize,
      versions: framing.versions,
      hmacKey: framing.hmacKey,
    });
    this.#encode = {
      version: framing.versions[0] as ProtocolVersion,
      maxMessageSize: framing.maxMessageSize,
      hmacKey: framing.hmacKey,
      compressAbove: framing.compressAbove,
    };
    this.#versionKnown = !init.server || framing.versions.length === 1;
    this.#idleMs = init.idleTimeoutMs ?? 0;
    this.#touch();
  }

  /** The callbacks the adapter calls. */
  readonly events: ChannelEvents = {
    data: (chunk) => this.#onData(chunk),
    written: () => this.#checkDrain(),
    closed: (error) => this.#onChannelClosed(error),
  };

  get protocolVersion(): ProtocolVersion | undefined {
    return this.#versionKnown ? this.#encode.version : undefined;
  }

  get bufferedBytes(): number {
    return this.#pendingBytes + (this.#state === CLOSED ? 0 : this.channel.bufferedAmount());
  }

  get closed(): boolean {
    return this.#state !== OPEN;
  }

  peerCertificate(): PeerCertificate | null {
    return this.channel.peerCertificate?.() ?? null;
  }

  setHandler(handler: ConnectionHandler): void {
    const first = this.#handler === null;
    this.#handler = handler;
    if (this.#state === CLOSED) {
      this.#notifyClose();
      return;
    }
    if (first && !this.#paused) {
      this.#drainBacklog();
      if (!this.#paused) this.channel.resumeReading?.();
    }
  }

  send(message: Message): boolean {
    if (this.#state !== OPEN) {
      throw new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`);
    }
    const chunks = encodeMessage(message, this.#encode);
    let size = 0;
    for (const c of chunks) size += c.length;
    if (size > COMBINE_LIMIT) {
      // Large frames go as they are (header and payload parts in their own messages, no copy here).
      this.#flush();
      for (const c of chunks) this.channel.send(c);
    } else {
      for (const c of chunks) this.#pending.push(c);
      this.#pendingBytes += size;
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        atEndOfTick(this.#flush);
      }
    }
    this.#touch();
    return this.bufferedBytes < HIGH_WATER_MARK;
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 || this.#state === CLOSED) return;
    const data = concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.channel.send(data);
  };

  drained(options?: CallOptions): Promise<void> {
    if (this.#state === CLOSED) {
      return Promise.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`));
    }
    if (this.bufferedBytes < HIGH_WATER_MARK) return Promise.resolve();
    if (!this.#drain) {
      this.#drain = deferred<void>();
      this.#pollDrain();
    }
    return withDeadline(this.#drain.promise, options, `waiting for ${this.remoteAddress} to drain`);
  }

  #pollDrain(): void {
    this.#drainTimer = setTimeout(() => {
      if (!this.#checkDrain()) this.#pollDrain();
    }, DRAIN_POLL_MS);
  }

  /** Resolves the drain waiters once below the mark; true when nobody waits any more. */
  #checkDrain(): boolean {
    const drain = this.#drain;
    if (!drain || this.#state === CLOSED) return true;
    if (this.bufferedBytes >= HIGH_WATER_MARK) return false;
    this.#drain = null;
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    drain.resolve();
    return true;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.channel.pauseReading?.();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#drainBacklog();
    if (!this.#paused && this.#state === OPEN && this.#handler) this.channel.resumeReading?.();
  }

  #drainBacklog(): void {
    while (this.#backlog.length > 0 && !this.#paused && this.#state === OPEN && this.#handler) {
      this.#dispatch(this.#backlog.shift() as Message | Error);
    }
  }

  close(options?: CallOptions): Promise<void> {
    if (this.#state === CLOSED) return Promise.resolve();
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      this.#backlog = [];
      this.#flush();
      this.channel.close();
    }
    const deadline: CallOptions = {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    };
    return withDeadline(this.#closed.promise, deadline, `closing connection to ${this.remoteAddress}`).catch(
      (err: Error) => {
        this.destroy(err);
        throw err;
      },
    );
  }

  destroy(error?: Error): void {
    if (this.#state === CLOSED) return;
    if (error && !this.#closeError) this.#closeError = error;
    this.#state = CLOSING;
    this.#backlog = [];
    this.#pending = [];
    this.#pendingBytes = 0;
    this.channel.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  whenClosed(): Promise<void> {
    return this.#closed.promise;
  }

  #touch(): void {
    if (this.#idleMs <= 0 || this.#state === CLOSED) return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    const ms = this.#idleMs;
    this.#idleTimer = setTimeout(() => {
      this.destroy(new TimeoutError(`connection to ${this.remoteAddress} idle for ${ms} ms`));
    }, ms);
  }

  #onData(chunk: Uint8Array): void {
    this.#touch();
    if (this.#failed || this.#state !== OPEN) return;
    try {
      this.#reader.push(chunk, this.#onMessage);
    } catch (err) {
      this.#failed = true;
      if (!this.#versionKnown) this.#learnVersion();
      const error = err instanceof Error ? err : new ProtocolError(String(err));
      if (this.#paused || !this.#handler) this.#backlog.push(error);
      else this.#dispatch(error);
    }
  }

  readonly #onMessage = (message: Message): void => {
    if (this.#state !== OPEN) return;
    if (!this.#versionKnown) this.#learnVersion();
    if (this.#paused || !this.#handler) this.#backlog.push(message);
    else this.#dispatch(message);
  };

  #learnVersion(): void {
    const version = this.#reader.version;
    if (version !== undefined) {
      this.#encode.version = version;
      this.#versionKnown = true;
    }
  }

  #dispatch(item: Message | Error): void {
    const handler = this.#handler;
    if (!handler) return;
    try {
      if (item instanceof Error) handler.onError(item);
      else handler.onMessage(item);
    } catch (err) {
      this.#logger.error({ err, conn: this.id }, 'connection handler threw; destroying the connection');
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #onChannelClosed(error?: Error): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (error && !this.#closeError) this.#closeError = error;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#backlog = [];
    this.#pending = [];
    this.#pendingBytes = 0;
    const drain = this.#drain;
    if (drain) {
      this.#drain = null;
      drain.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} closed`));
    }
    this.#closed.resolve();
    this.#onClosed?.(this);
    if (this.#handler) this.#notifyClose();
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    try {
      this.#handler?.onClose(this.#closeError);
    } catch (err) {
      this.#logger.error({ err, conn: this.id }, 'connection onClose handler threw');
    }
  }
}
