// The calls of a `<batch>` call being sent, queued flat: one array holds, call after call, the
// method, the argument count, the arguments and the kwargs. A list of `[method, args, kwargs]`
// arrays (Pyro's batch layout) costs two arrays per call that stay alive until the batch is sent:
// 40,000 queued calls were ~80,000 objects surviving scavenges and copied to old space. The binary
// encoders write the batch list straight from the flat array; the text formats get the list built.
import { Tuple } from './pyvalues.js';
import type { BatchCalls } from './serializer.js';

const NO_KWARGS = Object.freeze({}) as Record<string, unknown>;

export class QueuedCalls implements BatchCalls {
  /** Call after call: method, argument count, the arguments, kwargs (null: none). */
  readonly items: unknown[] = [];
  length = 0;

  /** Queues a call. The arguments are copied (not the values they hold), as Python's `*args` tuple. */
  add(method: string, args: readonly unknown[], kwargs: Record<string, unknown> | null): void {
    const items = this.items;
    const n = args.length;
    items.push(method, n);
    for (let i = 0; i < n; i++) items.push(args[i]);
    items.push(kwargs);
    this.length++;
  }

  /** Each call as Pyro's batch lists it: `[method, args, kwargs]`, kwargs `{}` when none. */
  *[Symbol.iterator](): Iterator<[string, unknown[], Record<string, unknown>]> {
    const items = this.items;
    let i = 0;
    for (let c = 0; c < this.length; c++) {
      const method = items[i++] as string;
      const n = items[i++] as number;
      const args = items.slice(i, i + n);
      i += n;
      yield [method, args, (items[i++] as Record<string, unknown> | null) ?? NO_KWARGS];
    }
  }

  /** The list of calls; as `(method, (args…), kwargs)` tuples for serpent and marshal. */
  toList(tuples: boolean): unknown[] {
    const list: unknown[] = [];
    for (const [method, args, kwargs] of this)
      list.push(tuples ? Tuple.of<unknown>(method, Tuple.fromArray(args), kwargs) : [method, args, kwargs]);
    return list;
  }
}
