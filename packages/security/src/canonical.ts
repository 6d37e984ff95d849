// The bytes a MAC covers for one message, shared by the per-message MAC (message-auth.ts) and the
// per-batch MAC (batch-auth.ts). Every field is fixed-size or length-prefixed, so the encoding of
// a sequence of messages is unambiguous: two different sequences never give the same bytes.
import { ProtocolError } from '@cinder/core';
import { Flags, type Message } from '@cinder/protocol';

/** Length of a MAC, per message or per batch: the full HMAC-SHA256 output (shorter values are refused). */
export const MAC_LENGTH = 32;

// COMPRESSED is a property of the encoding, not of the message (the codec sets and clears it), and
// CORR_ID mirrors the presence of the correlation id, which the MAC covers on its own.
const IGNORED_FLAGS = Flags.COMPRESSED | Flags.CORR_ID;
const TWO_32 = 0x1_0000_0000;

/**
 * Length of the fixed fields: type u16 | flags u16 | seq u16 | serializer u16 | has-corr u8 |
 * corr 16 | annotation count u32 | payload length u64.
 */
export const FIELDS_LENGTH = 2 + 2 + 2 + 2 + 1 + 16 + 4 + 8;
/** Length of an annotation's header in the MAC'd bytes: id (4 ASCII bytes) | length u32. */
export const ANNOTATION_HEADER_LENGTH = 8;

/** Writes a u64 (a safe integer) big-endian at `offset`. */
export function writeU64(s: Buffer, value: number, offset: number): void {
  s.writeUInt32BE(Math.floor(value / TWO_32), offset);
  s.writeUInt32BE(value >>> 0, offset + 4);
}

/** Writes the fixed fields of `message` at `offset` (FIELDS_LENGTH bytes). */
export function writeFields(
  s: Buffer,
  offset: number,
  message: Message,
  annotationCount: number,
  payloadLength: number,
): void {
  s.writeUInt16BE(message.type & 0xffff, offset);
  s.writeUInt16BE(message.flags & ~IGNORED_FLAGS & 0xffff, offset + 2);
  s.writeUInt16BE(message.seq & 0xffff, offset + 4);
  s.writeUInt16BE(message.serializerId & 0xffff, offset + 6);
  const corr = message.correlationId;
  if (corr !== null) {
    if (corr.length !== 16) throw new ProtocolError(`correlation id must be 16 bytes, not ${corr.length}`);
    s[offset + 8] = 1;
    s.set(corr, offset + 9);
  } else {
    s.fill(0, offset + 8, offset + 25);
  }
  s.writeUInt32BE(annotationCount, offset + 25);
  writeU64(s, payloadLength, offset + 29);
}

/** Writes an annotation's id and length at `offset`; returns the offset after them. */
export function writeAnnotationHeader(s: Buffer, offset: number, id: string, length: number): number {
  if (id.length !== 4)
    throw new ProtocolError(`annotation id must be 4 ASCII characters: ${JSON.stringify(id)}`);
  for (let i = 0; i < 4; i++) {
    const c = id.charCodeAt(i);
    if (c > 0x7f) throw new ProtocolError(`annotation id must be 4 ASCII characters: ${JSON.stringify(id)}`);
    s[offset + i] = c;
  }
  s.writeUInt32BE(length, offset + 4);
  return offset + ANNOTATION_HEADER_LENGTH;
}
