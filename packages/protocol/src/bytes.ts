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

type BufferClass = new (ab: ArrayBufferLike, offset: number, length: number) => Buffer;

/**
 * The class of the Buffers Node makes itself (`Buffer[Symbol.species]`, Node's FastBuffer):
 * constructing one over an ArrayBuffer is a plain typed-array construction, where
 * `Buffer#subarray` and `Uint8Array#subarray` on a Buffer look up the species constructor first
 * and cost about twice as much. `Buffer.from(arrayBuffer, …)` if this Node has no such class.
 */
const FastBuffer: BufferClass | null = (() => {
  const species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species !== 'function' || species === Buffer) return null;
  const made = new (species as BufferClass)(new ArrayBuffer(2), 1, 1);
  return Buffer.isBuffer(made) && made.byteOffset === 1 && made.length === 1
    ? (species as BufferClass)
    : null;
})();

/** `b.subarray(start, end)` as a Buffer over the same memory, without the species lookup. */
export function view(b: Uint8Array, start: number, end: number): Buffer {
  return FastBuffer !== null
    ? new FastBuffer(b.buffer, b.byteOffset + start, end - start)
    : Buffer.from(b.buffer, b.byteOffset + start, end - start);
}
