// A hand-driven client socket for tests that misbehave on purpose: it writes whatever it is told and
// reads whole frames through the codec it is given. The codec (a @cinder/protocol FrameReader and
// encoder, typically) is passed in, so these helpers depend on no @cinder package: those packages'
// own tests use them.
import { connect as netConnect, type Socket } from 'node:net';

/** How a raw client frames its traffic. */
export interface FrameCodec<M> {
  /** Takes received bytes; calls `onFrame` for each whole frame, throws on a broken one. */
  push(chunk: Buffer, onFrame: (frame: M) => void): void;
  encode(frame: M): Uint8Array;
}

/** Where a raw client connects: TCP (optionally from a chosen local address) or a Unix socket. */
export type RawTarget = { host: string; port: number; localAddress?: string } | { path: string };

/** A connected socket; rejects if the connection fails. */
export function connectSocket(target: RawTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(target);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export class RawFrameClient<M> {
  readonly received: M[] = [];
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<void>;
  readonly #codec: FrameCodec<M>;
  #wake: (() => void) | undefined;
  #isClosed = false;
  #readError: Error | undefined;

  constructor(
    readonly socket: Socket,
    codec: FrameCodec<M>,
  ) {
    this.#codec = codec;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#codec.push(chunk, (m) => this.received.push(m));
      } catch (err) {
        this.#readError = err as Error;
        socket.destroy();
      }
      this.#wakeUp();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wakeUp();
        resolve();
      }),
    );
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(frame: M): void {
    this.write(this.#codec.encode(frame));
  }

  /**
   * The next frame from the peer; rejects with the codec's error on a broken frame, when the socket
   * closes first, or after `timeoutMs`.
   */
  async next(timeoutMs = 5000): Promise<M> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.shift();
      if (m !== undefined) return m;
      if (this.#readError) throw this.#readError;
      if (this.#isClosed) throw new Error('socket closed before a frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Resolves true if the socket closes within `timeoutMs`, false otherwise. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), late]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
