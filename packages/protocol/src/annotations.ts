// Annotation ids on the wire: exactly four ASCII bytes in both protocols. Shared checks so the two
// codecs agree on what they send and accept.
import { ProtocolError } from '@cinder/core';

/** Throws unless `id` is exactly four ASCII characters (Pyro's rule, on send). */
export function checkAnnotationId(id: unknown): asserts id is string {
  if (
    typeof id !== 'string' ||
    id.length !== 4 ||
    id.charCodeAt(0) > 0x7f ||
    id.charCodeAt(1) > 0x7f ||
    id.charCodeAt(2) > 0x7f ||
    id.charCodeAt(3) > 0x7f
  ) {
    throw new ProtocolError(`annotation id must be exactly 4 ASCII characters: ${JSON.stringify(id)}`);
  }
}

/** Throws unless an annotation value is bytes. */
export function checkAnnotationValue(id: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ProtocolError(`annotation '${id}' value must be bytes`);
}

/** Writes a checked id at `p`. */
export function writeAnnotationId(out: Uint8Array, p: number, id: string): void {
  out[p] = id.charCodeAt(0);
  out[p + 1] = id.charCodeAt(1);
  out[p + 2] = id.charCodeAt(2);
  out[p + 3] = id.charCodeAt(3);
}

/** Reads the 4-byte id at `p`; a non-ASCII byte is a ProtocolError (Pyro decodes ids as ASCII). */
export function readAnnotationId(buf: Buffer, p: number): string {
  const a = buf[p]!;
  const b = buf[p + 1]!;
  const c = buf[p + 2]!;
  const d = buf[p + 3]!;
  if ((a | b | c | d) > 0x7f) throw new ProtocolError('annotation id is not ASCII');
  return String.fromCharCode(a, b, c, d);
}

/** The error for a chunk that claims more bytes than the annotations area has left. */
export function chunkOverrun(id: string, length: number, left: number): ProtocolError {
  return new ProtocolError(
    `annotation chunk '${id}' length ${length} exceeds the annotations area (${left} bytes left)`,
  );
}

/** The error for an annotations area that ends inside a chunk header. */
export function chunkHeaderTruncated(left: number, chunkHeader: number): ProtocolError {
  return new ProtocolError(
    `annotations area ends inside a chunk header (${left} bytes left, a chunk header needs ${chunkHeader})`,
  );
}
