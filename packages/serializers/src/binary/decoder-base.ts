// What the cbor and msgpack decoders share: the input being read, the decode budget, and the three
// ways in: a whole value (`decode`), a `<batch>` call with its calls left in the payload
// (`decodeBatchCall`, see lazy-batch.ts) and one value of such a checked payload (`decodeItem`).
import { SerializeError } from '@cinder/core';
import { callFromParts, callFromSequence } from '../envelope.js';
import { tooManyItems } from '../formats/options.js';
import type { CallEnvelope, CodecHooks } from '../serializer.js';
import type { ValueMapper } from '../value-mapper.js';
import { type ItemDecoder, LazyBatchCalls, lazyBatchCall } from './lazy-batch.js';
import { StringCache } from './read-utf8.js';

export interface DecodeOptions {
  /** Copy byte strings out of the input (true) or return views into it (false). */
  copyBuffers: boolean;
}

const EMPTY = new Uint8Array(0);

export abstract class BinaryDecoder implements ItemDecoder {
  /** Where the value `decodeItem` read ended. */
  itemEnd = 0;
  protected readonly strings = new StringCache();
  protected buf: Uint8Array = EMPTY;
  protected pos = 0;
  /** End of the input being decoded; -1 when idle. */
  protected end = -1;
  protected hooks: CodecHooks | undefined;
  protected readonly maxDepth: number;
  /** What is left of the decode budget: values the data may still create (see checkItems). */
  protected itemsLeft = 0;

  constructor(
    protected readonly mapper: ValueMapper,
    protected readonly options: DecodeOptions,
    /** The format's name, as error messages start. */
    private readonly format: string,
    /** The head byte of a 4-item array: a call envelope as Pyro and Cinder write it. */
    private readonly envelopeHead: number,
  ) {
    this.maxDepth = mapper.maxDepth;
  }

  /** A decoder of the same format for a decode that starts while this one is busy (from a hook). */
  protected abstract fresh(): BinaryDecoder;
  /** Reads one value (`depth`: the nesting it is at). */
  protected abstract value(depth: number): unknown;
  /**
   * Steps over one value as `value` would read it (same budget, depth and validity checks and
   * errors), building nothing but strings. False for what only `value` may judge (tags, exts, a
   * `__class__` key: revival runs hooks) and for nesting beyond maxDepth.
   */
  protected abstract skip(depth: number): boolean;
  /**
   * Steps over `n` values at `depth` (a list's elements). Every list the walk meets goes through
   * here, so it is optimized early; a batch's 40,000 calls then run in optimized code even in the
   * first large batch of a process (a loop in the once-per-batch caller would wait for OSR).
   */
  protected skipItems(n: number, depth: number): boolean {
    for (let i = 0; i < n; i++) if (!this.skip(depth)) return false;
    return true;
  }

  /** Reads the head of a list: its length, or -1 when the value there is not a list. */
  protected abstract listHead(): number;

  decode(data: Uint8Array, hooks: CodecHooks | undefined): unknown {
    if (!(data instanceof Uint8Array)) throw new SerializeError(`${this.format}: data must be a Uint8Array`);
    // A hook that decodes while this decoder is busy gets a decoder of its own.
    if (this.end !== -1) return this.fresh().decode(data, hooks);
    this.begin(data, 0, data.length, hooks, this.mapper.maxItems - 1);
    try {
      if (data.length === 0) throw new SerializeError(`${this.format}: empty data`);
      const value = this.value(0);
      if (this.pos !== this.end) {
        throw new SerializeError(
          `${this.format}: ${this.end - this.pos} bytes of extra data after the value`,
        );
      }
      return value;
    } catch (err) {
      throw wrapDecodeError(err);
    } finally {
      this.done();
    }
  }

  /**
   * A call envelope `[object, method, params, kwargs]` read straight into a CallEnvelope: the
   * 4-item array `decode` would build first is never made. The same budget, depth and checks, in
   * the same order, as `decode` followed by `callFromSequence`; anything but a 4-item array head
   * (or a decoder already busy) is read that way.
   */
  decodeCall(data: Uint8Array, hooks: CodecHooks | undefined): CallEnvelope {
    if (
      this.end !== -1 ||
      !(data instanceof Uint8Array) ||
      data.length < 5 || // (what the four items need at least: decode says how it is truncated)
      data[0] !== this.envelopeHead
    )
      return callFromSequence(this.format, this.decode(data, hooks));
    this.begin(data, 1, data.length, hooks, this.mapper.maxItems - 1);
    try {
      this.checkItems(4);
      const object = this.value(1);
      const method = this.value(1);
      const params = this.value(1);
      const kwargs = this.value(1);
      if (this.pos !== this.end) {
        throw new SerializeError(
          `${this.format}: ${this.end - this.pos} bytes of extra data after the value`,
        );
      }
      return callFromParts(this.format, object, method, params, kwargs);
    } catch (err) {
      throw wrapDecodeError(err);
    } finally {
      this.done();
    }
  }

  /**
   * A `<batch>` call `[object, method, [calls…], kwargs]` with its calls left in `data`. The whole
   * payload is walked first under decode's budget, depth and validity rules; null when it is not a
   * plain batch (a tag or ext, a `__class__` key, an error, too many values): decode it with
   * `decode` then, which reads or refuses it as always.
   */
  decodeBatchCall(data: Uint8Array, hooks: CodecHooks | undefined): CallEnvelope | null {
    if (this.end !== -1 || !(data instanceof Uint8Array) || data[0] !== this.envelopeHead) return null;
    this.begin(data, 1, data.length, hooks, this.mapper.maxItems - 1);
    try {
      // the walk: as value(0) reads the envelope (1 + 4 values), noting where the calls are
      if (this.end < 5) return null;
      this.checkItems(4);
      if (!this.skip(1) || !this.skip(1)) return null;
      const n = this.listHead();
      if (n < 0 || this.maxDepth < 2) return null;
      this.checkItems(n);
      const start = this.pos;
      if (!this.skipItems(n, 2)) return null;
      const callsEnd = this.pos;
      if (!this.skip(1) || this.pos !== this.end) return null;
      // checked (the budget charged): read the envelope's other parts
      this.itemsLeft = this.mapper.maxItems;
      this.pos = 1;
      const object = this.value(1);
      const method = this.value(1);
      this.pos = callsEnd;
      const kwargs = this.value(1);
      return lazyBatchCall(object, method, kwargs, new LazyBatchCalls(this, data, start, callsEnd, n, hooks));
    } catch {
      return null;
    } finally {
      this.done();
    }
  }

  /** Decodes one value of a payload `decodeBatchCall` checked (its budget was charged then). */
  decodeItem(
    data: Uint8Array,
    pos: number,
    end: number,
    depth: number,
    hooks: CodecHooks | undefined,
  ): unknown {
    if (this.end !== -1) {
      const other = this.fresh();
      const value = other.decodeItem(data, pos, end, depth, hooks);
      this.itemEnd = other.itemEnd;
      return value;
    }
    this.begin(data, pos, end, hooks, this.mapper.maxItems);
    try {
      const value = this.value(depth);
      this.itemEnd = this.pos;
      return value;
    } catch (err) {
      throw wrapDecodeError(err);
    } finally {
      this.done();
    }
  }

  private begin(
    data: Uint8Array,
    pos: number,
    end: number,
    hooks: CodecHooks | undefined,
    items: number,
  ): void {
    this.itemsLeft = items;
    this.buf = data;
    this.pos = pos;
    this.end = end;
    this.hooks = hooks;
  }

  private done(): void {
    // Do not keep the caller's buffer alive.
    this.buf = EMPTY;
    this.hooks = undefined;
    this.end = -1;
  }

  /** Claims `n` bytes and returns where they start. */
  protected take(n: number): number {
    const p = this.pos;
    if (p + n > this.end) {
      throw new SerializeError(
        `${this.format}: truncated data (need ${n} bytes at offset ${p}, have ${this.end - p})`,
      );
    }
    this.pos = p + n;
    return p;
  }

  /**
   * Charges a container's announced element count to the decode budget before anything is
   * allocated: one check per container, not per value, and sound because every value but the root
   * is an element (or key) of some container.
   */
  protected checkItems(n: number): void {
    if ((this.itemsLeft -= n) < 0) throw tooManyItems(this.format, this.mapper.maxItems);
  }
}

/** Turns anything a decoder throws into a typed error. */
export function wrapDecodeError(err: unknown): unknown {
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new SerializeError('data nests too deeply for the call stack', { cause: err });
  }
  return err;
}
