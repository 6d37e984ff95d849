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

const NO_ARRAY_BUFFER = new ArrayBuffer(0);
/** The buffer a frame reader is decoding in place, with its ArrayBuffer and offset (see `viewSource`). */
let sourceBuffer: Uint8Array | null = null;
let sourceArrayBuffer: ArrayBufferLike = NO_ARRAY_BUFFER;
let sourceOffset = 0;

/**
 * Tells `view` the ArrayBuffer and offset of `b` (the buffer frames are about to be decoded from),
 * so the views of those frames skip reading them from `b` (two accessor calls, about half of what
 * a view costs); `viewSource(null)` forgets it, and must follow (nothing is kept alive). Views of
 * any other buffer are made as always, so a nested decode elsewhere only costs the shortcut.
 */
export function viewSource(b: Uint8Array | null, arrayBuffer?: ArrayBufferLike, offset?: number): void {
  if (b === null || arrayBuffer === undefined || offset === undefined) {
    sourceBuffer = null;
    sourceArrayBuffer = NO_ARRAY_BUFFER;
    return;
  }
  sourceBuffer = b;
  sourceArrayBuffer = arrayBuffer;
  sourceOffset = offset;
}

/** `b.subarray(start, end)` as a Buffer over the same memory, without the species lookup. */
export function view(b: Uint8Array, start: number, end: number): Buffer {
  if (FastBuffer === null) return Buffer.from(b.buffer, b.byteOffset + start, end - start);
  return b === sourceBuffer
    ? new FastBuffer(sourceArrayBuffer, sourceOffset + start, end - start)
    : new FastBuffer(b.buffer, b.byteOffset + start, end - start);
}

/** A Buffer over `length` bytes of `arrayBuffer` from `offset` (Node's own class; no copy). */
export function bufferOver(arrayBuffer: ArrayBufferLike, offset: number, length: number): Buffer {
  return FastBuffer !== null
    ? new FastBuffer(arrayBuffer, offset, length)
    : Buffer.from(arrayBuffer, offset, length);
}
