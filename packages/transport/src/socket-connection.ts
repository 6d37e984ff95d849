// One framed connection over a stream socket (net.Socket for TCP and Unix, tls.TLSSocket for TLS).
// Outgoing frames of one tick are corked and leave in one writev; incoming chunks go through one
// FrameReader and reach the handler synchronously. This is the hot path of every call.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  type CallOptions,
  ConfigError,
  ConnectionClosedError,
  type Logger,
  ProtocolError,
  TimeoutError,
  withDeadline,
} from '@cinder/core';
import {
  type EncodeOptions,
  encodeMessage,
  encodeMessageInto,
  FrameReader,
  type Message,
  type ProtocolVersion,
} from '@cinder/protocol';
import type { DirectReads } from './direct-reads.js';
import { connectionError } from './socket-errors.js';
import type { Connection, ConnectionHandler, FramingOptions, PeerCertificate } from './transport.js';

/** How long `close()` waits for the flush and the peer's FIN before destroying the socket. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Output queued for a peer beyond which reading from it stops until it drains. */
export const DEFAULT_MAX_BUFFERED_OUTPUT = 8 * 1024 * 1024;
/** A peer whose queued output makes no progress for this long while reading is held is dropped. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface SocketConnectionInit {
  socket: Socket;
  transport: 'tcp' | 'unix' | 'tls' | 'memory';
  framing: FramingOptions;
  /** Server side: the protocol version is detected from the first frame when several are accepted. */
  server: boolean;
  remoteAddress: string;
  localAddress: string;
  idleTimeoutMs?: number | undefined;
  logger: Logger;
  /** Called once the socket has closed (listeners drop the connection from their set). */
  onClosed?: ((connection: SocketConnection) => void) | undefined;
  /**
   * The socket reads through these (its `onread` option, or `adoptDirectReads`) rather than
   * emitting 'data': the frame reader then chooses the buffer of every read.
   */
  directReads?: DirectReads | null | undefined;
}

const OPEN = 0;
/** close() or destroy() was called, or the peer ended: nothing more is sent or delivered. */
const CLOSING = 1;
/** The socket has closed. */
const CLOSED = 2;

let nextId = 1;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Checks framing options once, when a listener or connection is made. */
export function checkFraming(framing: FramingOptions, forClient: boolean): void {
  const { versions, maxMessageSize } = framing;
  if (!Array.isArray(versions) || versions.length === 0) {
    throw new ConfigError('framing.versions must name at least one protocol version');
  }
  for (const v of versions) {
    if (v !== 502 && v !== 48) throw new ConfigError(`unsupported protocol version ${String(v)}`);
  }
  if (forClient && versions.length !== 1) {
    throw new ConfigError('a client connection speaks exactly one protocol version');
  }
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize <= 0) {
    throw new ConfigError(`framing.maxMessageSize must be a positive integer, not ${String(maxMessageSize)}`);
  }
}

/** Size of the write slab that combines a tick's small frames. */
const SLAB_SIZE = 64 * 1024;
/** Frames up to this size are combined; larger ones are written as they are. */
const SLAB_FRAME_LIMIT = 16 * 1024;
/** Room the slab must have before a frame is encoded into it: a small payload, header and annotations. */
const SLAB_FRAME_ROOM = 20 * 1024;
const EMPTY_SLAB = Buffer.alloc(0);
const NO_BYTES = new Uint8Array(0);
/**
 * A connection's first write slab is this small and cut from Node's shared pool: one that only
 * answers a handshake and a call or two never gets a 64 KiB slab of its own (external memory that
 * makes V8 run full GCs every few hundred connections).
 */
const FIRST_SLAB_SIZE = 2 * 1024;

export class SocketConnection implements Connection {
  readonly id: number = nextId++;
  readonly transport: 'tcp' | 'unix' | 'tls' | 'memory';
  readonly remoteAddress: string;
  readonly localAddress: string;

  readonly #socket: Socket;
  readonly #reader: FrameReader;
  readonly #encode: EncodeOptions;
  readonly #logger: Logger;
  readonly #onClosed: ((connection: SocketConnection) => void) | undefined;
  #versionKnown: boolean;
  #state = OPEN;
  #handler: ConnectionHandler | null = null;
  /** The 'data' listener is attached (only once a handler exists: bytes wait in the socket until then). */
  #reading = false;
  /** Reads go through these into buffers of the frame reader's choosing; no 'data' events. */
  readonly #directReads: DirectReads | null;
  #paused = false;
  /**
   * Watches a peer that does not read: while more than `maxBufferedOutput` bytes wait for it, its
   * queued output must shrink every `drainTimeoutMs`, or the connection is destroyed. (What stops
   * a peer from making us queue more is the RPC session: it serves no more of the peer's calls
   * while the output is that full. Reading goes on, so replies to our own calls still arrive and
   * two peers that both send more than they read do not deadlock.) Looked at only when output
   * grew by a large frame or a full write slab.
   */
  #drainTimer: NodeJS.Timeout | undefined;
  #drainSeen = 0;
  readonly #maxBufferedOutput: number;
  readonly #drainTimeoutMs: number;
  /**
   * A framing error met while reading was held, delivered on resume. Frames read while reading is
   * held stay undecoded in the frame reader (it asks #ready before each one): a held connection
   * keeps the bytes it read, never what they would inflate or decode to.
   */
  #heldError: Error | null = null;
  /** A framing error was reported: further bytes are read (to see the peer's FIN) and dropped. */
  #failed = false;
  /** The socket is corked until the end of this tick (a large frame was written). */
  #corked = false;
  /** A flush of the write slab is scheduled for the end of this tick. */
  #flushScheduled = false;
  /**
   * Small frames sent in one tick are copied into this slab and leave in one socket.write at the
   * end of the tick (one syscall, one stream write request). Bytes handed to the socket are never
   * overwritten: when the slab is full a new one is taken.
   */
  #slab: Buffer = EMPTY_SLAB;
  #slabStart = 0;
  #slabPos = 0;
  #closeError: Error | undefined;
  #closeNotified = false;
  readonly #closed = deferred();
  #drain: Deferred | null = null;

  constructor(init: SocketConnectionInit) {
    const { socket, framing } = init;
    this.#socket = socket;
    this.transport = init.transport;
    this.remoteAddress = init.remoteAddress;
    this.localAddress = init.localAddress;
    this.#logger = init.logger;
    this.#onClosed = init.onClosed;
    this.#maxBufferedOutput = framing.maxBufferedOutput ?? DEFAULT_MAX_BUFFERED_OUTPUT;
    this.#drainTimeoutMs = framing.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.#reader = new FrameReader({
      maxMessageSize: framing.maxMessageSize,
      maxInflatedSize: framing.maxInflatedSize,
      versions: framing.versions,
      hmacKey: framing.hmacKey,
    });
    // Built once: send() passes the same object for every frame. A server that accepts several
    // versions answers in the first one listed until the peer's first frame says otherwise.
    this.#encode = {
      version: framing.versions[0] as ProtocolVersion,
      maxMessageSize: framing.maxMessageSize,
      hmacKey: framing.hmacKey,
      compressAbove: framing.compressAbove,
    };
    this.#versionKnown = !init.server || framing.versions.length === 1;
    this.#directReads = init.directReads ?? null;

    socket.on('error', this.#onSocketError);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onSocketClose);
    socket.on('drain', this.#onDrain);
    // Defensive: a socket that already closed will not emit 'close' again.
    if (socket.closed) queueMicrotask(this.#onSocketClose);
    if (init.idleTimeoutMs && init.idleTimeoutMs > 0) {
      const ms = init.idleTimeoutMs;
      socket.setTimeout(ms, () => {
        this.destroy(new TimeoutError(`connection to ${this.remoteAddress} idle for ${ms} ms`));
      });
    }
  }

  get protocolVersion(): ProtocolVersion | undefined {
    return this.#versionKnown ? this.#encode.version : undefined;
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  get closed(): boolean {
    return this.#state !== OPEN;
  }

  peerCertificate(): PeerCertificate | null {
    return peerCertificateOf(this.#socket);
  }

  setHandler(handler: ConnectionHandler): void {
    this.#handler = handler;
    if (!this.#reading && this.#state !== CLOSED) {
      this.#startReading();
      if (!this.#paused) this.#socket.resume();
    }
    if (this.#state === CLOSED) this.#notifyClose();
  }

  /**
   * Takes the bytes read so far (they waited in the socket's buffer, or in DirectReads' early
   * reads, up to a bound) and everything read from now on.
   */
  #startReading(): void {
    this.#reading = true;
    const direct = this.#directReads;
    if (direct === null) {
      this.#socket.on('data', this.#onData);
      return;
    }
    const reader = this.#reader;
    direct.attach({ target: () => reader.readTarget(), read: this.#onRead });
  }

  send(message: Message): boolean {
    if (this.#state !== OPEN) {
      throw new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`);
    }
    if (this.#encode.version === 502) {
      // The common case: a small frame is encoded straight into the slab, joining the others of
      // this tick (no buffer of its own, no copy).
      let n = encodeMessageInto(
        message,
        this.#encode,
        this.#slab,
        this.#slabPos,
        this.#slab.length - this.#slabPos,
      );
      if (n < 0 && this.#slab.length - this.#slabPos < SLAB_FRAME_ROOM) {
        // it may not have fitted: a slab with room for any small frame (the first one is smaller)
        this.#newSlab(this.#slab === EMPTY_SLAB ? 0 : SLAB_FRAME_ROOM);
        n = encodeMessageInto(message, this.#encode, this.#slab, 0, this.#slab.length);
      }
      if (n >= 0) {
        this.#slabPos += n;
        this.#scheduleFlush();
        return this.#socket.writableLength < this.#socket.writableHighWaterMark;
      }
    }
    const chunks = encodeMessage(message, this.#encode);
    this.#scheduleFlush();
    const first = chunks[0] as Uint8Array;
    if (chunks.length === 1 && first.length <= SLAB_FRAME_LIMIT) {
      // The common case: a small frame joins the others of this tick in the slab.
      if (this.#slab.length - this.#slabPos < first.length) this.#newSlab(first.length);
      this.#slab.set(first, this.#slabPos);
      this.#slabPos += first.length;
      return this.#socket.writableLength < this.#socket.writableHighWaterMark;
    }
    // Large frames go out as they are (their payload is never copied), after what the slab holds,
    // in the same corked writev at the end of the tick.
    const socket = this.#socket;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
    }
    this.#writeSlab();
    let ok = true;
    for (let i = 0; i < chunks.length; i++) ok = socket.write(chunks[i] as Uint8Array);
    if (this.#drainTimer === undefined) this.#watchOutput();
    return ok;
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#uncork);
    }
  }

  /** Hands what the slab holds to the socket (one write). */
  #writeSlab(): void {
    if (this.#slabPos > this.#slabStart) {
      const bytes = this.#slab.subarray(this.#slabStart, this.#slabPos);
      this.#slabStart = this.#slabPos;
      this.#socket.write(bytes);
    }
  }

  #newSlab(atLeast: number): void {
    this.#writeSlab();
    if (this.#drainTimer === undefined) this.#watchOutput();
    this.#slab =
      this.#slab === EMPTY_SLAB && atLeast <= FIRST_SLAB_SIZE
        ? Buffer.allocUnsafe(FIRST_SLAB_SIZE)
        : Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, atLeast));
    this.#slabStart = this.#slabPos = 0;
  }

  drained(options?: CallOptions): Promise<void> {
    if (this.#state === CLOSED) {
      return Promise.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`));
    }
    if (!this.#socket.writableNeedDrain) return Promise.resolve();
    this.#drain ??= deferred();
    return withDeadline(this.#drain.promise, options, `waiting for ${this.remoteAddress} to drain`);
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#continue();
  }

  /** Delivers what was held and reads on, unless reading is (still, or again) held. */
  #continue(): void {
    if (this.#paused || this.#state !== OPEN) return;
    if (!this.#failed && this.#reader.buffered > 0) {
      // The frames read while held (the reader stops again if the handler pauses).
      try {
        this.#reader.push(NO_BYTES, this.#onMessage, this.#ready);
      } catch (err) {
        this.#onFramingError(err);
      }
      if (this.#paused || this.#state !== OPEN) return;
    }
    const error = this.#heldError;
    if (error !== null) {
      this.#heldError = null;
      this.#dispatch(error);
      if (this.#paused || this.#state !== OPEN) return;
    }
    if (this.#reading) this.#socket.resume();
  }

  /** Starts watching the output if more than `maxBufferedOutput` bytes wait for the peer. */
  #watchOutput(): void {
    if (this.#drainTimeoutMs <= 0) return;
    const queued = this.#socket.writableLength;
    if (queued <= this.#maxBufferedOutput) return;
    this.#drainSeen = queued;
    this.#drainTimer = setInterval(this.#checkDrain, this.#drainTimeoutMs);
    this.#drainTimer.unref();
  }

  readonly #checkDrain = (): void => {
    const queued = this.#socket.writableLength;
    if (queued <= this.#maxBufferedOutput) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
      return;
    }
    if (queued < this.#drainSeen) {
      this.#drainSeen = queued;
      return;
    }
    this.destroy(
      new TimeoutError(
        `${this.remoteAddress} read none of ${queued} bytes queued for it in ${this.#drainTimeoutMs} ms`,
      ),
    );
  };

  close(options?: CallOptions): Promise<void> {
    if (this.#state === CLOSED) return Promise.resolve();
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      this.#heldError = null;
      this.#flush();
      this.#socket.end();
      // Keep reading (and dropping) so the peer's FIN is seen and the socket can close.
      if (!this.#reading) this.#startReading();
      this.#socket.resume();
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
    this.#heldError = null;
    this.#socket.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves once the socket has closed (never rejects). */
  whenClosed(): Promise<void> {
    return this.#closed.promise;
  }

  readonly #uncork = (): void => {
    this.#flush();
  };

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#state === CLOSED) return;
    this.#writeSlab();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#failed || this.#state !== OPEN) return;
    try {
      this.#reader.push(chunk, this.#onMessage, this.#ready);
    } catch (err) {
      this.#onFramingError(err);
    }
  };

  readonly #onRead = (buffer: Uint8Array, n: number): void => {
    if (this.#failed || this.#state !== OPEN) return;
    try {
      this.#reader.commitRead(buffer, n, this.#onMessage, this.#ready);
    } catch (err) {
      this.#onFramingError(err);
    }
  };

  #onFramingError(err: unknown): void {
    this.#failed = true;
    // The version may be known even though the frame is bad: the answer should speak it.
    if (!this.#versionKnown) this.#learnVersion();
    const error = err instanceof Error ? err : new ProtocolError(String(err));
    if (this.#paused) this.#heldError = error;
    else this.#dispatch(error);
  }

  /** Asked before each frame is decoded: while reading is held the reader keeps the rest undecoded. */
  readonly #ready = (): boolean => this.#state === OPEN && !this.#paused;

  readonly #onMessage = (message: Message): void => {
    if (this.#state !== OPEN) return;
    if (!this.#versionKnown) this.#learnVersion();
    this.#dispatch(message);
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
      // A throwing handler is a bug above us; a connection in an unknown state must not linger.
      this.#logger.error({ err, conn: this.id }, 'connection handler threw; destroying the connection');
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  readonly #onSocketError = (err: Error): void => {
    this.#closeError ??= connectionError(err, this.remoteAddress);
  };

  readonly #onEnd = (): void => {
    // The peer sent FIN; with allowHalfOpen off our side ends too, so sending is over.
    if (this.#state === OPEN) this.#state = CLOSING;
  };

  readonly #onDrain = (): void => {
    if (this.#drainTimer !== undefined) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
    const drain = this.#drain;
    if (drain) {
      this.#drain = null;
      drain.resolve();
    }
  };

  readonly #onSocketClose = (): void => {
    this.#state = CLOSED;
    if (this.#drainTimer !== undefined) clearInterval(this.#drainTimer);
    this.#heldError = null;
    const drain = this.#drain;
    if (drain) {
      this.#drain = null;
      drain.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} closed`));
    }
    this.#closed.resolve();
    this.#onClosed?.(this);
    if (this.#handler) this.#notifyClose();
  };

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

/** The certificate a TLS peer presented (null on a plain socket, or when it presented none). */
export function peerCertificateOf(socket: Socket | undefined): PeerCertificate | null {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (typeof tls?.getPeerCertificate !== 'function') return null;
  const cert = tls.getPeerCertificate(false);
  if (!cert?.raw) return null;
  return {
    subject: { ...cert.subject },
    issuer: { ...cert.issuer },
    serialNumber: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    validFrom: cert.valid_from,
    validTo: cert.valid_to,
    raw: new Uint8Array(cert.raw.buffer, cert.raw.byteOffset, cert.raw.byteLength),
  };
}
