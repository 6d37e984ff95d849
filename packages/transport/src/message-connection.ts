// One framed connection over a message channel (a WebSocket): the same Pyro frames as over a
// stream socket, carried in binary messages. Frames sent in one tick leave in one message; incoming
// messages go through the same FrameReader, so a frame may span messages and a message may hold
// several frames. Reading, dispatch, flow control, the drain watchdog and closing are the connection
// core's (FramedConnection), as for a stream socket: while paused, the connection stops taking
// messages from the channel and what it took stays undecoded bytes. The channel itself is an
// adapter (the `ws` package on Node, the platform's WebSocket in a browser), so this file uses no
// Node built-ins.
import { ConnectionClosedError, type Logger } from '@cinder/core';
import { encodeMessage, type Message } from '@cinder/protocol';
import { CLOSED, FramedConnection, OPEN } from './framed-connection.js';
import type { FramingOptions, PeerCertificate } from './transport.js';

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
  /**
   * Stops reading from the network (flow control); optional where the platform cannot (a browser:
   * messages that still arrive are kept as the bytes received, not decoded, until resume).
   */
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

/** `send` reports backpressure above this many buffered bytes (a stream socket's default). */
const HIGH_WATER_MARK = 16 * 1024;
/** Frames up to this size are combined into the tick's message; larger ones go on their own. */
const COMBINE_LIMIT = 16 * 1024;
/** Output is looked at for the drain watchdog after this many bytes sent (as a socket's write slab). */
const WATCH_EVERY = 64 * 1024;
const DRAIN_POLL_MS = 5;

// The end of the tick where Node has one (after every promise job of this turn, so more frames
// share a message); a microtask in browsers.
const nodeProcess = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process;
const atEndOfTick: (fn: () => void) => void =
  typeof nodeProcess?.nextTick === 'function' ? nodeProcess.nextTick.bind(nodeProcess) : queueMicrotask;

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

/** A framed connection over a message channel: the connection core plus per-tick combined messages. */
export class MessageConnection extends FramedConnection {
  readonly transport: 'ws' | 'wss';
  /** Filled in by the adapter once the channel exists. */
  channel!: MessageChannel;

  readonly #onClosed: ((connection: MessageConnection) => void) | undefined;
  readonly #idleMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Small frames of this tick, sent as one message at its end. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  /** Bytes sent since the output was last looked at for the drain watchdog. */
  #sentSinceLook = 0;
  #drainPoll: ReturnType<typeof setTimeout> | undefined;

  constructor(init: MessageConnectionInit) {
    super(init);
    this.transport = init.transport;
    this.#onClosed = init.onClosed;
    this.#idleMs = init.idleTimeoutMs ?? 0;
    this.#touch();
  }

  /** The callbacks the adapter calls. */
  readonly events: ChannelEvents = {
    data: (chunk) => {
      this.#touch();
      this.onChunk(chunk);
    },
    written: () => {
      if (this.drainAwaited) this.#checkDrain();
    },
    closed: (error) => this.carrierClosed(error),
  };

  get bufferedBytes(): number {
    return this.#pendingBytes + (this.state === CLOSED ? 0 : this.channel.bufferedAmount());
  }

  peerCertificate(): PeerCertificate | null {
    return this.channel.peerCertificate?.() ?? null;
  }

  protected startReading(): void {
    // the adapter holds the channel paused until resumeReading
  }

  protected pauseReading(): void {
    this.channel.pauseReading?.();
  }

  protected resumeReading(): void {
    this.channel.resumeReading?.();
  }

  protected needsDrain(): boolean {
    return this.bufferedBytes >= HIGH_WATER_MARK;
  }

  protected waitForDrain(): void {
    // Not every platform says when a message has been written out: poll as well.
    this.#drainPoll = setTimeout(() => {
      if (!this.#checkDrain()) this.waitForDrain();
    }, DRAIN_POLL_MS);
  }

  /** Resolves the drain waiters once below the mark; true when nobody waits any more. */
  #checkDrain(): boolean {
    if (!this.drainAwaited || this.state === CLOSED) return true;
    if (this.bufferedBytes >= HIGH_WATER_MARK) return false;
    if (this.#drainPoll) clearTimeout(this.#drainPoll);
    this.outputDrained();
    return true;
  }

  protected endOutput(): boolean {
    this.#flush();
    this.channel.close(); // the WebSocket closing handshake, whatever the caller's waitForPeer
    return false;
  }

  protected abort(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.channel.terminate();
  }

  protected override released(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#drainPoll) clearTimeout(this.#drainPoll);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#onClosed?.(this);
  }

  send(message: Message): boolean {
    if (this.state !== OPEN) {
      throw new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`);
    }
    const chunks = encodeMessage(message, this.encode);
    let size = 0;
    for (const c of chunks) size += c.length;
    if (size > COMBINE_LIMIT) {
      // Large frames go as they are (header and payload parts in their own messages, no copy here).
      this.#flush();
      for (const c of chunks) this.channel.send(c);
      this.#sentSinceLook = 0;
      this.watchOutput();
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
    if (this.#pending.length === 0 || this.state === CLOSED) return;
    const size = this.#pendingBytes;
    const data = concat(this.#pending, size);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.channel.send(data);
    this.#sentSinceLook += size;
    if (this.#sentSinceLook >= WATCH_EVERY) {
      this.#sentSinceLook = 0;
      this.watchOutput();
    }
  };

  #touch(): void {
    if (this.#idleMs <= 0 || this.state === CLOSED) return;
    const timer = this.#idleTimer as { refresh?: () => void } | undefined;
    if (typeof timer?.refresh === 'function') {
      timer.refresh();
      return;
    }
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    const ms = this.#idleMs;
    this.#idleTimer = setTimeout(() => this.idleTimedOut(ms), ms);
  }
}
