// The connection core: what every framed connection does the same way whatever carries its bytes —
// reading through one FrameReader, learning the protocol version, dispatching to the handler,
// flow control (pause/resume that hold raw bytes, never decoded messages), the drain watchdog on
// queued output, and the close/destroy lifecycle. Two carriers extend it: SocketConnection (a byte
// stream: TCP, Unix, TLS, memory) and MessageConnection (a message channel: WebSocket). This file
// uses no Node built-ins, so a browser build can include it.
import {
  type CallOptions,
  ConnectionClosedError,
  type Logger,
  ProtocolError,
  TimeoutError,
  withDeadline,
} from '@cinder/core';
import { type EncodeOptions, FrameReader, type Message, type ProtocolVersion } from '@cinder/protocol';
import type {
  CloseOptions,
  Connection,
  ConnectionHandler,
  FramingOptions,
  PeerCertificate,
} from './transport.js';

/** How long `close()` waits for the flush and the peer's end before destroying the connection. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Output queued for a peer beyond which its progress is watched. */
export const DEFAULT_MAX_BUFFERED_OUTPUT = 8 * 1024 * 1024;
/** A peer whose queued output makes no progress for this long is dropped. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Open: messages are sent and delivered. */
export const OPEN = 0;
/** close() or destroy() was called, or the peer ended: nothing more is sent or delivered. */
export const CLOSING = 1;
/** The carrier has closed. */
export const CLOSED = 2;

const NO_BYTES = new Uint8Array(0);

let nextId = 1;

export interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface FramedConnectionInit {
  framing: FramingOptions;
  /** Server side: the protocol version is detected from the first frame when several are accepted. */
  server: boolean;
  /** Undefined: written when first asked (`describeRemote`; an accepted socket's is rarely needed). */
  remoteAddress: string | undefined;
  /** Or how to find it when first asked (an accepted socket's getsockname is rarely needed). */
  localAddress: string | (() => string);
  logger: Logger;
}

/**
 * The shared part of a framed connection. A carrier supplies sending, `bufferedBytes`, and the
 * hooks below (start/pause/resume reading, end, abort); it feeds what it reads to `onChunk` or
 * `onRead` and reports its end through `carrierClosed`.
 */
export abstract class FramedConnection implements Connection {
  readonly id: number = nextId++;
  abstract readonly transport: Connection['transport'];
  #remoteAddress: string | undefined;
  #localAddress: string | (() => string);

  protected readonly reader: FrameReader;
  /** Built once: every frame sent uses the same object. */
  protected readonly encode: EncodeOptions;
  protected readonly logger: Logger;
  protected state = OPEN;
  #versionKnown: boolean;
  #handler: ConnectionHandler | null = null;
  /** The carrier's reading has been started (only once a handler exists, or to see the end). */
  #reading = false;
  #paused = false;
  /**
   * A framing error met while delivery was held, delivered on resume. Frames read while held stay
   * undecoded in the frame reader (it asks #ready before each one): a held connection keeps the
   * bytes it read, never what they would inflate or decode to.
   */
  #heldError: Error | null = null;
  /** A framing error was reported: further bytes are read (to see the peer's end) and dropped. */
  #failed = false;
  /**
   * The reader is delivering frames (a handler is running): a handler set or a resume() from inside
   * a handler takes effect for the next frame of the same loop, after the running handler returned —
   * never by delivering the next frame from inside it (a handshake that hands the connection to its
   * session must finish setting the session up before the session sees the call behind the CONNECT).
   */
  #delivering = false;
  /** setHandler()/resume() was called while delivering: what #continue does, done after the loop. */
  #continueAfter = false;
  /**
   * Watches a peer that does not read: while more than `maxBufferedOutput` bytes wait for it, its
   * queued output must shrink every `drainTimeoutMs`, or the connection is destroyed. (What stops
   * a peer from making us queue more is the RPC session: it serves no more of the peer's calls
   * while the output is that full. Reading goes on, so replies to our own calls still arrive and
   * two peers that both send more than they read do not deadlock.) Carriers look only when output
   * grew by a large frame or a full write slab.
   */
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #drainSeen = 0;
  protected readonly maxBufferedOutput: number;
  readonly #drainTimeoutMs: number;
  #closeError: Error | undefined;
  #closeNotified = false;
  /** Settled when the carrier has closed; made when first waited for. */
  #closed: Deferred | null = null;
  #drain: Deferred | null = null;

  constructor(init: FramedConnectionInit) {
    const { framing } = init;
    this.#remoteAddress = init.remoteAddress;
    this.#localAddress = init.localAddress;
    this.logger = init.logger;
    this.maxBufferedOutput = framing.maxBufferedOutput ?? DEFAULT_MAX_BUFFERED_OUTPUT;
    this.#drainTimeoutMs = framing.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.reader = new FrameReader(framing); // it reads its options here and keeps none of them
    // A server that accepts several versions answers in the first one listed until the peer's
    // first frame says otherwise.
    this.encode = {
      version: framing.versions[0] as ProtocolVersion,
      maxMessageSize: framing.maxMessageSize,
      hmacKey: framing.hmacKey,
      compressAbove: framing.compressAbove,
    };
    this.#versionKnown = !init.server || framing.versions.length === 1;
  }

  get remoteAddress(): string {
    let remote = this.#remoteAddress;
    if (remote === undefined) {
      remote = this.describeRemote();
      this.#remoteAddress = remote;
    }
    return remote;
  }

  /** The peer's address when it was not given at construction (a carrier that can say it later). */
  protected describeRemote(): string {
    return '?';
  }

  get localAddress(): string {
    const local = this.#localAddress;
    if (typeof local === 'string') return local;
    const found = local();
    this.#localAddress = found;
    return found;
  }

  // ---- what a carrier supplies

  abstract get bufferedBytes(): number;
  abstract send(message: Message): boolean;
  abstract peerCertificate(): PeerCertificate | null;
  /** Starts taking input (called once, with the first handler or to see the peer's end on close). */
  protected abstract startReading(): void;
  /** Stops taking input from the network (flow control). */
  protected abstract pauseReading(): void;
  /** Takes input again. */
  protected abstract resumeReading(): void;
  /** More is queued than the carrier's high-water mark: `drained()` must wait. */
  protected abstract needsDrain(): boolean;
  /** Someone waits in `drained()`: the carrier calls `outputDrained()` once below its mark. */
  protected abstract waitForDrain(): void;
  /**
   * Clean close: flush what is queued and end the carrier; `carrierClosed` follows. With
   * `waitForPeer` false a carrier may close at once when nothing is left queued: it returns true
   * then (the close needs no bound: nothing waits for the peer).
   */
  protected abstract endOutput(waitForPeer: boolean): boolean;
  /** Drops the carrier at once; `carrierClosed` follows. */
  protected abstract abort(): void;
  /** The carrier has closed: release what it holds (timers, queued frames, listener sets). */
  protected released(): void {}
  /**
   * A delivery loop (the frames of one read) has ended: what its handlers sent can leave now, in
   * one write, without waiting for the end of the tick.
   */
  protected deliveryEnded(): void {}

  /** Frames of a read are being delivered: what handlers send joins one write at the loop's end. */
  protected get delivering(): boolean {
    return this.#delivering;
  }

  // ---- Connection

  get protocolVersion(): ProtocolVersion | undefined {
    return this.#versionKnown ? this.encode.version : undefined;
  }

  get closed(): boolean {
    return this.state !== OPEN;
  }

  setHandler(handler: ConnectionHandler): void {
    this.#handler = handler;
    if (this.state === CLOSED) {
      this.#notifyClose();
      return;
    }
    this.#continue();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.pauseReading();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#continue();
  }

  drained(options?: CallOptions): Promise<void> {
    if (this.state === CLOSED) {
      return Promise.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`));
    }
    if (!this.needsDrain()) return Promise.resolve();
    if (this.#drain === null) {
      this.#drain = deferred();
      this.waitForDrain();
    }
    return withDeadline(this.#drain.promise, options, `waiting for ${this.remoteAddress} to drain`);
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.state === CLOSED) return Promise.resolve();
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.#heldError = null;
      // closed at once: no timer to bound a wait for the peer (a release pays for none)
      if (this.endOutput(options?.waitForPeer !== false)) return this.whenClosed();
    }
    const deadline: CallOptions = {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    };
    return withDeadline(this.whenClosed(), deadline, `closing connection to ${this.remoteAddress}`).catch(
      (err: Error) => {
        this.destroy(err);
        throw err;
      },
    );
  }

  destroy(error?: Error): void {
    if (this.state === CLOSED) return;
    if (error && !this.#closeError) this.#closeError = error;
    this.state = CLOSING;
    this.#heldError = null;
    this.abort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves once the carrier has closed (never rejects). */
  whenClosed(): Promise<void> {
    if (this.state === CLOSED) return Promise.resolve();
    return (this.#closed ??= deferred()).promise;
  }

  // ---- for carriers

  /** Starts the carrier's reading if it has not started (close does, to see the peer's end). */
  protected ensureReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.startReading();
  }

  /** Received bytes (a chunk of the stream, or one message of the channel). */
  protected onChunk(chunk: Uint8Array): void {
    if (this.#failed || this.state !== OPEN) return;
    this.#delivering = true;
    try {
      this.reader.push(chunk, this.#onMessage, this.#ready);
    } catch (err) {
      this.#onFramingError(err);
    }
    this.#delivered();
  }

  /** Direct reads: `n` bytes landed in `buffer` (see FrameReader.readTarget). */
  protected readonly onRead = (n: number, buffer: Uint8Array): void => {
    if (this.#failed || this.state !== OPEN) return;
    this.#delivering = true;
    try {
      this.reader.commitRead(buffer, n, this.#onMessage, this.#ready);
    } catch (err) {
      this.#onFramingError(err);
    }
    this.#delivered();
  };

  /** Starts watching the output if more than `maxBufferedOutput` bytes wait for the peer. */
  protected watchOutput(): void {
    if (this.#drainTimer !== undefined || this.#drainTimeoutMs <= 0) return;
    const queued = this.bufferedBytes;
    if (queued <= this.maxBufferedOutput) return;
    this.#drainSeen = queued;
    // the closure is made here: few connections ever queue this much
    const timer = setInterval(() => this.#checkDrain(), this.#drainTimeoutMs);
    (timer as { unref?: () => void }).unref?.();
    this.#drainTimer = timer;
  }

  /** The carrier's output went below its high-water mark. */
  protected outputDrained(): void {
    if (this.#drainTimer !== undefined) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
    const drain = this.#drain;
    if (drain) {
      this.#drain = null;
      drain.resolve();
    }
  }

  /** Somebody waits in `drained()`. */
  protected get drainAwaited(): boolean {
    return this.#drain !== null;
  }

  /** Why the carrier is closing (the first reason given wins). */
  protected noteError(error: Error): void {
    this.#closeError ??= error;
  }

  /** The peer ended its side: nothing more is sent. */
  protected peerEnded(): void {
    if (this.state === OPEN) this.state = CLOSING;
  }

  /** The connection was idle for `ms`. */
  protected idleTimedOut(ms: number): void {
    this.destroy(new TimeoutError(`connection to ${this.remoteAddress} idle for ${ms} ms`));
  }

  /** The carrier has closed (`error` when it was not a clean close). */
  protected carrierClosed(error?: Error): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (error) this.#closeError ??= error;
    if (this.#drainTimer !== undefined) clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#heldError = null;
    const drain = this.#drain;
    if (drain) {
      this.#drain = null;
      drain.reject(new ConnectionClosedError(`connection to ${this.remoteAddress} closed`));
    }
    this.#closed?.resolve();
    this.released();
    if (this.#handler) this.#notifyClose();
  }

  // ---- inside

  /** Delivers what was held and reads on, unless delivery is (still, or again) held. */
  #continue(): void {
    if (this.#paused || this.state !== OPEN || this.#handler === null) return;
    if (this.#delivering) {
      // called by a handler: the loop running it delivers the next frame once it has returned
      this.#continueAfter = true;
      return;
    }
    if (!this.#failed && this.reader.buffered > 0) {
      // The frames read while held (the reader stops again if the handler pauses).
      this.#delivering = true;
      try {
        this.reader.push(NO_BYTES, this.#onMessage, this.#ready);
      } catch (err) {
        this.#onFramingError(err);
      }
      this.#delivering = false;
      this.deliveryEnded();
      this.#continueAfter = false; // this very loop delivered what a handler's resume asked for
      if (this.#paused || this.state !== OPEN) return;
    }
    const error = this.#heldError;
    if (error !== null) {
      this.#heldError = null;
      this.#dispatch(error);
      if (this.#paused || this.state !== OPEN) return;
    }
    this.ensureReading();
    this.resumeReading();
  }

  /** A delivery loop ended: reading goes on if a handler resumed or replaced itself meanwhile. */
  #delivered(): void {
    this.#delivering = false;
    this.deliveryEnded();
    if (this.#continueAfter) {
      this.#continueAfter = false;
      this.#continue();
    }
  }

  #checkDrain(): void {
    const queued = this.bufferedBytes;
    if (queued <= this.maxBufferedOutput) {
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
  }

  #onFramingError(err: unknown): void {
    this.#failed = true;
    // The version may be known even though the frame is bad: the answer should speak it.
    if (!this.#versionKnown) this.#learnVersion();
    const error = err instanceof Error ? err : new ProtocolError(String(err));
    if (this.#paused || this.#handler === null) this.#heldError = error;
    else this.#dispatch(error);
  }

  /** Asked before each frame is decoded: while delivery is held the reader keeps the rest undecoded. */
  readonly #ready = (): boolean => this.state === OPEN && !this.#paused && this.#handler !== null;

  readonly #onMessage = (message: Message): void => {
    if (this.state !== OPEN) return;
    if (!this.#versionKnown) this.#learnVersion();
    this.#dispatch(message);
  };

  #learnVersion(): void {
    const version = this.reader.version;
    if (version !== undefined) {
      this.encode.version = version;
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
      this.logger.error({ err, conn: this.id }, 'connection handler threw; destroying the connection');
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    try {
      this.#handler?.onClose(this.#closeError);
    } catch (err) {
      this.logger.error({ err, conn: this.id }, 'connection onClose handler threw');
    }
  }
}
