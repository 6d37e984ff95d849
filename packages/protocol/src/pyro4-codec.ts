// Pyro4 (protocol 48) framing: 24-byte header with a checksum, u16-length annotation chunks,
// payload. The correlation id travels as the `CORR` annotation and an optional `HMAC` annotation
// signs the frame. Flags and serializer ids are translated to and from the Pyro5 numbering of
// message.ts so that nothing above this layer sees a difference.
import { MessageTooLargeError, ProtocolError, SecurityError } from '@cinder/core';
import {
  checkAnnotationId,
  checkAnnotationValue,
  chunkHeaderTruncated,
  chunkOverrun,
  readAnnotationId,
  writeAnnotationId,
} from './annotations.js';
import { putU16, putU32, u16, view } from './bytes.js';
import { deflatePayload, inflatePayload } from './compression.js';
import {
  COPY_THRESHOLD,
  CORR_ANNOTATION,
  CORRELATION_ID_SIZE,
  HEADER_SIZE_48,
  HMAC_ANNOTATION,
  HMAC_SIZE,
  MAX_ANNOTATIONS_LENGTH_48,
  MAX_DATA_LENGTH_48,
  TAG,
} from './constants.js';
import { checkMessageFields } from './fields.js';
import { type FrameHeader, pyro4Checksum } from './header.js';
import { hmacMatches, pyro4Hmac } from './hmac.js';
import { type Annotations, Flags, type Message, wholePayload } from './message.js';

const CHUNK_HEADER = 6;

/** Pyro4's own flag bits. */
export const Pyro4Flags = {
  EXCEPTION: 0x01,
  COMPRESSED: 0x02,
  ONEWAY: 0x04,
  BATCH: 0x08,
  META_ON_CONNECT: 0x10,
  ITEMSTREAMRESULT: 0x20,
  KEEPSERIALIZED: 0x40,
} as const;

/** Pyro4's own serializer ids (for error texts such as "serializer that is not accepted: N"). */
export const Pyro4SerializerId = {
  SERPENT: 1,
  JSON: 2,
  MARSHAL: 3,
  PICKLE: 4,
  DILL: 5,
  MSGPACK: 6,
  CLOUDPICKLE: 7,
  PING: 42,
} as const;

/**
 * A Pyro4 serializer id with no Pyro5 counterpart (pickle, dill, cloudpickle, unknown ids)
 * decodes to this base plus the Pyro4 id, so it can never be mistaken for a Pyro5 id (Pyro4's
 * pickle is 4, which is msgpack in Pyro5) and still round-trips.
 */
export const PYRO4_ONLY_SERIALIZER_BASE = 0x10000;

/** Bits without a meaning in either protocol pass through unchanged (0x0080–0x4000). */
const PASSTHROUGH_FLAGS = 0x7f80;

/** Pyro5-numbered serializer id for a Pyro4 wire id. */
export function fromPyro4SerializerId(wire: number): number {
  switch (wire) {
    case 1:
      return 1;
    case 2:
      return 3;
    case 3:
      return 2;
    case 6:
      return 4;
    case 42:
      return 42;
    default:
      return PYRO4_ONLY_SERIALIZER_BASE + wire;
  }
}

/** Pyro4 wire id for a Pyro5-numbered serializer id, or undefined when Pyro4 has none (CBOR). */
export function toPyro4SerializerId(id: number): number | undefined {
  switch (id) {
    case 1:
      return 1;
    case 3:
      return 2;
    case 2:
      return 3;
    case 4:
      return 6;
    case 42:
      return 42;
    default:
      if (id >= PYRO4_ONLY_SERIALIZER_BASE && id <= PYRO4_ONLY_SERIALIZER_BASE + 0xffff && (id | 0) === id) {
        return id - PYRO4_ONLY_SERIALIZER_BASE;
      }
      return undefined;
  }
}

/** Pyro5-numbered flags for Pyro4 wire flags (COMPRESSED and CORR_ID are the codec's business). */
export function fromPyro4Flags(wire: number): number {
  return (
    (wire & (Flags.EXCEPTION | Flags.ONEWAY | Flags.BATCH | PASSTHROUGH_FLAGS)) |
    (wire & Pyro4Flags.META_ON_CONNECT ? Flags.META_ON_CONNECT : 0) |
    (wire & Pyro4Flags.ITEMSTREAMRESULT ? Flags.ITEMSTREAMRESULT : 0) |
    (wire & Pyro4Flags.KEEPSERIALIZED ? Flags.KEEPSERIALIZED : 0)
  );
}

/** Pyro4 wire flags for Pyro5-numbered flags, without COMPRESSED (and CORR_ID, which has no bit). */
export function toPyro4Flags(flags: number): number {
  return (
    (flags & (Flags.EXCEPTION | Flags.ONEWAY | Flags.BATCH | PASSTHROUGH_FLAGS)) |
    (flags & Flags.META_ON_CONNECT ? Pyro4Flags.META_ON_CONNECT : 0) |
    (flags & Flags.ITEMSTREAMRESULT ? Pyro4Flags.ITEMSTREAMRESULT : 0) |
    (flags & Flags.KEEPSERIALIZED ? Pyro4Flags.KEEPSERIALIZED : 0)
  );
}

/** Encodes a message as a protocol 48 frame (see `encodeMessage`). */
export function encode48(
  m: Message,
  maxMessageSize: number,
  compressAbove: number,
  hmacKey: Uint8Array | null,
): Uint8Array[] {
  checkMessageFields(m);
  const serializer = toPyro4SerializerId(m.serializerId);
  if (serializer === undefined)
    throw new ProtocolError(`serializer id ${m.serializerId} has no Pyro4 equivalent`);
  let flags = toPyro4Flags(m.flags);
  const corr = m.correlationId;

  // Protocol 48 is spoken with Python peers only: a payload tail is simply joined.
  let payload = wholePayload(m);
  if (compressAbove > 0 && payload.length > compressAbove) {
    // Pyro4 keeps the compressed form only when it is actually smaller.
    const compressed = deflatePayload(payload, -1);
    if (compressed.length < payload.length) {
      payload = compressed;
      flags |= Pyro4Flags.COMPRESSED;
    }
  }

  const annotations = m.annotations;
  let annotationsLength = 0;
  if (annotations !== null) {
    for (const [id, value] of annotations) {
      if (skipped(id, corr, hmacKey)) continue;
      checkAnnotationId(id);
      checkAnnotationValue(id, value);
      if (value.length > MAX_ANNOTATIONS_LENGTH_48) {
        throw new ProtocolError(
          `annotation '${id}' is too long for protocol 48 (${value.length} bytes, max ${MAX_ANNOTATIONS_LENGTH_48})`,
        );
      }
      annotationsLength += CHUNK_HEADER + value.length;
    }
  }
  if (corr !== null) annotationsLength += CHUNK_HEADER + CORRELATION_ID_SIZE;
  // Pyro4 signs the payload as sent, so the HMAC is computed after compression.
  const mac = hmacKey !== null ? pyro4Hmac(hmacKey, payload, annotations, corr) : null;
  if (mac !== null) annotationsLength += CHUNK_HEADER + HMAC_SIZE;
  if (annotationsLength > MAX_ANNOTATIONS_LENGTH_48) {
    throw new ProtocolError(
      `annotations are too long for protocol 48 (${annotationsLength} bytes, max ${MAX_ANNOTATIONS_LENGTH_48})`,
    );
  }
  const bodySize = annotationsLength + payload.length;
  if (bodySize > maxMessageSize) throw new MessageTooLargeError(bodySize, maxMessageSize);
  if (payload.length > MAX_DATA_LENGTH_48) throw new MessageTooLargeError(payload.length, MAX_DATA_LENGTH_48);

  const headLength = HEADER_SIZE_48 + annotationsLength;
  const inline = payload.length < COPY_THRESHOLD;
  const out = Buffer.allocUnsafe(inline ? headLength + payload.length : headLength);
  putU32(out, 0, TAG);
  putU16(out, 4, 48);
  putU16(out, 6, m.type);
  putU16(out, 8, flags);
  putU16(out, 10, m.seq);
  putU32(out, 12, payload.length);
  putU16(out, 16, serializer);
  putU16(out, 18, annotationsLength);
  putU16(out, 20, 0);
  putU16(out, 22, pyro4Checksum(m.type, flags, m.seq, payload.length, serializer, annotationsLength));
  // Pyro4's order: the message's own annotations, then CORR, then HMAC (added last by Message).
  let p = HEADER_SIZE_48;
  if (annotations !== null) {
    for (const [id, value] of annotations) {
      if (skipped(id, corr, hmacKey)) continue;
      p = writeChunk(out, p, id, value);
    }
  }
  if (corr !== null) p = writeChunk(out, p, CORR_ANNOTATION, corr);
  if (mac !== null) writeChunk(out, p, HMAC_ANNOTATION, mac);
  if (inline) {
    out.set(payload, headLength);
    return [out];
  }
  return [out, payload];
}

/** A CORR entry gives way to `correlationId`, and an HMAC entry to the freshly computed one. */
function skipped(id: string, corr: Uint8Array | null, hmacKey: Uint8Array | null): boolean {
  return (corr !== null && id === CORR_ANNOTATION) || (hmacKey !== null && id === HMAC_ANNOTATION);
}

function writeChunk(out: Buffer, p: number, id: string, value: Uint8Array): number {
  writeAnnotationId(out, p, id);
  putU16(out, p + 4, value.length);
  out.set(value, p + CHUNK_HEADER);
  return p + CHUNK_HEADER + value.length;
}

/**
 * Decodes the annotations and payload of a 48 frame starting at `off` (header `h` parsed, all
 * bytes present), checks the HMAC, and translates flags and serializer id. `CORR` becomes the
 * correlation id and `HMAC` is consumed here; neither appears in the annotations.
 */
export function decodeBody48(
  buf: Buffer,
  off: number,
  h: FrameHeader,
  maxInflated: number,
  hmacKey: Uint8Array | null,
): Message {
  const annotationsStart = off + HEADER_SIZE_48;
  const annotationsEnd = annotationsStart + h.annotationsLength;
  let annotations: Annotations | null = null;
  let corr: Buffer | null = null;
  let mac: Buffer | null = null;
  let p = annotationsStart;
  // Pyro4 itself does not check chunk lengths (it silently truncates); a chunk that overruns the
  // area is a corrupt or hostile frame, so Cinder refuses it.
  while (p < annotationsEnd) {
    const left = annotationsEnd - p;
    if (left < CHUNK_HEADER) throw chunkHeaderTruncated(left, CHUNK_HEADER);
    const id = readAnnotationId(buf, p);
    const length = u16(buf, p + 4);
    p += CHUNK_HEADER;
    if (length > annotationsEnd - p) throw chunkOverrun(id, length, annotationsEnd - p);
    const value = view(buf, p, p + length);
    p += length;
    if (id === CORR_ANNOTATION) {
      if (length !== CORRELATION_ID_SIZE) {
        throw new ProtocolError(`CORR annotation must be ${CORRELATION_ID_SIZE} bytes, got ${length}`);
      }
      corr = value;
    } else if (id === HMAC_ANNOTATION) {
      mac = value;
    } else {
      if (annotations === null) annotations = new Map();
      annotations.set(id, value);
    }
  }
  let payload: Uint8Array = view(buf, annotationsEnd, annotationsEnd + h.dataLength);
  if (hmacKey !== null) {
    if (mac === null) throw new SecurityError('hmac key config not symmetric');
    if (!hmacMatches(mac, pyro4Hmac(hmacKey, payload, annotations, corr))) {
      throw new SecurityError('message hmac mismatch');
    }
  } else if (mac !== null) {
    throw new SecurityError('hmac key config not symmetric');
  }
  const wireFlags = h.wireFlags;
  if (wireFlags & Pyro4Flags.COMPRESSED) payload = inflatePayload(payload, maxInflated);
  return {
    type: h.type,
    flags: fromPyro4Flags(wireFlags) | (corr !== null ? Flags.CORR_ID : 0),
    seq: h.seq,
    serializerId: fromPyro4SerializerId(h.wireSerializer),
    correlationId: corr,
    annotations,
    payload,
  };
}
