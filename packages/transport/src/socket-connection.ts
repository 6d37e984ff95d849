// One framed connection over a stream socket (net.Socket for TCP and Unix, tls.TLSSocket for TLS).
// Outgoing frames of one tick are corked and leave in one writev; incoming chunks go through one
// FrameReader and reach the handler synchronously. This is the hot path of every call.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConfigError, ConnectionClosedError, type Logger, type TickNode } from '@cinder/core';
import { bufferOver, encodeMessage, encodeMessageInto, type Message } from '@cinder/protocol';
import { formatHostPort } from './address.js';
import { adoptReadsInto, type DirectReads, handleReading, type ReadSink } from './direct-reads.js';
import { CLOSED, FramedConnection, OPEN } from './framed-connection.js';
import { KeepAliveLater } from './keepalive-later.js';
import { connectionError } from './socket-errors.js';
import type { FramingOptions, PeerCertificate } from './transport.js';

export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_OUTPUT,
} from './framed-connection.js';

export interface SocketConnectionInit {
  socket: Socket;
  transport: 'tcp' | 'unix' | 'tls' | 'memory';
  framing: FramingOptions;
  /** Server side: the protocol version is detected from the first frame when several are accepted. */
  server: boolean;
  /** Undefined: `host:port` of the socket's peer, written when first asked. */
  remoteAddress: string | undefined;
  /** See Connection.remoteHost. */
  remoteHost?: string | undefined;
  localAddress: string | (() => string);
  idleTimeoutMs?: number | undefined;
  logger: Logger;
  /** Called once the socket has closed (listeners drop the connection from their set). */
  onClosed?: ((connection: SocketConnection) => void) | undefined;
  /**
   * The socket reads through these (its `onread` option) rather than
   * emitting 'data': the frame reader then chooses the buffer of every read.
   */
  directReads?: DirectReads | null | undefined;
  /**
   * An accepted socket without `directReads`: switched to direct reads when reading starts (the
   * connection's handler is set in the accept event, so before any read), so that its first read
   * lands in the frame reader's own buffer. A socket that has read by then emits 'data' instead.
   */
  adoptReads?: boolean | undefined;
  /** A client's socket: gets keepalive from this once the connection has lived a second or two. */
  keepAliveLater?: KeepAliveLater | null | undefined;
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
/**
 * A connection's first write slab is this small and cut from Node's shared pool: one that only
 * answers a handshake and a call or two never gets a 64 KiB slab of its own (external memory that
 * makes V8 run full GCs every few hundred connections).
 */
const FIRST_SLAB_SIZE = 2 * 1024;

/** A framed connection over a stream socket: the connection core plus corked, slab-combined writes. */
export class SocketConnection extends FramedConnection {
  readonly transport: 'tcp' | 'unix' | 'tls' | 'memory';
  readonly remoteHost: string | undefined;

  readonly #socket: Socket;
  readonly #onClosed: ((connection: SocketConnection) => void) | undefined;
  /** Reads go through these into buffers of the frame reader's choosing; no 'data' events. */
  readonly #directReads: DirectReads | null;
  readonly #adoptReads: boolean;
  /** The socket's place in a KeepAliveLater list until it gets keepalive or closes. */
  #keepAliveNode: TickNode<Socket> | null;
  /** Reads go into the frame reader's buffers (directReads, or adopted when reading started). */
  #readsDirect = false;
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
  /** The slab's ArrayBuffer and offset, kept with it (the view per write costs half). */
  #slabArrayBuffer: ArrayBufferLike = EMPTY_SLAB.buffer;
  #slabOffset = 0;
  /** Frames were sent while a read was being delivered: flushed when the delivery loop ends. */
  #flushAfterDelivery = false;
  #slabStart = 0;
  #slabPos = 0;
  /** The socket's 'drain' calls outputDrained (from its first refused write on). */
  #drainListened = false;

  constructor(init: SocketConnectionInit) {
    super(init);
    const { socket } = init;
    this.#socket = socket;
    this.transport = init.transport;
    this.remoteHost = init.remoteHost;
    this.#onClosed = init.onClosed;
    this.#directReads = init.directReads ?? null;
    this.#adoptReads = init.adoptReads === true;
    this.#keepAliveNode = init.keepAliveLater ? init.keepAliveLater.add(socket) : null;

    socket.on('error', this.#onSocketError);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onSocketClose);
    // 'drain' is listened for from the first write the socket refuses (see #refused)
    // Defensive: a socket that already closed will not emit 'close' again.
    if (socket.closed) queueMicrotask(this.#onSocketClose);
    if (init.idleTimeoutMs && init.idleTimeoutMs > 0) {
      const ms = init.idleTimeoutMs;
      socket.setTimeout(ms, () => this.idleTimedOut(ms));
    }
  }

  /**
   * `host:port` of the peer, for a listener's socket: Node keeps what getpeername said at accept,
   * so this holds after the close too.
   */
  protected override describeRemote(): string {
    const socket = this.#socket;
    return formatHostPort(socket.remoteAddress, socket.remotePort);
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  peerCertificate(): PeerCertificate | null {
    return peerCertificateOf(this.#socket);
  }

  /**
   * Takes the bytes read so far (they waited in the socket's buffer, or in DirectReads' early
   * reads, up to a bound) and everything read from now on.
   */
  protected startReading(): void {
    const reader = this.reader;
    const sink: ReadSink = { target: () => reader.readTarget(), read: this.onRead };
    const direct = this.#directReads;
    if (direct !== null) direct.attach(sink);
    else if (!this.#adoptReads || !adoptReadsInto(this.#socket, sink)) {
      this.#socket.on('data', (chunk: Uint8Array) => this.onChunk(chunk));
      return;
    }
    this.#readsDirect = true;
  }

  protected pauseReading(): void {
    this.#socket.pause();
  }

  protected resumeReading(): void {
    // Reading directly while the handle reads (an accepted socket reads from its creation): nothing
    // to resume. After pause() the handle is stopped, and resume() starts it again.
    if (this.#readsDirect && handleReading(this.#socket)) return;
    this.#socket.resume();
  }

  protected needsDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  protected waitForDrain(): void {
    // the socket's 'drain' event calls outputDrained: a socket that needs draining refused a write,
    // and its connection has listened for 'drain' since (#refused)
  }

  protected endOutput(waitForPeer: boolean): boolean {
    this.#flush();
    const socket = this.#socket;
    if (
      !waitForPeer &&
      (this.transport === 'tcp' || this.transport === 'unix') &&
      socket.writableLength === 0
    ) {
      // all of it is with the OS, which sends it and then the FIN: close now (a release), so the
      // end leaves before whatever this tick does next, e.g. dialing the next connection
      socket.destroy();
      return true;
    }
    socket.end();
    // Keep reading (and dropping) so the peer's FIN is seen and the socket can close.
    this.ensureReading();
    socket.resume();
    return false;
  }

  protected abort(): void {
    this.#socket.destroy();
  }

  protected override released(): void {
    this.#onClosed?.(this);
  }

  send(message: Message, alone = false): boolean {
    if (this.state !== OPEN) {
      throw new ConnectionClosedError(`connection to ${this.remoteAddress} is closed`);
    }
    if (this.encode.version === 502) {
      // The common case: a small frame is encoded straight into the slab, joining the others of
      // this tick (no buffer of its own, no copy). The connection's first frame goes into its small
      // first slab at once (not through a failed attempt on the empty one).
      const fresh = this.#slab === EMPTY_SLAB;
      if (fresh) this.#newSlab(0);
      let n = encodeMessageInto(
        message,
        this.encode,
        this.#slab,
        this.#slabPos,
        this.#slab.length - this.#slabPos,
      );
      if (n < 0 && !fresh && this.#slab.length - this.#slabPos < SLAB_FRAME_ROOM) {
        // it may not have fitted: a slab with room for any small frame
        this.#newSlab(SLAB_FRAME_ROOM);
        n = encodeMessageInto(message, this.encode, this.#slab, 0, this.#slab.length);
      }
      if (n >= 0) {
        this.#slabPos += n;
        if (alone && this.#slabPos - this.#slabStart === n && !this.delivering && !this.#corked) {
          // nothing else waits and nothing else is expected: no reason to wait for the tick's end
          this.#writeSlab();
        } else {
          this.#scheduleFlush();
        }
        return this.#socket.writableLength < this.#socket.writableHighWaterMark;
      }
    }
    const chunks = encodeMessage(message, this.encode);
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
    for (let i = 0; i < chunks.length; i++) {
      ok = socket.write(chunks[i] as Uint8Array);
      if (!ok) this.#refused();
    }
    this.watchOutput();
    return ok;
  }

  #scheduleFlush(): void {
    if (this.delivering) {
      // a reply sent while the frames of a read are delivered: written when the loop ends
      this.#flushAfterDelivery = true;
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(SocketConnection.#flushOf, this);
    }
  }

  /** Hands what the slab holds to the socket (one write). */
  #writeSlab(): void {
    if (this.#slabPos > this.#slabStart) {
      const bytes = bufferOver(
        this.#slabArrayBuffer,
        this.#slabOffset + this.#slabStart,
        this.#slabPos - this.#slabStart,
      );
      this.#slabStart = this.#slabPos;
      if (!this.#socket.write(bytes)) this.#refused();
    }
  }

  #newSlab(atLeast: number): void {
    this.#writeSlab();
    this.watchOutput();
    const slab =
      this.#slab === EMPTY_SLAB && atLeast <= FIRST_SLAB_SIZE
        ? Buffer.allocUnsafe(FIRST_SLAB_SIZE)
        : Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, atLeast));
    this.#slab = slab;
    this.#slabArrayBuffer = slab.buffer;
    this.#slabOffset = slab.byteOffset;
    this.#slabStart = this.#slabPos = 0;
  }

  protected override deliveryEnded(): void {
    if (this.#flushAfterDelivery) {
      this.#flushAfterDelivery = false;
      this.#flush();
    }
  }

  /** The end of the tick's flush (a static method given the connection: no closure per connection). */
  static #flushOf(connection: SocketConnection): void {
    connection.#flush();
  }

  /**
   * The socket refused a write (it holds more than its high-water mark): a 'drain' will follow, so
   * the connection listens for it from now on. Node emits 'drain' only after a refused write, so a
   * socket whose writes were all taken needs no listener (most never refuse one: the listener is
   * not added per connection).
   */
  #refused(): void {
    if (this.#drainListened) return;
    this.#drainListened = true;
    this.#socket.on('drain', () => this.outputDrained());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.state === CLOSED) return;
    this.#writeSlab();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  readonly #onSocketError = (err: Error): void => {
    this.noteError(connectionError(err, this.remoteAddress));
  };

  readonly #onEnd = (): void => {
    // The peer sent FIN; with allowHalfOpen off our side ends too, so sending is over.
    this.peerEnded();
    // With nothing of ours left to write, a TCP or Unix socket closes now: close() sends our FIN
    // just as Node's end() would, without first shutting our side down (a shutdown request and
    // syscall, 'finish', then the close). Node's own end() (next tick) sees the socket destroyed.
    // TLS ends as before (close_notify); anything still queued is flushed by end() as before.
    const socket = this.#socket;
    if (
      (this.transport === 'tcp' || this.transport === 'unix') &&
      this.#slabPos === this.#slabStart &&
      !this.#corked &&
      socket.writableLength === 0
    ) {
      socket.destroy();
    }
  };

  readonly #onSocketClose = (): void => {
    const waiting = this.#keepAliveNode;
    if (waiting !== null) {
      this.#keepAliveNode = null;
      KeepAliveLater.cancel(waiting);
    }
    this.carrierClosed();
  };
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
