// Strict UTF-8 decoding for the text formats, with the offset of the first bad byte in the error.
import { SerializeError } from '@cinder/core';

// ignoreBOM keeps a leading U+FEFF in the text, so the parsers can refuse it as Python does.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 or throws a SerializeError that says where the input stops being UTF-8. */
export function decodeUtf8(data: Uint8Array, format: string): string {
  try {
    return decoder.decode(data);
  } catch (err) {
    const at = invalidUtf8Offset(data);
    throw new SerializeError(`invalid ${format} data: not UTF-8 at byte offset ${at}`, { cause: err });
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence (-1: all valid). */
export function invalidUtf8Offset(b: Uint8Array, allowSurrogates = false): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return i;
    if (!allowSurrogates && cp >= 0xd800 && cp <= 0xdfff) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes UTF-8 that may contain encoded surrogates (Python's `surrogatepass`, which marshal uses
 * for str). Returns undefined if the bytes are not valid even so.
 */
export function decodeUtf8SurrogatePass(b: Uint8Array): string | undefined {
  if (invalidUtf8Offset(b, true) !== -1) return undefined;
  const units: number[] = [];
  let out = '';
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    let cp: number;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c < 0xe0) {
      cp = ((c & 0x1f) << 6) | (b[i + 1]! & 0x3f);
      i += 2;
    } else if (c < 0xf0) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1]! & 0x3f) << 6) | (b[i + 2]! & 0x3f);
      i += 3;
    } else {
      cp = ((c & 0x07) << 18) | ((b[i + 1]! & 0x3f) << 12) | ((b[i + 2]! & 0x3f) << 6) | (b[i + 3]! & 0x3f);
      i += 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      units.push(cp);
    }
    if (units.length >= 4096) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

/** UTF-8 with lone surrogates encoded as three bytes each (Python's `surrogatepass`). */
export function encodeUtf8SurrogatePass(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = ((cp - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
      }
    }
    if (cp < 0x80) {
      out[o++] = cp;
    } else if (cp < 0x800) {
      out[o++] = 0xc0 | (cp >> 6);
      out[o++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[o++] = 0xe0 | (cp >> 12);
      out[o++] = 0x80 | ((cp >> 6) & 0x3f);
      out[o++] = 0x80 | (cp & 0x3f);
    } else {
      out[o++] = 0xf0 | (cp >> 18);
      out[o++] = 0x80 | ((cp >> 12) & 0x3f);
      out[o++] = 0x80 | ((cp >> 6) & 0x3f);
      out[o++] = 0x80 | (cp & 0x3f);
    }
  }
  return out.subarray(0, o);
}

/** Whether a string has no lone surrogates (so TextEncoder would not alter it). */
export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}
