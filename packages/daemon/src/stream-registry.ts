// Streamed results kept by the daemon for Pyro's pull protocol (`get_next_stream_item`): each call
// that returned an iterator or generator gets a stream id; items are pulled one per round trip. A
// stream lives while its connection lives plus a linger time (so a reconnecting proxy can go on),
// and at most its lifetime when one is configured.
import { randomUUID } from 'node:crypto';
import { CinderError, RemoteError } from '@cinder/core';

interface StreamEntry {
  iterator: AsyncIterator<unknown> | Iterator<unknown>;
  connectionId: number | undefined;
  created: number;
  lingerUntil: number;
}

/** Anything a method may return that Cinder streams instead of sending as one value. */
export function isStreamable(
  value: unknown,
): value is Iterator<unknown> | AsyncIterator<unknown> | AsyncIterable<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set)
    return false;
  const v = value as Record<symbol | string, unknown>;
  if (typeof v[Symbol.asyncIterator] === 'function') return true;
  return typeof v.next === 'function' && typeof v[Symbol.iterator] === 'function';
}

export function toIterator(
  value: Iterator<unknown> | AsyncIterator<unknown> | AsyncIterable<unknown>,
): AsyncIterator<unknown> | Iterator<unknown> {
  const v = value as unknown as Record<symbol | string, unknown>;
  if (typeof v[Symbol.asyncIterator] === 'function')
    return (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  return value as Iterator<unknown>;
}

export function stopIteration(): RemoteError {
  return new RemoteError({ remoteType: 'builtins.StopIteration', remoteMessage: '', args: [] });
}

export function streamTerminated(): CinderError {
  return new CinderError('item stream terminated');
}

export class StreamRegistry {
  private readonly streams = new Map<string, StreamEntry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly lifetimeMs: number,
    private readonly lingerMs: number,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  add(iterator: AsyncIterator<unknown> | Iterator<unknown>, connectionId: number): string {
    const id = randomUUID();
    this.streams.set(id, {
      iterator,
      connectionId,
      created: Date.now(),
      lingerUntil: Number.POSITIVE_INFINITY,
    });
    this.schedule();
    return id;
  }

  /** The next item; throws StopIteration at the end, or "item stream terminated" for unknown ids. */
  async next(id: string, connectionId: number): Promise<unknown> {
    const entry = this.streams.get(id);
    if (!entry) throw streamTerminated();
    entry.connectionId = connectionId; // a reconnected client takes the stream over
    entry.lingerUntil = Number.POSITIVE_INFINITY;
    let result: IteratorResult<unknown>;
    try {
      result = await entry.iterator.next();
    } catch (err) {
      this.streams.delete(id);
      throw err;
    }
    if (result.done) {
      this.streams.delete(id);
      throw stopIteration();
    }
    return result.value;
  }

  close(id: string): void {
    const entry = this.streams.get(id);
    if (!entry) return;
    this.streams.delete(id);
    // a generator that fails while closing has nothing more to say: its failure is dropped here
    Promise.resolve()
      .then(() => entry.iterator.return?.())
      .catch(() => {});
  }

  /** The connection ended: its streams linger, then close. */
  connectionClosed(connectionId: number): void {
    if (this.streams.size === 0) return; // the usual case: no clock read, no iterator per connection
    const until = Date.now() + this.lingerMs;
    for (const [id, entry] of this.streams) {
      if (entry.connectionId !== connectionId) continue;
      if (this.lingerMs <= 0) this.close(id);
      else entry.lingerUntil = until;
    }
    this.schedule();
  }

  closeAll(): void {
    for (const id of [...this.streams.keys()]) this.close(id);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.streams.size === 0) return;
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.streams) {
      if (entry.lingerUntil <= now || (this.lifetimeMs > 0 && entry.created + this.lifetimeMs <= now))
        this.close(id);
    }
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
