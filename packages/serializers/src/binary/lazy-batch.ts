// A received `<batch>` call's list of calls left in the payload and decoded one call at a time.
// Decoded whole, a batch of 40,000 calls is 120,000 objects that stay alive while the batch runs:
// they survive young-generation collections, are copied and promoted, and GC was ~half of the
// server's time. Decoded call by call, each call's objects die young.
import { isDict } from '../envelope.js';
import type { BatchCalls, CallEnvelope, CodecHooks } from '../serializer.js';

/** What decodes one value of a checked payload (a binary decoder). */
export interface ItemDecoder {
  /** Decodes the value at `pos` (at nesting `depth`); `itemEnd` is then where it ended. */
  decodeItem(
    data: Uint8Array,
    pos: number,
    end: number,
    depth: number,
    hooks: CodecHooks | undefined,
  ): unknown;
  readonly itemEnd: number;
}

/** The calls of a batch: `length` values from `start` to `end` of `data`, checked before. */
export class LazyBatchCalls implements BatchCalls {
  constructor(
    private readonly decoder: ItemDecoder,
    private readonly data: Uint8Array,
    private readonly start: number,
    private readonly end: number,
    readonly length: number,
    private readonly hooks: CodecHooks | undefined,
  ) {}

  [Symbol.iterator](): Iterator<unknown> {
    return new LazyCallIterator(this.decoder, this.data, this.start, this.end, this.length, this.hooks);
  }
}

/** Decodes the next call on each step (a class rather than a generator: a batch steps 40,000 times). */
class LazyCallIterator implements Iterator<unknown> {
  private left: number;
  /** One result object for every step, as the iterator protocol allows. */
  private readonly result: IteratorResult<unknown> = { done: false, value: undefined };

  constructor(
    private readonly decoder: ItemDecoder,
    private readonly data: Uint8Array,
    private pos: number,
    private readonly end: number,
    length: number,
    private readonly hooks: CodecHooks | undefined,
  ) {
    this.left = length;
  }

  next(): IteratorResult<unknown> {
    const result = this.result;
    if (this.left === 0) {
      result.done = true;
      result.value = undefined;
      return result;
    }
    this.left--;
    // depth 2: inside the envelope and the list of calls, as a whole-payload decode reads them
    result.value = this.decoder.decodeItem(this.data, this.pos, this.end, 2, this.hooks);
    this.pos = this.decoder.itemEnd;
    return result;
  }
}

const NO_PARAMS: unknown[] = Object.freeze([]) as unknown as unknown[];

/**
 * The envelope of a lazily decoded batch, or null when its parts are not what `callFromParts`
 * accepts (then the eager decode words the error).
 */
export function lazyBatchCall(
  object: unknown,
  method: unknown,
  kwargs: unknown,
  batch: LazyBatchCalls,
): CallEnvelope | null {
  if (typeof object !== 'string' || typeof method !== 'string') return null;
  if (kwargs !== null && !isDict(kwargs)) return null;
  return { object, method, params: NO_PARAMS, kwargs, batch };
}
