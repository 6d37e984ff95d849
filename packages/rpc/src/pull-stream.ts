// Client side of streamed results. Pyro's pull protocol: the reply to the call carries a stream id
// (flags ITEMSTREAMRESULT, annotation `STRM`); each item is fetched with
// `Pyro.Daemon.get_next_stream_item(id)` until StopIteration; breaking out of the loop sends a
// oneway `close_stream(id)`.
import { RemoteError } from '@cinder/core';
import type { RemoteStream } from './remote-stream.js';

/** What a call resolves to when the daemon answered with a stream. */
export class StreamStart {
  constructor(readonly streamId: string) {}
}

export function isStopIteration(err: unknown): boolean {
  return (
    err instanceof RemoteError &&
    (err.remoteType === 'builtins.StopIteration' || err.remoteType === 'StopIteration')
  );
}

/** How a pull stream talks to the daemon object on the proxy's connection. */
export interface StreamCalls {
  callDaemon(method: string, args: unknown[], oneway: boolean): Promise<unknown>;
}

export class PullStream<T = unknown> implements RemoteStream<T> {
  private finished = false;

  constructor(
    private readonly calls: StreamCalls,
    readonly streamId: string,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    try {
      while (!this.finished) {
        let item: unknown;
        try {
          item = await this.calls.callDaemon('get_next_stream_item', [this.streamId], false);
        } catch (err) {
          this.finished = true;
          if (isStopIteration(err)) return;
          throw err;
        }
        yield item as T;
      }
    } finally {
      if (!this.finished) await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.calls.callDaemon('close_stream', [this.streamId], true);
    } catch {
      // the connection is gone: the daemon closes lingering streams itself
    }
  }
}
