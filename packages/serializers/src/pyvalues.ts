// JavaScript stand-ins for the Python values that have no native counterpart. Every format codec
// decodes into, and encodes from, this value model:
//   None → null · bool → boolean · int → number (|n| ≤ 2^53−1) or bigint · float → number
//   str → string · bytes/bytearray → Uint8Array · list → Array · tuple → Tuple (an Array)
//   set/frozenset → Set · dict with only str keys → plain object · other dict → Map
//   complex → Complex
// JavaScript cannot tell 2 from 2.0: integral numbers are written as ints, others as floats.

/** A Python tuple: an ordinary array that remembers it was (or should be written as) a tuple. */
export class Tuple<T = unknown> extends Array<T> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** Builds a tuple from items (unlike `new Tuple(n)`, never treats one number as a length). */
  static override of<T>(...items: T[]): Tuple<T> {
    return Tuple.fromArray(items);
  }

  static fromArray<T>(items: readonly T[]): Tuple<T> {
    // `new Tuple()` and push() on an Array subclass take V8's slow paths (µs per tuple);
    // constructing through Array and storing by index stays fast.
    const t = Reflect.construct(Array, [], Tuple) as Tuple<T>;
    for (let i = 0; i < items.length; i++) t[i] = items[i] as T;
    return t;
  }
}

/** A Python complex number. */
export class Complex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}

  toString(): string {
    return `(${this.real}${this.imag < 0 || Object.is(this.imag, -0) ? '-' : '+'}${Math.abs(this.imag)}j)`;
  }
}
