// CBOR (RFC 8949), Cinder's own default format between Cinder peers. Standard items only:
// definite-length ints, byte and text strings, arrays, maps (string keys → object, any other key →
// Map), floats (float32 when exact, else float64), and this closed set of tags:
//   0/1 date (→ Date) · 2/3 bignum (→ bigint) · 64 uint8 typed array (→ Uint8Array) · 258 set (→ Set)
//   · 259 map (read like any map) · 43000 complex [re, im] (→ Complex) · 55799 self-described (ignored).
// Every other tag, indefinite-length items and unknown simple values are refused, so nothing from
// the wire can choose a class (no Error/RegExp/typed-array/record/shared-reference tags). Encoding and
// decoding are single passes that apply the registry, the hooks, the depth limit and revival inline.
import { SerializeError } from '@cinder/core';
import { Complex } from '../pyvalues.js';
import { defineOwn } from '../registry.js';

import { copyBytes, type ValueMapper } from '../value-mapper.js';
import { type ByteWriter, REFERENCE_THRESHOLD } from './byte-writer.js';
import { BinaryDecoder, type DecodeOptions } from './decoder-base.js';
import { BinaryEncoder } from './encoder-driver.js';
import { f32be, f64be, u16be, u32be, u64be } from './read-num.js';
import { checkUtf8, readUtf8 } from './read-utf8.js';

export const TAG_DATE_STRING = 0;
export const TAG_DATE_EPOCH = 1;
export const TAG_BIGNUM_POS = 2;
export const TAG_BIGNUM_NEG = 3;
/** RFC 8746 uint8 typed array: a byte string (cbor-x tags Uint8Arrays with it by default). */
export const TAG_UINT8_ARRAY = 64;
export const TAG_SET = 258;
/** "Decode as a Map" (cbor-x writes it on Maps): the value model decides by the keys, as for any map. */
export const TAG_MAP = 259;
/** Tag for a complex number as `[real, imaginary]`. */
export const TAG_COMPLEX = 43000;
export const TAG_SELF_DESCRIBED = 55799;

/** Bignums are limited to what Python's 4300-digit int/str limit allows (≈1786 bytes). */
const MAX_BIGNUM_BYTES = 1786;
const TWO_64 = 2n ** 64n;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;

function head(w: ByteWriter, major: number, n: number): void {
  const m = major << 5;
  if (n < 24) w.u8(m | n);
  else if (n < 0x100) w.u8u8(m | 24, n);
  else if (n < 0x10000) w.u8u16(m | 25, n);
  else if (n < 0x1_0000_0000) w.u8u32(m | 26, n);
  else w.u8u64n(m | 27, n);
}

function textHeader(w: ByteWriter, len: number): void {
  head(w, 3, len);
}

export class CborEncoder extends BinaryEncoder {
  protected fresh(w: ByteWriter): CborEncoder {
    return new CborEncoder(w, this.mapper);
  }

  protected listHead(n: number): void {
    head(this.w, 4, n);
  }

  protected emptyMap(): void {
    this.w.u8(0xa0);
  }

  protected callItems(object: string, method: string, params: unknown[], kwargs: unknown): void {
    this.w.u8(0x84);
    this.w.utf8(object, 0x60, 24, textHeader);
    this.w.utf8(method, 0x60, 24, textHeader);
    this.array(params, 1);
    this.value(kwargs, 1);
  }

  protected value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.w.utf8(v, 0x60, 24, textHeader);
        return;
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          if (v >= 0) head(this.w, 0, v);
          else head(this.w, 1, -1 - v);
        } else if (Math.fround(v) === v) {
          this.w.u8f32(0xfa, v);
        } else {
          this.w.u8f64(0xfb, v);
        }
        return;
      case 'boolean':
        this.w.u8(v ? 0xf5 : 0xf4);
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'undefined':
        this.w.u8(0xf6);
        return;
      case 'object':
        if (v === null) this.w.u8(0xf6);
        else this.object(v, depth);
        return;
      case 'function':
        // Only the replace hook can make a function travel (as a callback reference).
        this.object(v, depth);
        return;
      default:
        throw new SerializeError(`cbor cannot serialize a ${typeof v}`);
    }
  }

  private object(v: object, depth: number): void {
    if (++depth > this.maxDepth)
      throw new SerializeError(`cbor: nesting deeper than maxDepth=${this.maxDepth}`);
    if (isArray(v)) {
      this.array(v, depth);
      return;
    }
    const proto = getProto(v);
    if (proto === objectProto || proto === null) {
      const rec = v as Record<string, unknown>;
      const keys = Object.keys(rec);
      const n = keys.length;
      head(this.w, 5, n);
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        this.w.utf8(key, 0x60, 24, textHeader);
        this.value(rec[key], depth);
      }
      return;
    }
    if (v instanceof Uint8Array) {
      head(this.w, 2, v.length);
      this.w.bytes(v);
      return;
    }
    if (v instanceof Map) {
      head(this.w, 5, v.size);
      for (const [key, item] of v) {
        this.value(key, depth);
        this.value(item, depth);
      }
      return;
    }
    if (v instanceof Set) {
      this.w.u8(0xd9);
      this.w.u8u8(TAG_SET >> 8, TAG_SET & 0xff);
      head(this.w, 4, v.size);
      for (const item of v) this.value(item, depth);
      return;
    }
    if (v instanceof Complex) {
      this.w.u8(0xd9);
      this.w.u8u8(TAG_COMPLEX >> 8, TAG_COMPLEX & 0xff);
      this.w.u8(0x82);
      this.w.u8f64(0xfb, v.real);
      this.w.u8f64(0xfb, v.imag);
      return;
    }
    if (v instanceof Date) {
      const t = v.getTime();
      if (Number.isNaN(t)) throw new SerializeError('cbor cannot serialize an invalid Date');
      this.w.u8(0xc0 | TAG_DATE_EPOCH);
      this.value(t / 1000, depth);
      return;
    }
    this.value(this.mapper.toModel(v, this.hooks), depth);
  }

  private array(v: readonly unknown[], depth: number): void {
    const n = v.length;
    head(this.w, 4, n);
    for (let i = 0; i < n; i++) this.value(v[i], depth);
  }

  private bigint(v: bigint): void {
    if (v >= -0x1f_ffff_ffff_ffffn && v <= 0x1f_ffff_ffff_ffffn) {
      this.value(Number(v), 0);
    } else if (v >= 0n && v < TWO_64) {
      this.w.u8u64(0x1b, v);
    } else if (v < 0n && v >= -TWO_64) {
      this.w.u8u64(0x3b, -1n - v);
    } else {
      const magnitude = v < 0n ? -1n - v : v;
      let hex = magnitude.toString(16);
      if (hex.length & 1) hex = `0${hex}`;
      if (hex.length / 2 > MAX_BIGNUM_BYTES) throw new SerializeError('cbor: int too large');
      this.w.u8(0xc0 | (v < 0n ? TAG_BIGNUM_NEG : TAG_BIGNUM_POS));
      const bytes = Buffer.from(hex, 'hex');
      head(this.w, 2, bytes.length);
      this.w.bytes(bytes);
    }
  }
}

export class CborDecoder extends BinaryDecoder {
  constructor(mapper: ValueMapper, options: DecodeOptions) {
    super(mapper, options, 'cbor', 0x84);
  }

  protected fresh(): CborDecoder {
    return new CborDecoder(this.mapper, this.options);
  }

  protected listHead(): number {
    const b = this.buf[this.take(1)]!;
    return b >> 5 === 4 ? this.length(b & 0x1f, 1) : -1;
  }

  protected skip(depth: number): boolean {
    const b = this.buf[this.take(1)]!;
    const ai = b & 0x1f;
    switch (b >> 5) {
      case 0:
      case 1:
        this.arg(ai);
        return true;
      case 2:
        this.take(this.length(ai, 1));
        return true;
      case 3: {
        const n = this.length(ai, 1);
        const start = this.take(n);
        checkUtf8(this.buf, start, start + n, 'cbor', this.strings);
        return true;
      }
      case 4: {
        const n = this.length(ai, 1);
        if (++depth > this.maxDepth) return false;
        this.checkItems(n);
        return this.skipItems(n, depth);
      }
      case 5: {
        const n = this.length(ai, 2);
        if (++depth > this.maxDepth) return false;
        this.checkItems(2 * n);
        for (let i = 0; i < n; i++) {
          if (this.buf[this.pos]! >> 5 === 3) {
            if (this.value(depth) === '__class__') return false;
          } else if (!this.skip(depth)) return false;
          if (!this.skip(depth)) return false;
        }
        return true;
      }
      case 6:
        return false;
      default:
        this.simple(b, ai);
        return true;
    }
  }

  /** Reads the argument of a head whose additional information is `ai`; bigint beyond 2^53−1. */
  private arg(ai: number): number | bigint {
    if (ai < 24) return ai;
    switch (ai) {
      case 24:
        return this.buf[this.take(1)]!;
      case 25:
        return u16be(this.buf, this.take(2));
      case 26:
        return u32be(this.buf, this.take(4));
      case 27:
        return u64be(this.buf, this.take(8));
      case 31:
        throw new SerializeError(`cbor: indefinite-length items are not supported (offset ${this.pos - 1})`);
      default:
        throw new SerializeError(
          `cbor: malformed head (additional information ${ai}) at offset ${this.pos - 1}`,
        );
    }
  }

  /** A length argument: a number no larger than what is left of the input divided by `perItem`. */
  private length(ai: number, perItem: number): number {
    const n = this.arg(ai);
    if (typeof n === 'bigint' || n * perItem > this.end - this.pos) {
      throw new SerializeError(`cbor: truncated data (length ${n} at offset ${this.pos} exceeds the input)`);
    }
    return n;
  }

  protected value(depth: number): unknown {
    const b = this.buf[this.take(1)]!;
    const ai = b & 0x1f;
    switch (b >> 5) {
      case 0:
        return this.arg(ai);
      case 1: {
        const n = this.arg(ai);
        return typeof n === 'number' ? -1 - n : normalize(-1n - n);
      }
      case 2: {
        const n = this.length(ai, 1);
        const start = this.take(n);
        return this.options.copyBuffers && n < REFERENCE_THRESHOLD
          ? copyBytes(this.buf, start, start + n)
          : this.buf.subarray(start, start + n);
      }
      case 3: {
        const n = this.length(ai, 1);
        const start = this.take(n);
        return readUtf8(this.buf, start, start + n, 'cbor', this.strings);
      }
      case 4:
        return this.array(this.length(ai, 1), depth);
      case 5:
        return this.map(this.length(ai, 2), depth);
      case 6:
        return this.tag(this.arg(ai), depth);
      default:
        return this.simple(b, ai);
    }
  }

  private simple(b: number, ai: number): unknown {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
      case 23:
        // undefined has no Python counterpart: it reads as None, as it is written.
        return null;
      case 25:
        return halfToFloat(u16be(this.buf, this.take(2)));
      case 26:
        return f32be(this.buf, this.take(4));
      case 27:
        return f64be(this.buf, this.take(8));
      default:
        throw new SerializeError(
          `cbor: unsupported simple value 0x${b.toString(16)} at offset ${this.pos - 1}`,
        );
    }
  }

  private array(n: number, depth: number): unknown[] {
    if (++depth > this.maxDepth)
      throw new SerializeError(`cbor: nesting deeper than maxDepth=${this.maxDepth}`);
    this.checkItems(n);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth);
    return out;
  }

  private map(n: number, depth: number): unknown {
    if (++depth > this.maxDepth)
      throw new SerializeError(`cbor: nesting deeper than maxDepth=${this.maxDepth}`);
    this.checkItems(2 * n);
    const obj: Record<string, unknown> = {};
    let hasClass = false;
    for (let i = 0; i < n; i++) {
      const key = this.value(depth);
      if (typeof key !== 'string') {
        const map = new Map<unknown, unknown>();
        for (const k of Object.keys(obj)) map.set(k, obj[k]);
        map.set(key, this.value(depth));
        for (let j = i + 1; j < n; j++) {
          const k = this.value(depth);
          map.set(k, this.value(depth));
        }
        return map;
      }
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

  private tag(tag: number | bigint, depth: number): unknown {
    if (++depth > this.maxDepth)
      throw new SerializeError(`cbor: nesting deeper than maxDepth=${this.maxDepth}`);
    const at = this.pos;
    switch (tag) {
      case TAG_DATE_STRING: {
        const text = this.value(depth);
        if (typeof text === 'string' && ISO_DATE_RE.test(text)) {
          const date = new Date(text);
          if (!Number.isNaN(date.getTime())) return date;
        }
        throw new SerializeError(`cbor: tag 0 needs an RFC 3339 date string (offset ${at})`);
      }
      case TAG_DATE_EPOCH: {
        const seconds = this.value(depth);
        if (typeof seconds === 'number') {
          const date = new Date(seconds * 1000);
          if (!Number.isNaN(date.getTime())) return date;
        }
        throw new SerializeError(`cbor: tag 1 needs a number of seconds within Date's range (offset ${at})`);
      }
      case TAG_BIGNUM_POS:
      case TAG_BIGNUM_NEG: {
        const bytes = this.value(depth);
        if (!(bytes instanceof Uint8Array) || bytes.length > MAX_BIGNUM_BYTES) {
          throw new SerializeError(
            `cbor: bignum tag needs a byte string of at most ${MAX_BIGNUM_BYTES} bytes (offset ${at})`,
          );
        }
        const magnitude =
          bytes.length === 0
            ? 0n
            : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
        return normalize(tag === TAG_BIGNUM_POS ? magnitude : -1n - magnitude);
      }
      case TAG_UINT8_ARRAY: {
        const data = this.value(depth);
        if (data instanceof Uint8Array) return data;
        throw new SerializeError(`cbor: tag 64 needs a byte string (offset ${at})`);
      }
      case TAG_SET: {
        const items = this.value(depth);
        if (!isArray(items)) throw new SerializeError(`cbor: tag 258 needs an array (offset ${at})`);
        return new Set(items);
      }
      case TAG_MAP: {
        if (this.pos < this.end && this.buf[this.pos]! >> 5 === 5) return this.value(depth);
        throw new SerializeError(`cbor: tag 259 needs a map (offset ${at})`);
      }
      case TAG_COMPLEX: {
        const parts = this.value(depth);
        if (
          isArray(parts) &&
          parts.length === 2 &&
          typeof parts[0] === 'number' &&
          typeof parts[1] === 'number'
        ) {
          return new Complex(parts[0], parts[1]);
        }
        throw new SerializeError(`cbor: tag ${TAG_COMPLEX} needs [real, imaginary] (offset ${at})`);
      }
      case TAG_SELF_DESCRIBED:
        return this.value(depth);
      default:
        throw new SerializeError(`cbor: unsupported tag ${tag} at offset ${at}`);
    }
  }
}

/** Ints within ±(2^53−1) are numbers in the value model, whatever their encoding. */
function normalize(v: bigint): number | bigint {
  return v >= -0x1f_ffff_ffff_ffffn && v <= 0x1f_ffff_ffff_ffffn ? Number(v) : v;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
