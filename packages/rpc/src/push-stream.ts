// Streamed results between Cinder peers: instead of one round trip per item (Pyro's pull protocol),
// the server pushes items as RESULT frames with the call's seq, within a credit the client grants
// and tops up as it consumes. The client's queue and the server's in-flight items are both bounded
// by the credit, so a slow consumer holds the producer back instead of filling memory.
//
// Wire (only after both sides negotiated PUSH_STREAMS):
//   server → client  RESULT seq=S flags ITEMSTREAMRESULT, annotation SPSH, payload = one item
//   server → client  RESULT seq=S flags ITEMSTREAMRESULT [|EXCEPTION], annotation SEND, payload = null | error
//   client → server  PING flags ONEWAY, annotation SCRD = u16 S, u32 credit     (more credit)
//   client → server  PING flags ONEWAY, annotation SCLS = u16 S                 (stop the stream)
//   client → server  PING flags ONEWAY, annotation CNCL = u16 S                 (cancel call S)
import { ConnectionClosedError } from '@cinder/core';
import type { RemoteStream } from './remote-stream.js';

export const PUSH_ITEM = 'SPSH';
export const PUSH_END = 'SEND';
export const STREAM_CREDIT = 'SCRD';
export const STREAM_CLOSE = 'SCLS';
export const CANCEL_CALL = 'CNCL';

/** What a push-stream consumer needs from its session. */
export interface PushStreamHost {
  sendControl(id: string, value: Uint8Array): void;
  streamEnded(seq: number): void;
}

export function seqBytes(seq: number, credit?: number): Uint8Array {
  const b = Buffer.allocUnsafe(credit === undefined ? 2 : 6);
  b.writeUInt16BE(seq, 0);
  if (credit !== undefined) b.writeUInt32BE(credit, 2);
  return b;
}

export function readSeq(value: Uint8Array | undefined): number | undefined {
  if (value === undefined || value.length < 2) return undefined;
  return (value[0]! << 8) | value[1]!;
}

export function readCredit(value: Uint8Array | undefined): number {
  if (value === undefined || value.length < 6) return 0;
  return ((value[2]! << 24) >>> 0) + ((value[3]! << 16) | (value[4]! << 8) | value[5]!);
}

/** The client side of one pushed stream. */
export class PushStream<T = unknown> implements RemoteStream<T> {
  private readonly queue: unknown[] = [];
  private done = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private consumed = 0;
  private iterating = false;

  constructor(
    private readonly host: PushStreamHost,
    readonly seq: number,
    private readonly window: number,
  ) {}

  /** @internal an item arrived. */
  item(value: unknown): void {
    if (this.done) return;
    this.queue.push(value);
    this.notify();
  }

  /** @internal the stream ended (with an error when the producer failed or the connection died). */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    if (this.iterating) throw new TypeError('a remote stream can be iterated only once');
    this.iterating = true;
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const value = this.queue.shift();
          if (++this.consumed >= this.window / 2 && !this.done) {
            this.host.sendControl(STREAM_CREDIT, seqBytes(this.seq, this.consumed));
            this.consumed = 0;
          }
          yield value as T;
          continue;
        }
        if (this.done) {
          if (this.error) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      if (!this.done) await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.host.streamEnded(this.seq);
    try {
      this.host.sendControl(STREAM_CLOSE, seqBytes(this.seq));
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) throw err;
    }
  }
}

/** Marks a served call's result as a stream to push (returned by a CallServer). */
export class PushStreamReply {
  constructor(readonly iterator: AsyncIterator<unknown> | Iterator<unknown>) {}
}
