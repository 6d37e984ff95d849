// Big-endian integer access on the hot path. Buffer's readUInt*/writeUInt* validate their
// arguments on every call; the codecs check lengths once per frame instead, so plain indexing
// (inlined by V8) does the same work several times faster.

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function putU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

const subarray = Uint8Array.prototype.subarray;

/**
 * `b.subarray(start, end)` without Buffer's own override, which re-validates and adjusts the
 * offsets; the typed-array method still returns a Buffer for a Buffer (species constructor).
 */
export function view(b: Buffer, start: number, end: number): Buffer {
  return subarray.call(b, start, end) as Buffer;
}
