// Two in-process byte streams joined end to end, standing in for a connected socket pair: what one
// side writes, the other reads, on a later turn of the event loop (as from the network, never inside
// the writer's call). The receiving side holds at most its buffer size of unread bytes (the kernel's
// socket buffers); past that the writer's data waits in its own write queue (`writableLength`),
// 'drain' comes once the reader has taken it, and a reader that never reads stalls the writer, as
// a TCP peer would. `end()` delivers end-of-stream after the data; `destroy()` drops the write
// queue and delivers end-of-stream after what was already handed over. With allowHalfOpen off the
// reading side ends its own half when the peer's end arrives, so both close, as sockets do.
import { Duplex, getDefaultHighWaterMark } from 'node:stream';

/** Unread bytes a receiving side holds before the sender waits (default). */
export const DEFAULT_MEMORY_BUFFER_SIZE = 64 * 1024;

type WriteCallback = (error?: Error | null) => void;

/** A write (one chunk, or the chunks of a writev) on its way to the peer. */
interface PendingWrite {
  chunks: Buffer[];
  /** Index of the first chunk the peer has not taken. */
  next: number;
  callback: WriteCallback;
}

function resetError(): Error {
  return Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });
}

export class MemorySocket extends Duplex {
  #peer!: MemorySocket;
  /** The write whose bytes the peer could not take yet: delivered on when it reads (its `_read`). */
  #held: PendingWrite | null = null;
  /** End-of-stream was pushed to our readable side. */
  #eof = false;
  #idleTimer: NodeJS.Timeout | undefined;

  /** A connected pair: `[a, b]`, each reading what the other writes. */
  static pair(bufferSize = DEFAULT_MEMORY_BUFFER_SIZE): [MemorySocket, MemorySocket] {
    const a = new MemorySocket(bufferSize);
    const b = new MemorySocket(bufferSize);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  private constructor(bufferSize: number) {
    super({
      allowHalfOpen: false,
      readableHighWaterMark: bufferSize,
      // what a net.Socket has on this Node version, so send() reports back-pressure at the same point
      writableHighWaterMark: getDefaultHighWaterMark(false),
      decodeStrings: false,
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#transmit([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: WriteCallback): void {
    this.#transmit(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  #transmit(chunks: Buffer[], callback: WriteCallback): void {
    this.#touch();
    setImmediate(() => this.#deliver({ chunks, next: 0, callback }));
  }

  /** Hands chunks to the peer until its buffer is full; the rest waits for the peer to read. */
  #deliver(write: PendingWrite): void {
    const peer = this.#peer;
    while (write.next < write.chunks.length) {
      const room = peer.#receive(write.chunks[write.next++] as Buffer);
      if (!room) {
        this.#held = write;
        return;
      }
    }
    // A destroyed writable has dropped its queue; its pending callback has nobody to tell.
    if (!this.destroyed) write.callback();
  }

  /** Takes bytes from the peer; false when our unread bytes reached the buffer size. */
  #receive(chunk: Buffer): boolean {
    if (this.#eof || this.destroyed) return true; // nobody reads any more: the bytes are lost
    this.#touch();
    return this.push(chunk);
  }

  /** The peer has finished (end or destroy): after the data it sent, our reading side ends. */
  #receiveEnd(): void {
    if (this.#eof || this.destroyed) return;
    this.#eof = true;
    this.push(null);
    // Like a socket, report the end at once when nothing is left unread, even to nobody reading.
    this.read(0);
  }

  override _read(): void {
    const peer = this.#peer;
    const held = peer.#held;
    if (held) {
      peer.#held = null;
      peer.#deliver(held);
    }
  }

  override _final(callback: WriteCallback): void {
    // Queued behind the writes still on their way, as a FIN follows the data.
    setImmediate(() => {
      this.#peer.#receiveEnd();
      callback();
    });
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    this.#held = null;
    // Unread bytes of a peer that is gone: its waiting write fails, as a TCP reset does.
    const peer = this.#peer;
    const peerHeld = peer.#held;
    if (peerHeld) {
      peer.#held = null;
      setImmediate(() => {
        if (!peer.destroyed) peerHeld.callback(resetError());
      });
    }
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    setImmediate(() => this.#peer.#receiveEnd());
    callback(error);
  }

  /**
   * Like net.Socket's: emits 'timeout' (and calls `onTimeout`) after `ms` without reading or
   * writing; 0 turns it off. The socket stays open: the listener decides.
   */
  setTimeout(ms: number, onTimeout?: () => void): this {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (onTimeout) this.once('timeout', onTimeout);
    if (ms > 0 && !this.destroyed) {
      this.#idleTimer = setTimeout(() => this.emit('timeout'), ms);
      this.#idleTimer.unref();
    }
    return this;
  }

  #touch(): void {
    this.#idleTimer?.refresh();
  }
}
