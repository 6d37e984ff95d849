// MessagePack exactly as Pyro's msgpack serializer writes and reads it (pyro-reference §2.13):
// Python msgpack's `use_bin_type=True` layout (smallest int/str/bin/array/map header, float64), and
// Pyro's ext types 0x30 complex (two little-endian doubles), 0x31 int beyond 64 bits (ASCII
// decimal), 0x32 naive datetime (double timestamp) and 0x33 date (i64 ordinal). No other ext type
// is accepted. Encoding and decoding are single passes that apply the registry, the hooks, the
// depth limit and `__class__` revival as they go, so no extra walk over the value is needed.
import { SerializeError } from '@cinder/core';
import { Complex } from '../pyvalues.js';
import { defineOwn } from '../registry.js';

import { copyBytes, type ValueMapper } from '../value-mapper.js';
import { type ByteWriter, REFERENCE_THRESHOLD } from './byte-writer.js';
import { BinaryDecoder, type DecodeOptions } from './decoder-base.js';
import { BinaryEncoder } from './encoder-driver.js';
import { f32be, f64be, f64le, i32be, i64be, i64le, u16be, u32be, u64be } from './read-num.js';
import { checkUtf8, readUtf8 } from './read-utf8.js';

export const EXT_COMPLEX = 0x30;
export const EXT_BIGINT = 0x31;
export const EXT_DATETIME = 0x32;
export const EXT_DATE = 0x33;

/** Days from 0001-01-01 (Python ordinal 1) to 1970-01-01. */
const ORDINAL_EPOCH = 719_163;
const MS_PER_DAY = 86_400_000;
/** Python refuses int/str conversions beyond 4300 digits; so do we (and it bounds the work). */
const MAX_INT_DIGITS = 4300;
const TWO_64 = 2n ** 64n;
const TWO_63 = 2n ** 63n;
const INT_TEXT_RE = /^-?[0-9]+$/;

const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;

/** Writes the header of a str of 32 bytes or more. */
function strHeader(w: ByteWriter, len: number): void {
  if (len < 0x100) w.u8u8(0xd9, len);
  else if (len < 0x10000) w.u8u16(0xda, len);
  else w.u8u32(0xdb, len);
}

export class MsgpackEncoder extends BinaryEncoder {
  protected fresh(w: ByteWriter): MsgpackEncoder {
    return new MsgpackEncoder(w, this.mapper);
  }

  protected listHead(n: number): void {
    this.arrayHeader(n);
  }

  protected emptyMap(): void {
    this.w.u8(0x80);
  }

  protected callItems(object: string, method: string, params: unknown[], kwargs: unknown): void {
    this.w.u8(0x94);
    this.str(object);
    this.str(method);
    this.array(params, 1);
    this.value(kwargs, 1);
  }

  protected value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.str(v);
        return;
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
        else this.w.u8f64(0xcb, v);
        return;
      case 'boolean':
        this.w.u8(v ? 0xc3 : 0xc2);
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'undefined':
        this.w.u8(0xc0);
        return;
      case 'object':
        if (v === null) this.w.u8(0xc0);
        else this.object(v, depth);
        return;
      case 'function':
        // Only the replace hook can make a function travel (as a callback reference).
        this.object(v, depth);
        return;
      default:
        throw new SerializeError(`msgpack cannot serialize a ${typeof v}`);
    }
  }

  private object(v: object, depth: number): void {
    if (++depth > this.maxDepth)
      throw new SerializeError(`msgpack: nesting deeper than maxDepth=${this.maxDepth}`);
    if (isArray(v)) {
      this.array(v, depth);
      return;
    }
    const proto = getProto(v);
    if (proto === objectProto || proto === null) {
      this.dict(v as Record<string, unknown>, depth);
      return;
    }
    if (v instanceof Uint8Array) {
      this.bin(v);
      return;
    }
    if (v instanceof Map) {
      this.mapHeader(v.size);
      for (const [key, item] of v) {
        this.value(key, depth);
        this.value(item, depth);
      }
      return;
    }
    if (v instanceof Set) {
      // Pyro writes sets as arrays (msgpack has no set type).
      this.arrayHeader(v.size);
      for (const item of v) this.value(item, depth);
      return;
    }
    if (v instanceof Complex) {
      const w = this.w;
      w.u8u8(0xd8, EXT_COMPLEX);
      w.f64le(v.real);
      w.f64le(v.imag);
      return;
    }
    if (v instanceof Date) {
      const t = v.getTime();
      if (Number.isNaN(t)) throw new SerializeError('msgpack cannot serialize an invalid Date');
      this.w.u8u8(0xd7, EXT_DATETIME);
      this.w.f64le(t / 1000);
      return;
    }
    this.value(this.mapper.toModel(v, this.hooks), depth);
  }

  private array(v: readonly unknown[], depth: number): void {
    const n = v.length;
    this.arrayHeader(n);
    for (let i = 0; i < n; i++) this.value(v[i], depth);
  }

  private dict(v: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(v);
    const n = keys.length;
    this.mapHeader(n);
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      this.str(key);
      this.value(v[key], depth);
    }
  }

  private arrayHeader(n: number): void {
    if (n < 16) this.w.u8(0x90 | n);
    else if (n < 0x10000) this.w.u8u16(0xdc, n);
    else this.w.u8u32(0xdd, n);
  }

  private mapHeader(n: number): void {
    if (n < 16) this.w.u8(0x80 | n);
    else if (n < 0x10000) this.w.u8u16(0xde, n);
    else this.w.u8u32(0xdf, n);
  }

  private str(s: string): void {
    this.w.utf8(s, 0xa0, 32, strHeader);
  }

  private bin(b: Uint8Array): void {
    const n = b.length;
    if (n < 0x100) this.w.u8u8(0xc4, n);
    else if (n < 0x10000) this.w.u8u16(0xc5, n);
    else this.w.u8u32(0xc6, n);
    this.w.bytes(b);
  }

  private int(v: number): void {
    const w = this.w;
    if (v >= 0) {
      if (v < 0x80) w.u8(v);
      else if (v < 0x100) w.u8u8(0xcc, v);
      else if (v < 0x10000) w.u8u16(0xcd, v);
      else if (v < 0x1_0000_0000) w.u8u32(0xce, v);
      else w.u8u64n(0xcf, v);
    } else if (v >= -32) {
      w.u8(v & 0xff);
    } else if (v >= -0x80) {
      w.u8u8(0xd0, v & 0xff);
    } else if (v >= -0x8000) {
      w.u8u16(0xd1, v & 0xffff);
    } else if (v >= -0x8000_0000) {
      w.u8u32(0xd2, v >>> 0);
    } else {
      w.u8u64(0xd3, BigInt.asUintN(64, BigInt(v)));
    }
  }

  private bigint(v: bigint): void {
    if (v >= -0x1f_ffff_ffff_ffffn && v <= 0x1f_ffff_ffff_ffffn) {
      this.int(Number(v));
    } else if (v >= 0n && v < TWO_64) {
      this.w.u8u64(0xcf, v);
    } else if (v < 0n && v >= -TWO_63) {
      this.w.u8u64(0xd3, BigInt.asUintN(64, v));
    } else {
      const text = v.toString();
      if (text.length > MAX_INT_DIGITS + 1) {
        throw new SerializeError(`msgpack: int with more than ${MAX_INT_DIGITS} digits`);
      }
      const n = text.length;
      if (n < 0x100) this.w.u8u8(0xc7, n);
      else this.w.u8u16(0xc8, n);
      this.w.u8(EXT_BIGINT);
      this.w.latin1(text);
    }
  }
}

export class MsgpackDecoder extends BinaryDecoder {
  constructor(mapper: ValueMapper, options: DecodeOptions) {
    super(mapper, options, 'msgpack', 0x94);
  }

  protected fresh(): MsgpackDecoder {
    return new MsgpackDecoder(this.mapper, this.options);
  }

  protected listHead(): number {
    const b = this.buf[this.take(1)]!;
    let n = -1;
    if (b >= 0x90 && b < 0xa0) n = b & 0x0f;
    else if (b === 0xdc) n = u16be(this.buf, this.take(2));
    else if (b === 0xdd) n = u32be(this.buf, this.take(4));
    // every element takes at least one byte, as array() requires
    if (n > this.end - this.pos) this.take(n);
    return n;
  }

  protected skip(depth: number): boolean {
    const b = this.buf[this.take(1)]!;
    if (b < 0x80 || b >= 0xe0) return true;
    if (b < 0x90) return this.skipMap(b & 0x0f, depth);
    if (b < 0xa0) return this.skipArray(b & 0x0f, depth);
    if (b < 0xc0) return this.skipStr(b & 0x1f);
    const buf = this.buf;
    switch (b) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        return true;
      case 0xc4:
        this.take(buf[this.take(1)]!);
        return true;
      case 0xc5:
        this.take(u16be(buf, this.take(2)));
        return true;
      case 0xc6:
        this.take(u32be(buf, this.take(4)));
        return true;
      case 0xcc:
      case 0xd0:
        this.take(1);
        return true;
      case 0xcd:
      case 0xd1:
        this.take(2);
        return true;
      case 0xca:
      case 0xce:
      case 0xd2:
        this.take(4);
        return true;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        this.take(8);
        return true;
      case 0xd9:
        return this.skipStr(buf[this.take(1)]!);
      case 0xda:
        return this.skipStr(u16be(buf, this.take(2)));
      case 0xdb:
        return this.skipStr(u32be(buf, this.take(4)));
      case 0xdc:
        return this.skipArray(u16be(buf, this.take(2)), depth);
      case 0xdd:
        return this.skipArray(u32be(buf, this.take(4)), depth);
      case 0xde:
        return this.skipMap(u16be(buf, this.take(2)), depth);
      case 0xdf:
        return this.skipMap(u32be(buf, this.take(4)), depth);
      default:
        // exts, and 0xc1 (never used)
        return false;
    }
  }

  private skipStr(n: number): true {
    const start = this.take(n);
    checkUtf8(this.buf, start, start + n, 'msgpack', this.strings);
    return true;
  }

  private skipArray(n: number, depth: number): boolean {
    return this.skipItems(n, this.open(n, depth));
  }

  private skipMap(n: number, depth: number): boolean {
    depth = this.open(2 * n, depth);
    for (let i = 0; i < n; i++) {
      const k = this.buf[this.pos]!;
      if ((k >= 0xa0 && k < 0xc0) || (k >= 0xd9 && k <= 0xdb)) {
        if (this.value(depth) === '__class__') return false;
      } else if (!this.skip(depth)) return false;
      if (!this.skip(depth)) return false;
    }
    return true;
  }

  protected value(depth: number): unknown {
    const b = this.buf[this.take(1)]!;
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b < 0x90) return this.map(b & 0x0f, depth);
    if (b < 0xa0) return this.array(b & 0x0f, depth);
    if (b < 0xc0) return this.str(b & 0x1f);
    const buf = this.buf;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(buf[this.take(1)]!);
      case 0xc5:
        return this.bin(u16be(buf, this.take(2)));
      case 0xc6:
        return this.bin(u32be(buf, this.take(4)));
      case 0xc7:
        return this.ext(buf[this.take(1)]!);
      case 0xc8:
        return this.ext(u16be(buf, this.take(2)));
      case 0xc9:
        return this.ext(u32be(buf, this.take(4)));
      case 0xca:
        return f32be(buf, this.take(4));
      case 0xcb:
        return f64be(buf, this.take(8));
      case 0xcc:
        return buf[this.take(1)]!;
      case 0xcd:
        return u16be(buf, this.take(2));
      case 0xce:
        return u32be(buf, this.take(4));
      case 0xcf:
        return u64be(buf, this.take(8));
      case 0xd0:
        return (buf[this.take(1)]! << 24) >> 24;
      case 0xd1:
        return (u16be(buf, this.take(2)) << 16) >> 16;
      case 0xd2:
        return i32be(buf, this.take(4));
      case 0xd3:
        return i64be(buf, this.take(8));
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(buf[this.take(1)]!);
      case 0xda:
        return this.str(u16be(buf, this.take(2)));
      case 0xdb:
        return this.str(u32be(buf, this.take(4)));
      case 0xdc:
        return this.array(u16be(buf, this.take(2)), depth);
      case 0xdd:
        return this.array(u32be(buf, this.take(4)), depth);
      case 0xde:
        return this.map(u16be(buf, this.take(2)), depth);
      case 0xdf:
        return this.map(u32be(buf, this.take(4)), depth);
      default:
        // 0xc1 is "never used" in the msgpack spec.
        throw new SerializeError(`msgpack: invalid type byte 0x${b.toString(16)} at offset ${this.pos - 1}`);
    }
  }

  private str(n: number): string {
    const start = this.take(n);
    return readUtf8(this.buf, start, start + n, 'msgpack', this.strings);
  }

  private bin(n: number): Uint8Array {
    const start = this.take(n);
    return this.options.copyBuffers && n < REFERENCE_THRESHOLD
      ? copyBytes(this.buf, start, start + n)
      : this.buf.subarray(start, start + n);
  }

  /**
   * Enters a container of `items` values (elements, or keys and values) at `depth`: the nesting,
   * the data left (every value takes at least one byte: counts the data cannot hold are refused
   * before allocating) and the decode budget are checked. Returns the depth inside.
   */
  private open(items: number, depth: number): number {
    if (++depth > this.maxDepth)
      throw new SerializeError(`msgpack: nesting deeper than maxDepth=${this.maxDepth}`);
    if (items > this.end - this.pos) this.take(items);
    this.checkItems(items);
    return depth;
  }

  private array(n: number, depth: number): unknown[] {
    depth = this.open(n, depth);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth);
    return out;
  }

  private map(n: number, depth: number): unknown {
    depth = this.open(2 * n, depth);
    const obj: Record<string, unknown> = {};
    let hasClass = false;
    for (let i = 0; i < n; i++) {
      const key = this.value(depth);
      if (typeof key !== 'string') return this.mapWithKeys(obj, key, n - i, depth);
      const item = this.value(depth);
      if (key === '__proto__') defineOwn(obj, key, item);
      else {
        obj[key] = item;
        if (key === '__class__' && typeof item === 'string') hasClass = true;
      }
    }
    if (hasClass && typeof obj.__class__ === 'string') return this.mapper.fromClassDict(obj, this.hooks);
    return obj;
  }

  /** Continues a map as a Map once a non-string key shows up (Python dicts allow any hashable key). */
  private mapWithKeys(
    sofar: Record<string, unknown>,
    key: unknown,
    remaining: number,
    depth: number,
  ): Map<unknown, unknown> {
    const map = new Map<unknown, unknown>();
    for (const k of Object.keys(sofar)) map.set(k, sofar[k]);
    map.set(key, this.value(depth));
    for (let i = 1; i < remaining; i++) {
      const k = this.value(depth);
      map.set(k, this.value(depth));
    }
    return map;
  }

  private ext(n: number): unknown {
    const at = this.take(n + 1);
    const type = this.buf[at]!;
    const start = at + 1;
    const buf = this.buf;
    switch (type) {
      case EXT_COMPLEX:
        if (n !== 16) break;
        return new Complex(f64le(buf, start), f64le(buf, start + 8));
      case EXT_BIGINT: {
        if (n === 0 || n > MAX_INT_DIGITS + 1) break;
        const text = readUtf8(buf, start, start + n, 'msgpack');
        if (!INT_TEXT_RE.test(text)) break;
        const big = BigInt(text);
        return big >= -0x1f_ffff_ffff_ffffn && big <= 0x1f_ffff_ffff_ffffn ? Number(big) : big;
      }
      case EXT_DATETIME: {
        if (n !== 8) break;
        const date = new Date(f64le(buf, start) * 1000);
        if (Number.isNaN(date.getTime())) break;
        return date;
      }
      case EXT_DATE: {
        if (n !== 8) break;
        const ordinal = i64le(buf, start);
        // Python dates run from ordinal 1 (0001-01-01) to 3652059 (9999-12-31).
        if (ordinal < 1n || ordinal > 3_652_059n) break;
        return new Date((Number(ordinal) - ORDINAL_EPOCH) * MS_PER_DAY);
      }
      default:
        throw new SerializeError(`invalid ext code for msgpack: ${type}`);
    }
    throw new SerializeError(`msgpack: malformed ext 0x${type.toString(16)} (${n} bytes) at offset ${at}`);
  }
}
