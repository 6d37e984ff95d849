// Strict UTF-8 decoding for the binary decoders: short strings (most keys and names) in JavaScript,
// long ones natively after a native validity check. Malformed text is an error, never U+FFFD.
import { isUtf8 } from 'node:buffer';
import { SerializeError } from '@cinder/core';

/** Strings up to this many bytes are decoded in JavaScript, which beats a native call for them. */
const JS_LIMIT = 64;
const fromCharCode = String.fromCharCode;

const CACHE_SIZE = 4096;

/**
 * Remembers short ASCII strings by their bytes, so the object ids, method names and dict keys every
 * call repeats are neither rebuilt nor re-internalized. One per decoder; a slot holds the last
 * string that hashed to it.
 */
export class StringCache {
  // Allocated on first use: a serializer set that never decodes this format costs nothing.
  private slots: (string | undefined)[] | undefined;

  /** `buf[start, end)` (at most 16 bytes) as a string if it is ASCII, else undefined. */
  ascii(buf: Uint8Array, start: number, end: number): string | undefined {
    const n = end - start;
    let h = n;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return undefined;
      h = (Math.imul(h, 31) + c) | 0;
    }
    const slot = (h ^ (h >>> 12)) & (CACHE_SIZE - 1);
    const slots = (this.slots ??= new Array<string | undefined>(CACHE_SIZE));
    const hit = slots[slot];
    if (hit !== undefined && hit.length === n) {
      let i = 0;
      while (i < n && hit.charCodeAt(i) === buf[start + i]) i++;
      if (i === n) return hit;
    }
    const s = asciiUpTo16(buf, start, end)!;
    slots[slot] = s;
    return s;
  }
}

/** Decodes `buf[start, end)` as strict UTF-8; `format` names the codec in error messages. */
export function readUtf8(
  buf: Uint8Array,
  start: number,
  end: number,
  format: string,
  cache?: StringCache,
): string {
  if (end - start <= JS_LIMIT) {
    const s =
      (end - start <= 16
        ? cache !== undefined
          ? cache.ascii(buf, start, end)
          : asciiUpTo16(buf, start, end)
        : undefined) ?? shortUtf8(buf, start, end);
    if (s !== undefined) return s;
  } else {
    const slice = buf.subarray(start, end);
    if (isUtf8(slice)) return Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength).toString('utf8');
  }
  throw new SerializeError(`${format}: invalid UTF-8 in string at offset ${start}`);
}

/**
 * Throws what readUtf8 throws for `buf[start, end)`, without making the string when it is ASCII
 * (a walk over a payload checks every string it steps over).
 */
export function checkUtf8(
  buf: Uint8Array,
  start: number,
  end: number,
  format: string,
  cache?: StringCache,
): void {
  if (end - start <= JS_LIMIT) {
    let or = 0;
    for (let i = start; i < end; i++) or |= buf[i]!;
    if (or < 0x80) return;
  }
  readUtf8(buf, start, end, format, cache);
}

/**
 * Up to 16 ASCII bytes as a string, or undefined if any byte is not ASCII. Fixed-arity
 * String.fromCharCode calls make flat strings without a per-character concatenation.
 */
function asciiUpTo16(b: Uint8Array, p: number, end: number): string | undefined {
  const n = end - p;
  if (n > 8) {
    const head = asciiUpTo16(b, p, p + 8);
    if (head === undefined) return undefined;
    const tail = asciiUpTo16(b, p + 8, end);
    return tail === undefined ? undefined : head + tail;
  }
  let or = 0;
  for (let i = p; i < end; i++) or |= b[i]!;
  if (or >= 0x80) return undefined;
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[p]!);
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!);
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    default:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
  }
}

/** JavaScript UTF-8 decoder (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
function shortUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  let s = '';
  let i = start;
  while (i < end) {
    const a = buf[i]!;
    if (a < 0x80) {
      s += fromCharCode(a);
      i++;
      continue;
    }
    if (a >= 0xc2 && a <= 0xdf) {
      if (i + 1 >= end) return undefined;
      const b = buf[i + 1]!;
      if ((b & 0xc0) !== 0x80) return undefined;
      s += fromCharCode(((a & 0x1f) << 6) | (b & 0x3f));
      i += 2;
      continue;
    }
    if (a >= 0xe0 && a <= 0xef) {
      if (i + 2 >= end) return undefined;
      const b = buf[i + 1]!;
      const c = buf[i + 2]!;
      if ((b & 0xc0) !== 0x80 || (c & 0xc0) !== 0x80) return undefined;
      if (a === 0xe0 && b < 0xa0) return undefined; // overlong
      if (a === 0xed && b >= 0xa0) return undefined; // surrogate
      s += fromCharCode(((a & 0x0f) << 12) | ((b & 0x3f) << 6) | (c & 0x3f));
      i += 3;
      continue;
    }
    if (a >= 0xf0 && a <= 0xf4) {
      if (i + 3 >= end) return undefined;
      const b = buf[i + 1]!;
      const c = buf[i + 2]!;
      const d = buf[i + 3]!;
      if ((b & 0xc0) !== 0x80 || (c & 0xc0) !== 0x80 || (d & 0xc0) !== 0x80) return undefined;
      if (a === 0xf0 && b < 0x90) return undefined; // overlong
      if (a === 0xf4 && b >= 0x90) return undefined; // beyond U+10FFFF
      const cp = (((a & 0x07) << 18) | ((b & 0x3f) << 12) | ((c & 0x3f) << 6) | (d & 0x3f)) - 0x10000;
      s += fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      i += 4;
      continue;
    }
    return undefined;
  }
  return s;
}
