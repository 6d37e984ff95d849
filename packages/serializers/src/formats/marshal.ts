// CPython's marshal format, version 4 (as CPython 3.11 reads and writes it), for the values Pyro sends:
// None, bools, ints (32-bit and 15-bit-digit longs), floats, complex, str in all its variants, bytes,
// tuples, lists, dicts, sets and frozensets, with back-references (FLAG_REF / TYPE_REF).
//
// CPython decides per object whether to mark it with FLAG_REF from its reference count, so no other
// writer can match CPython byte for byte in general. This writer imitates what CPython writes for
// values held by a running program: ints, floats, complex, str, bytes, lists and dicts carry FLAG_REF;
// tuples and sets do not; identifier-like str, small ints (-5…256) and the empty tuple are shared
// objects in CPython and are written once and referenced after. That reproduces Pyro's own frames
// (CONNECT, INVOKE, CONNECTFAIL strings such as `fa 0c "invalid data"`) exactly.
import { SerializeError } from '@cinder/core';
import { Complex, Tuple } from '../pyvalues.js';
import {
  type FormatDecodeOptions,
  type FormatEncodeOptions,
  guardStack,
  isPlainObject,
  maxDepthOf,
  maxItemsOf,
  newTuple,
  PY_INT_MAX_STR_DIGITS,
  replaceValue,
  setOwn,
  tooDeep,
  tooManyItems,
  typeName,
} from './options.js';
import { isPyInt, pyFloatFromString } from './py-float.js';
import { decodeUtf8SurrogatePass, encodeUtf8SurrogatePass, isWellFormed } from './utf8.js';

const FLAG_REF = 0x80;

const T_NULL = 0x30; // '0'
const T_NONE = 0x4e; // 'N'
const T_FALSE = 0x46; // 'F'
const T_TRUE = 0x54; // 'T'
const T_STOPITER = 0x53; // 'S'
const T_ELLIPSIS = 0x2e; // '.'
const T_INT = 0x69; // 'i'
const T_LONG = 0x6c; // 'l'
const T_FLOAT = 0x66; // 'f'
const T_BINARY_FLOAT = 0x67; // 'g'
const T_COMPLEX = 0x78; // 'x'
const T_BINARY_COMPLEX = 0x79; // 'y'
const T_STRING = 0x73; // 's' (bytes)
const T_INTERNED = 0x74; // 't'
const T_REF = 0x72; // 'r'
const T_TUPLE = 0x28; // '('
const T_LIST = 0x5b; // '['
const T_DICT = 0x7b; // '{'
const T_CODE = 0x63; // 'c'
const T_UNICODE = 0x75; // 'u'
const T_SET = 0x3c; // '<'
const T_FROZENSET = 0x3e; // '>'
const T_ASCII = 0x61; // 'a'
const T_ASCII_INTERNED = 0x41; // 'A'
const T_SMALL_TUPLE = 0x29; // ')'
const T_SHORT_ASCII = 0x7a; // 'z'
const T_SHORT_ASCII_INTERNED = 0x5a; // 'Z'

// ---------------------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes a model value as CPython marshal (version 4) that CPython 3.11 reads back as the same value.
 * A Set is written as a set, or as a frozenset where it is a dict key or a set element (Python needs
 * those hashable); set elements are ordered by their own marshal bytes, as CPython 3.11 does.
 */
export function encodeMarshal(value: unknown, options?: FormatEncodeOptions): Uint8Array {
  const w = new MarshalWriter(maxDepthOf(options), options);
  try {
    guardStack(() => w.value(value, 0, false, false), 'marshal');
    return w.finish();
  } finally {
    w.release();
  }
}

const utf8Encoder = new TextEncoder();
/** Identifier-like str: CPython interns these (code constants, attribute and keyword names). */
const IDENT = /^[A-Za-z0-9_]*$/;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

// One scratch buffer serves every top-level encode (they are synchronous); a nested encode (from a
// replace() callback, or the per-element encodes that order a set) gets its own buffer.
const SCRATCH_KEEP = 1 << 20;
let scratch: Uint8Array | undefined = new Uint8Array(4096);

class MarshalWriter {
  private buf: Uint8Array;
  private view: DataView;
  private readonly ownsScratch: boolean;
  private pos = 0;
  /** Number of FLAG_REF objects written so far: the index the next one gets in the reader. */
  private refCount = 0;
  /** Ref index of small ints (number keys) and identifier str (string keys) already written. */
  private shared: Map<number | string, number> | undefined;
  private emptyTupleRef = -1;

  constructor(
    private readonly maxDepth: number,
    private readonly options: FormatEncodeOptions | undefined,
  ) {
    this.ownsScratch = scratch !== undefined;
    this.buf = scratch ?? new Uint8Array(256);
    scratch = undefined;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The encoded bytes, copied out of the working buffer. */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }

  release(): void {
    if (this.ownsScratch && this.buf.length <= SCRATCH_KEEP) scratch = this.buf;
    else if (this.ownsScratch) scratch = new Uint8Array(4096);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private typeAndI32(type: number, n: number): void {
    this.ensure(5);
    this.buf[this.pos] = type;
    this.view.setInt32(this.pos + 1, n, true);
    this.pos += 5;
  }

  private ref(index: number): void {
    this.typeAndI32(T_REF, index);
  }

  value(v: unknown, depth: number, asKey: boolean, replaced: boolean): void {
    switch (typeof v) {
      case 'string':
        this.str(v);
        return;
      case 'number':
        if (isPyInt(v)) this.int(v);
        else this.float(v);
        return;
      case 'boolean':
        this.byte(v ? T_TRUE : T_FALSE);
        return;
      case 'bigint':
        if (v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX)) this.int(Number(v));
        else this.long(v);
        return;
      case 'undefined':
        this.byte(T_NONE);
        return;
      case 'object':
        if (v === null) this.byte(T_NONE);
        else this.object(v, depth, asKey, replaced);
        return;
      case 'function':
        this.replaced(v, depth, asKey, replaced);
        return;
      default:
        throw new SerializeError(`marshal cannot serialize a value of type ${typeof v}`);
    }
  }

  private object(v: object, depth: number, asKey: boolean, replaced: boolean): void {
    if (Array.isArray(v)) {
      this.enter(depth);
      if (v instanceof Tuple) this.tuple(v, depth + 1, asKey);
      else if (asKey) throw unhashable('list');
      else this.list(v, depth + 1);
    } else if (v instanceof Uint8Array) {
      this.typeAndI32(T_STRING | FLAG_REF, v.length);
      this.refCount++;
      this.ensure(v.length);
      this.buf.set(v, this.pos);
      this.pos += v.length;
    } else if (v instanceof Map) {
      if (asKey) throw unhashable('dict');
      this.enter(depth);
      this.map(v, depth + 1);
    } else if (v instanceof Set) {
      this.enter(depth);
      this.set(v, depth + 1, asKey);
    } else if (isPlainObject(v)) {
      if (asKey) throw unhashable('dict');
      this.enter(depth);
      this.dict(v, depth + 1);
    } else if (v instanceof Complex) {
      this.ensure(17);
      this.buf[this.pos] = T_BINARY_COMPLEX | FLAG_REF;
      this.view.setFloat64(this.pos + 1, v.real, true);
      this.view.setFloat64(this.pos + 9, v.imag, true);
      this.pos += 17;
      this.refCount++;
    } else {
      this.replaced(v, depth, asKey, replaced);
    }
  }

  private replaced(v: object, depth: number, asKey: boolean, replaced: boolean): void {
    if (replaced) {
      throw new SerializeError(
        `marshal: replace() returned a ${typeName(v)}, which is outside the value model`,
      );
    }
    this.value(replaceValue(v, this.options, 'marshal'), depth, asKey, true);
  }

  private enter(depth: number): void {
    if (depth + 1 > this.maxDepth) throw tooDeep(this.maxDepth, 'while encoding marshal');
  }

  private int(n: number): void {
    if (n < INT32_MIN || n > INT32_MAX) {
      this.long(BigInt(n));
      return;
    }
    if (n >= -5 && n <= 256) {
      // Cached objects in CPython: one object, so later occurrences are references to the first.
      this.shared ??= new Map();
      const seen = this.shared.get(n);
      if (seen !== undefined) {
        this.ref(seen);
        return;
      }
      this.shared.set(n, this.refCount);
    }
    this.typeAndI32(T_INT | FLAG_REF, n);
    this.refCount++;
  }

  private long(n: bigint): void {
    const neg = n < 0n;
    const hex = (neg ? -n : n).toString(16);
    // Regroup the hex digits (4 bits each, least significant first) into 15-bit digits.
    const digits: number[] = [];
    let acc = 0;
    let bits = 0;
    for (let i = hex.length - 1; i >= 0; i--) {
      acc |= Number.parseInt(hex[i]!, 16) << bits;
      bits += 4;
      if (bits >= 15) {
        digits.push(acc & 0x7fff);
        acc >>>= 15;
        bits -= 15;
      }
    }
    if (acc !== 0) digits.push(acc);
    this.typeAndI32(T_LONG | FLAG_REF, neg ? -digits.length : digits.length);
    this.refCount++;
    this.ensure(digits.length * 2);
    for (const d of digits) {
      this.buf[this.pos++] = d & 0xff;
      this.buf[this.pos++] = d >>> 8;
    }
  }

  private float(n: number): void {
    this.ensure(9);
    this.buf[this.pos] = T_BINARY_FLOAT | FLAG_REF;
    this.view.setFloat64(this.pos + 1, n, true);
    this.pos += 9;
    this.refCount++;
  }

  private str(s: string): void {
    const n = s.length;
    if (n < 256 && IDENT.test(s)) {
      // Interned in CPython: one object, so later occurrences are references to the first.
      this.shared ??= new Map();
      const seen = this.shared.get(s);
      if (seen !== undefined) {
        this.ref(seen);
        return;
      }
      this.shared.set(s, this.refCount);
      this.ensure(2 + n);
      this.buf[this.pos] = T_SHORT_ASCII_INTERNED | FLAG_REF;
      this.buf[this.pos + 1] = n;
      for (let i = 0; i < n; i++) this.buf[this.pos + 2 + i] = s.charCodeAt(i);
      this.pos += 2 + n;
      this.refCount++;
      return;
    }
    this.refCount++;
    if (n < 256) {
      this.ensure(5 + n * 3);
      // Short ASCII is the common case: copy the chars directly, and fall back at the first non-ASCII.
      const buf = this.buf;
      const base = this.pos + 2;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[base + i] = c;
      }
      if (i === n) {
        buf[this.pos] = T_SHORT_ASCII | FLAG_REF;
        buf[this.pos + 1] = n;
        this.pos += 2 + n;
        return;
      }
      if (isWellFormed(s)) {
        const { written } = utf8Encoder.encodeInto(s, buf.subarray(this.pos + 5));
        this.typeAndI32(T_UNICODE | FLAG_REF, written);
        this.pos += written;
        return;
      }
    } else {
      this.ensure(5 + n * 3);
      const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(this.pos + 5));
      if (written === n || isWellFormed(s)) {
        this.typeAndI32((written === n ? T_ASCII : T_UNICODE) | FLAG_REF, written);
        this.pos += written;
        return;
      }
    }
    // Lone surrogates: Python writes them with the surrogatepass error handler.
    const bytes = encodeUtf8SurrogatePass(s);
    this.typeAndI32(T_UNICODE | FLAG_REF, bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private tuple(t: readonly unknown[], depth: number, asKey: boolean): void {
    const n = t.length;
    if (n === 0) {
      // The empty tuple is a singleton in CPython.
      if (this.emptyTupleRef >= 0) {
        this.ref(this.emptyTupleRef);
        return;
      }
      this.emptyTupleRef = this.refCount++;
      this.byte(T_SMALL_TUPLE | FLAG_REF);
      this.byte(0);
      return;
    }
    if (n < 256) {
      this.byte(T_SMALL_TUPLE);
      this.byte(n);
    } else {
      this.typeAndI32(T_TUPLE, n);
    }
    for (let i = 0; i < n; i++) this.value(t[i], depth, asKey, false);
  }

  private list(a: readonly unknown[], depth: number): void {
    const n = a.length;
    this.typeAndI32(T_LIST | FLAG_REF, n);
    this.refCount++;
    for (let i = 0; i < n; i++) this.value(a[i], depth, false, false);
  }

  private dict(o: Record<string, unknown>, depth: number): void {
    this.byte(T_DICT | FLAG_REF);
    this.refCount++;
    for (const k of Object.keys(o)) {
      this.str(k);
      this.value(o[k], depth, false, false);
    }
    this.byte(T_NULL);
  }

  private map(m: ReadonlyMap<unknown, unknown>, depth: number): void {
    this.byte(T_DICT | FLAG_REF);
    this.refCount++;
    for (const [k, v] of m) {
      this.value(k, depth, true, false);
      this.value(v, depth, false, false);
    }
    this.byte(T_NULL);
  }

  private set(s: ReadonlySet<unknown>, depth: number, frozen: boolean): void {
    this.typeAndI32(frozen ? T_FROZENSET : T_SET, s.size);
    if (s.size === 0) return;
    // CPython 3.11 orders elements by their own marshal bytes so that equal sets marshal identically.
    const items = [...s].map((item) => {
      const w = new MarshalWriter(this.maxDepth, this.options);
      w.value(item, depth, true, false);
      return { item, key: w.finish() };
    });
    items.sort((a, b) => Buffer.compare(a.key, b.key));
    for (const { item } of items) this.value(item, depth, true, false);
  }
}

function unhashable(what: string): SerializeError {
  return new SerializeError(
    `marshal: a ${what} cannot be a dict key or set element (Python needs it hashable)`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes CPython marshal data (versions 0–4 of the value types). Code objects, StopIteration and
 * Ellipsis are refused, and so are references to a container that is still being read (recursive
 * data), which CPython would build but which no model value can hold safely. Trailing bytes after the
 * value are an error. Bytes values are copies, never views into `data`.
 */
export function decodeMarshal(data: Uint8Array, options?: FormatDecodeOptions): unknown {
  const r = new MarshalReader(data, maxDepthOf(options), maxItemsOf(options), options?.reviveClass);
  return guardStack(() => r.parse(), 'marshal');
}

/**
 * Most 15-bit digits of a received long: enough for every int of up to 4300 decimal digits (Python's
 * int/str limit), so that no received int costs more than a bounded amount of work anywhere later
 * (decimal conversion of a bigint is quadratic).
 */
const MAX_LONG_DIGITS = Math.ceil((PY_INT_MAX_STR_DIGITS * Math.log2(10)) / 15);

const NULL = Symbol('marshal NULL');
const PENDING = Symbol('marshal pending reference');
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class MarshalReader {
  private pos = 0;
  private readonly refs: unknown[] = [];
  /** For each reference slot, how many values the referenced object stands for once expanded. */
  private readonly refSizes: number[] = [];
  /**
   * How many values the decoded result holds when every reference is expanded into a copy. A few
   * bytes of nested references to references can stand for 2^100 values; a consumer walking the
   * result as a tree (re-encoding it, comparing it) would never finish, so the decoder stops first:
   * this count is what the decode budget (maxItems) limits.
   */
  private expanded = 0;
  private readonly view: DataView;
  private readonly latin1: Buffer;
  private frozen: WeakSet<Set<unknown>> | undefined;

  constructor(
    private readonly data: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
    private readonly revive: ((dict: Record<string, unknown>) => unknown) | undefined,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.latin1 = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  parse(): unknown {
    const v = this.object(0);
    if (v === NULL) throw this.error('NULL object', 0);
    if (this.pos !== this.data.length) {
      throw this.error(`${this.data.length - this.pos} bytes of trailing data after the value`, this.pos);
    }
    return v;
  }

  private error(what: string, at: number): SerializeError {
    return new SerializeError(`invalid marshal data at offset ${at}: ${what}`);
  }

  private need(n: number, at: number): void {
    if (n < 0 || this.pos + n > this.data.length) {
      throw this.error(`needs ${n} more bytes, ${this.data.length - this.pos} left`, at);
    }
  }

  private i32(): number {
    this.need(4, this.pos);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A length field: non-negative, and (each item being at least one byte) no larger than what is left. */
  private length(at: number, itemBytes: number): number {
    const n = this.i32();
    if (n < 0) throw this.error(`negative size ${n}`, at);
    this.need(n * itemBytes, at);
    return n;
  }

  private object(depth: number): unknown {
    const at = this.pos;
    if (at >= this.data.length) throw this.error('unexpected end of data where an object was expected', at);
    const code = this.data[this.pos++]!;
    const flag = (code & FLAG_REF) !== 0;
    const type = code & ~FLAG_REF;
    // Every value counts against the decode budget; the end mark of a dict (NULL) creates nothing.
    if (++this.expanded > this.maxItems && type !== T_NULL) throw tooManyItems('marshal', this.maxItems);
    switch (type) {
      case T_NULL:
        this.expanded--;
        return NULL;
      case T_NONE:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT:
        return this.keep(flag, this.i32());
      case T_LONG:
        return this.keep(flag, this.long(at));
      case T_BINARY_FLOAT: {
        this.need(8, at);
        const f = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return this.keep(flag, f);
      }
      case T_FLOAT:
        return this.keep(flag, this.textFloat(at));
      case T_BINARY_COMPLEX: {
        this.need(16, at);
        const c = new Complex(this.view.getFloat64(this.pos, true), this.view.getFloat64(this.pos + 8, true));
        this.pos += 16;
        return this.keep(flag, c);
      }
      case T_COMPLEX: {
        const re = this.textFloat(at);
        return this.keep(flag, new Complex(re, this.textFloat(at)));
      }
      case T_STRING: {
        const n = this.length(at, 1);
        // A copy (Buffer#slice would be a view): the input buffer may be reused by the transport.
        const b = new Uint8Array(n);
        b.set(this.data.subarray(this.pos, this.pos + n));
        this.pos += n;
        return this.keep(flag, b);
      }
      case T_UNICODE:
      case T_INTERNED:
        return this.keep(flag, this.utf8(this.length(at, 1), at));
      case T_ASCII:
      case T_ASCII_INTERNED:
        return this.keep(flag, this.ascii(this.length(at, 1)));
      case T_SHORT_ASCII:
      case T_SHORT_ASCII_INTERNED: {
        this.need(1, at);
        const n = this.data[this.pos++]!;
        this.need(n, at);
        return this.keep(flag, this.ascii(n));
      }
      case T_SMALL_TUPLE: {
        this.need(1, at);
        const n = this.data[this.pos++]!;
        this.need(n, at);
        return this.tuple(n, depth + 1, flag, at);
      }
      case T_TUPLE:
        return this.tuple(this.length(at, 1), depth + 1, flag, at);
      case T_LIST:
        return this.list(this.length(at, 1), depth + 1, flag, at);
      case T_DICT:
        return this.dict(depth + 1, flag, at);
      case T_SET:
      case T_FROZENSET:
        return this.set(this.length(at, 1), depth + 1, flag, type === T_FROZENSET, at);
      case T_REF: {
        const i = this.i32();
        if (i < 0 || i >= this.refs.length) throw this.error(`invalid reference ${i}`, at);
        const v = this.refs[i];
        if (v === PENDING)
          throw this.error(`reference ${i} to an object still being read (recursive data)`, at);
        this.expanded += this.refSizes[i]! - 1;
        if (this.expanded > this.maxItems) {
          throw this.error(
            `references expand to more than maxItems=${this.maxItems} values (the decode budget)`,
            at,
          );
        }
        return v;
      }
      case T_CODE:
        throw this.error('code objects are not supported', at);
      case T_STOPITER:
      case T_ELLIPSIS:
        throw this.error(`${type === T_STOPITER ? 'StopIteration' : 'Ellipsis'} is not supported`, at);
      default:
        throw this.error(`unknown type code 0x${code.toString(16).padStart(2, '0')}`, at);
    }
  }

  private keep<T>(flag: boolean, v: T): T {
    if (flag) {
      this.refs.push(v);
      this.refSizes.push(1);
    }
    return v;
  }

  private enter(depth: number, at: number): void {
    if (depth > this.maxDepth) throw this.error(`nesting deeper than maxDepth=${this.maxDepth}`, at);
  }

  /** Refuses a container of `n` items that would pass the decode budget, before allocating it. */
  private checkItems(n: number): void {
    if (this.expanded + n > this.maxItems) throw tooManyItems('marshal', this.maxItems);
  }

  /** Reserves the reference slot of a container being read (its count so far is stored meanwhile). */
  private reserve(flag: boolean): number {
    if (!flag) return -1;
    this.refs.push(PENDING);
    this.refSizes.push(this.expanded);
    return this.refs.length - 1;
  }

  /** Fills a reserved slot once the container is complete. */
  private complete(ref: number, v: unknown): void {
    if (ref < 0) return;
    this.refs[ref] = v;
    this.refSizes[ref] = this.expanded - this.refSizes[ref]! + 1;
  }

  private long(at: number): number | bigint {
    const size = this.i32();
    if (size === 0) return 0;
    const n = size < 0 ? -size : size;
    this.need(n * 2, at);
    if (n > MAX_LONG_DIGITS) {
      throw this.error(
        `long of ${n} digits exceeds the limit of ${MAX_LONG_DIGITS} (${PY_INT_MAX_STR_DIGITS} decimal digits)`,
        at,
      );
    }
    const p = this.pos;
    const d = this.data;
    for (let i = 0; i < n; i++) {
      if (d[p + 2 * i + 1]! & 0x80) throw this.error('digit out of range in long', at);
    }
    if (d[p + 2 * n - 2] === 0 && d[p + 2 * n - 1] === 0) throw this.error('unnormalized long data', at);
    this.pos += n * 2;
    if (n <= 3) {
      // Up to 45 bits: exact as a double.
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 32768 + (d[p + 2 * i]! | (d[p + 2 * i + 1]! << 8));
      return size < 0 ? -v : v;
    }
    // Regroup the 15-bit digits into hex nibbles (linear, unlike repeated BigInt shifts).
    const nibbles = new Uint8Array(Math.ceil((n * 15) / 4));
    let k = 0;
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < n; i++) {
      acc |= (d[p + 2 * i]! | (d[p + 2 * i + 1]! << 8)) << bits;
      bits += 15;
      while (bits >= 4) {
        nibbles[k++] = acc & 15;
        acc >>>= 4;
        bits -= 4;
      }
    }
    if (bits > 0) nibbles[k++] = acc & 15;
    const chars = Buffer.allocUnsafe(k);
    for (let i = 0; i < k; i++) chars[i] = HEX_CHARS[nibbles[k - 1 - i]!]!;
    const big = BigInt(`0x${chars.toString('latin1')}`);
    const v = size < 0 ? -big : big;
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }

  private textFloat(at: number): number {
    this.need(1, at);
    const n = this.data[this.pos++]!;
    this.need(n, at);
    const s = this.latin1.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    const f = pyFloatFromString(s);
    if (f === undefined) throw this.error(`invalid float literal ${JSON.stringify(s)}`, at);
    return f;
  }

  private ascii(n: number): string {
    const p = this.pos;
    this.pos += n;
    // CPython reads the "ASCII" types as Latin-1 without checking, and so do we.
    if (n < 24) {
      let s = '';
      for (let i = p; i < p + n; i++) s += String.fromCharCode(this.data[i]!);
      return s;
    }
    return this.latin1.toString('latin1', p, p + n);
  }

  private utf8(n: number, at: number): string {
    const bytes = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      const s = decodeUtf8SurrogatePass(bytes);
      if (s === undefined) throw this.error('str is not valid UTF-8', at);
      return s;
    }
  }

  private tuple(n: number, depth: number, flag: boolean, at: number): Tuple<unknown> {
    this.enter(depth, at);
    this.checkItems(n);
    const t = newTuple();
    const ref = this.reserve(flag);
    for (let i = 0; i < n; i++) t[i] = this.item(depth, 'tuple');
    this.complete(ref, t);
    return t;
  }

  private list(n: number, depth: number, flag: boolean, at: number): unknown[] {
    this.enter(depth, at);
    this.checkItems(n);
    const a: unknown[] = new Array(n);
    const ref = this.reserve(flag);
    for (let i = 0; i < n; i++) a[i] = this.item(depth, 'list');
    this.complete(ref, a);
    return a;
  }

  private item(depth: number, container: string): unknown {
    const at = this.pos;
    const v = this.object(depth);
    if (v === NULL) throw this.error(`NULL object in ${container}`, at);
    return v;
  }

  private dict(depth: number, flag: boolean, at: number): unknown {
    this.enter(depth, at);
    const ref = this.reserve(flag);
    const keys: unknown[] = [];
    const values: unknown[] = [];
    let allStr = true;
    for (;;) {
      const keyAt = this.pos;
      const k = this.object(depth);
      if (k === NULL) break;
      const v = this.object(depth);
      // CPython ends the dict at a NULL in value position too (dropping the key).
      if (v === NULL) break;
      this.checkHashable(k, keyAt);
      if (typeof k !== 'string') allStr = false;
      keys.push(k);
      values.push(v);
    }
    let out: unknown;
    if (allStr) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) setOwn(o, keys[i] as string, values[i]);
      out =
        this.revive !== undefined && Object.hasOwn(o, '__class__') && typeof o['__class__'] === 'string'
          ? this.revive(o)
          : o;
    } else {
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i]);
      out = m;
    }
    this.complete(ref, out);
    return out;
  }

  private set(n: number, depth: number, flag: boolean, frozen: boolean, at: number): Set<unknown> {
    this.enter(depth, at);
    this.checkItems(n);
    const ref = this.reserve(flag);
    const s = new Set<unknown>();
    for (let i = 0; i < n; i++) {
      const itemAt = this.pos;
      const v = this.item(depth, 'set');
      this.checkHashable(v, itemAt);
      s.add(v);
    }
    if (frozen) {
      this.frozen ??= new WeakSet();
      this.frozen.add(s);
    }
    this.complete(ref, s);
    return s;
  }

  /** CPython refuses unhashable dict keys and set elements: lists, dicts, sets (not frozensets). */
  private checkHashable(v: unknown, at: number): void {
    if (typeof v !== 'object' || v === null || v instanceof Complex || v instanceof Uint8Array) return;
    if (v instanceof Tuple) {
      for (const item of v) this.checkHashable(item, at);
      return;
    }
    if (v instanceof Set && this.frozen?.has(v)) return;
    const what = Array.isArray(v) ? 'list' : v instanceof Set ? 'set' : 'dict';
    throw this.error(`unhashable ${what} as dict key or set element`, at);
  }
}

const HEX_CHARS = Buffer.from('0123456789abcdef', 'latin1');
