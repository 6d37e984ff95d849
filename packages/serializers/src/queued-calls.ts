// The calls of a `<batch>` call being sent, queued flat: one array holds, call after call, the
// method, the argument count, the arguments and the kwargs. A list of `[method, args, kwargs]`
// arrays (Pyro's batch layout) costs two arrays per call that stay alive until the batch is sent:
// 40,000 queued calls were ~80,000 objects surviving scavenges and copied to old space. The binary
// encoders write the batch list straight from the flat array; the text formats get the list built.
import { Tuple } from './pyvalues.js';
import type { BatchCalls } from './serializer.js';

const NO_KWARGS = Object.freeze({}) as Record<string, unknown>;

/** Chunk sizes: the first small (a batch of a few calls), doubling up to this. */
const FIRST_CHUNK = 64;
const MAX_CHUNK = 4096;

/**
 * The queue is a list of chunks rather than one growing array: appending to one large array went
 * ~5x slower per call once it was large (its backing store lives in large-object space and is
 * re-allocated as it grows), while a chunk of 4,096 slots is filled with plain stores. A call never
 * straddles two chunks.
 */
export class QueuedCalls implements BatchCalls {
  /** Call after call: method, argument count, the arguments, kwargs (null: none). */
  readonly chunks: unknown[][] = [];
  /** How many calls are queued. */
  length = 0;
  /** The slots used in each chunk but the last (see `end`). */
  readonly #used: number[] = [];
  #last: unknown[] = [];
  #pos = 0;

  /** Queues a call. The arguments are copied (not the values they hold), as Python's `*args` tuple. */
  add(method: string, args: readonly unknown[], kwargs: Record<string, unknown> | null): void {
    const n = args.length;
    let items = this.#last;
    let i = this.#pos;
    if (i + n + 3 > items.length) {
      if (this.chunks.length > 0) this.#used.push(i);
      items = new Array<unknown>(Math.max(Math.min(2 * items.length, MAX_CHUNK), FIRST_CHUNK, n + 3));
      this.chunks.push(items);
      this.#last = items;
      i = 0;
    }
    items[i++] = method;
    items[i++] = n;
    for (let k = 0; k < n; k++) items[i++] = args[k];
    items[i++] = kwargs;
    this.#pos = i;
    this.length++;
  }

  /** The slots of chunk `c` that hold calls. */
  end(c: number): number {
    return c === this.chunks.length - 1 ? this.#pos : this.#used[c]!;
  }

  /** Each call as Pyro's batch lists it: `[method, args, kwargs]`, kwargs `{}` when none (not a hot path). */
  [Symbol.iterator](): Iterator<[string, unknown[], Record<string, unknown>]> {
    return (this.toList(false) as [string, unknown[], Record<string, unknown>][])[Symbol.iterator]();
  }

  /** The list of calls; as `(method, (args…), kwargs)` tuples for serpent and marshal. */
  toList(tuples: boolean): unknown[] {
    const list = new Array<unknown>(this.length);
    const chunks = this.chunks;
    let at = 0;
    for (let c = 0; c < chunks.length; c++) {
      const items = chunks[c]!;
      const end = this.end(c);
      let i = 0;
      while (i < end) {
        const method = items[i++] as string;
        const n = items[i++] as number;
        const args = new Array<unknown>(n);
        for (let k = 0; k < n; k++) args[k] = items[i++];
        const kwargs = (items[i++] as Record<string, unknown> | null) ?? NO_KWARGS;
        list[at++] = tuples
          ? Tuple.of<unknown>(method, Tuple.fromArray(args), kwargs)
          : [method, args, kwargs];
      }
    }
    return list;
  }
}
