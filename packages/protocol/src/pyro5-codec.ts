// Pyro5 (protocol 502) framing: 40-byte header, u32-length annotation chunks, payload. The header
// carries the correlation id; there is no checksum and no HMAC.
import { MessageTooLargeError, ProtocolError } from '@cinder/core';
import {
  checkAnnotationId,
  checkAnnotationValue,
  chunkHeaderTruncated,
  chunkOverrun,
  readAnnotationId,
  writeAnnotationId,
} from './annotations.js';
import { putU16, putU32, u32, view } from './bytes.js';
import { deflatePayload, inflatePayload } from './compression.js';
import {
  COPY_THRESHOLD,
  HEADER_SIZE_502,
  MAGIC,
  MAX_LENGTH_502,
  PYRO5_COMPRESSION_LEVEL,
  TAG,
} from './constants.js';
import { checkMessageFields } from './fields.js';
import type { FrameHeader } from './header.js';
import { type Annotations, type EncodedFrame, Flags, type Message, wholePayload } from './message.js';

const CHUNK_HEADER = 8;
/** Payloads up to this many bytes are copied byte by byte (see encode502Into). */
const SMALL_COPY = 8;
/** Pyro5 wire bit 0x8000 means nothing there and META_ON_CONNECT here, so it is dropped. */
const RECEIVED_FLAGS_MASK = 0x7fff & ~Flags.COMPRESSED;

/** Encodes a message as a protocol 502 frame (see `encodeMessage`). */
export function encode502(m: Message, maxMessageSize: number, compressAbove: number): Uint8Array[] {
  const plan = plan502(m, maxMessageSize, compressAbove);
  const payload = plan.payload;
  const inline = payload.length < COPY_THRESHOLD;
  const headLength = HEADER_SIZE_502 + plan.annotationsLength;
  const out = Buffer.allocUnsafe(inline ? headLength + payload.length : headLength);
  writeHead502(m, plan, out, 0);
  const chunks: Uint8Array[] = [out];
  if (inline) out.set(payload, headLength);
  else chunks.push(payload);
  const tail = plan.tail;
  if (tail !== undefined) for (let i = 0; i < tail.length; i++) chunks.push(tail[i] as Uint8Array);
  releasePlan(plan);
  return chunks;
}

/**
 * Encodes a message as a protocol 502 frame straight into `out` at `offset` when the whole frame
 * fits in `room` bytes and is small enough to be copied (a payload under 16 KiB, no tail):
 * returns its length. Returns -1 and writes nothing otherwise (use `encode502`). Throws as
 * `encode502` does.
 */
export function encode502Into(
  m: Message,
  maxMessageSize: number,
  compressAbove: number,
  out: Uint8Array,
  offset: number,
  room: number,
): number {
  const tail = m.payloadTail;
  if (tail !== undefined && tail.length > 0) return -1;
  const frame = m.frame;
  if (frame !== undefined && madeFor(frame, m, compressAbove)) {
    // made once: copied, with this message's seq and correlation id
    const bytes = frame.bytes;
    if (frame.bodySize > maxMessageSize) throw new MessageTooLargeError(frame.bodySize, maxMessageSize);
    if (bytes.length > room) return -1;
    out.set(bytes, offset);
    putU16(out, offset + 10, m.seq);
    out.set(m.correlationId as Uint8Array, offset + 20);
    return bytes.length;
  }
  const plan = plan502(m, maxMessageSize, compressAbove);
  const payload = plan.payload;
  const length = HEADER_SIZE_502 + plan.annotationsLength + payload.length;
  if (payload.length >= COPY_THRESHOLD || length > room) {
    releasePlan(plan);
    return -1;
  }
  writeHead502(m, plan, out, offset);
  const at = offset + length - payload.length;
  if (payload.length <= SMALL_COPY) {
    // a reply's `None`, a short call: a byte loop beats TypedArray#set's call (6 vs 45 ns)
    for (let i = 0; i < payload.length; i++) out[at + i] = payload[i]!;
  } else {
    out.set(payload, at);
  }
  releasePlan(plan);
  return length;
}

/**
 * Encodes `m` once as a protocol 502 frame for messages that differ from it only in `seq` and
 * `correlationId` (see `Message.frame`). `m` needs a correlation id; it is not compressed (a
 * connection that would compress the payload encodes such a message as usual). Throws as
 * `encode502` does.
 */
export function encodeFrame502(m: Message): EncodedFrame {
  if (m.correlationId === null) throw new ProtocolError('a frame made once needs a correlation id');
  if (m.payloadTail !== undefined && m.payloadTail.length > 0)
    throw new ProtocolError('a frame made once has its whole payload in payload');
  const chunks = encode502(m, MAX_LENGTH_502, 0);
  const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
  return { source: m, bytes, bodySize: bytes.length - HEADER_SIZE_502 };
}

/**
 * Whether `frame` is `m`'s but for seq and correlation id, with valid ones, small enough to be
 * copied, and not a payload this connection would compress.
 */
function madeFor(frame: EncodedFrame, m: Message, compressAbove: number): boolean {
  const source = frame.source;
  const seq = m.seq;
  const corr = m.correlationId;
  return (
    m.payload === source.payload &&
    m.annotations === source.annotations &&
    m.type === source.type &&
    m.flags === source.flags &&
    m.serializerId === source.serializerId &&
    corr instanceof Uint8Array &&
    corr.length === 16 &&
    seq >= 0 &&
    seq <= 0xffff &&
    (seq | 0) === seq &&
    m.payload.length < COPY_THRESHOLD &&
    !(compressAbove > 0 && m.payload.length > compressAbove)
  );
}

interface Plan502 {
  flags: number;
  payload: Uint8Array;
  tail: readonly Uint8Array[] | undefined;
  dataLength: number;
  annotationsLength: number;
}

/**
 * The one plan: encoding is synchronous and never re-entered, and a plan is used only until the
 * frame is written, so every message reuses it (an object per message is garbage otherwise).
 */
const NO_PAYLOAD = new Uint8Array(0);
const PLAN: Plan502 = { flags: 0, payload: NO_PAYLOAD, tail: undefined, dataLength: 0, annotationsLength: 0 };

/** Lets go of the payload the plan held (it may be large). */
function releasePlan(plan: Plan502): void {
  plan.payload = NO_PAYLOAD;
  plan.tail = undefined;
}

/** Checks a message for protocol 502 and works out its wire flags, payload and lengths (in PLAN). */
function plan502(m: Message, maxMessageSize: number, compressAbove: number): Plan502 {
  checkMessageFields(m);
  const serializer = m.serializerId;
  if (!(serializer >= 0 && serializer <= 0xff && (serializer | 0) === serializer)) {
    throw new ProtocolError(`serializer id ${serializer} does not fit protocol 502 (u8)`);
  }
  let flags = m.flags;
  if (flags & Flags.META_ON_CONNECT)
    throw new ProtocolError('META_ON_CONNECT is a Pyro4 flag; protocol 502 has no such flag');
  flags &= ~(Flags.COMPRESSED | Flags.CORR_ID);
  if (m.correlationId !== null) flags |= Flags.CORR_ID;

  let payload = m.payload;
  let tail = m.payloadTail;
  let tailLength = 0;
  if (tail !== undefined && tail.length > 0) {
    if (compressAbove > 0) {
      payload = wholePayload(m);
      tail = undefined;
    } else {
      for (let i = 0; i < tail.length; i++) tailLength += (tail[i] as Uint8Array).length;
    }
  } else {
    tail = undefined;
  }
  if (compressAbove > 0 && payload.length > compressAbove) {
    payload = deflatePayload(payload, PYRO5_COMPRESSION_LEVEL);
    flags |= Flags.COMPRESSED;
  }
  const dataLength = payload.length + tailLength;

  const annotations = m.annotations;
  let annotationsLength = 0;
  if (annotations !== null) {
    for (const [id, value] of annotations) {
      checkAnnotationId(id);
      checkAnnotationValue(id, value);
      annotationsLength += CHUNK_HEADER + value.length;
    }
  }
  const bodySize = annotationsLength + dataLength;
  if (bodySize > maxMessageSize) throw new MessageTooLargeError(bodySize, maxMessageSize);
  if (dataLength > MAX_LENGTH_502) throw new MessageTooLargeError(dataLength, MAX_LENGTH_502);
  if (annotationsLength > MAX_LENGTH_502) throw new MessageTooLargeError(annotationsLength, MAX_LENGTH_502);
  const plan = PLAN;
  plan.flags = flags;
  plan.payload = payload;
  plan.tail = tail;
  plan.dataLength = dataLength;
  plan.annotationsLength = annotationsLength;
  return plan;
}

/** Writes the header and annotations of a planned message at `out[off]`. */
function writeHead502(m: Message, plan: Plan502, out: Uint8Array, off: number): void {
  putU32(out, off, TAG);
  putU16(out, off + 4, 502);
  out[off + 6] = m.type;
  out[off + 7] = m.serializerId;
  putU16(out, off + 8, plan.flags);
  putU16(out, off + 10, m.seq);
  putU32(out, off + 12, plan.dataLength);
  putU32(out, off + 16, plan.annotationsLength);
  const corr = m.correlationId;
  if (corr !== null) out.set(corr, off + 20);
  else for (let i = off + 20; i < off + 36; i++) out[i] = 0;
  putU16(out, off + 36, 0);
  putU16(out, off + 38, MAGIC);
  const annotations = m.annotations;
  if (annotations !== null) {
    let p = off + HEADER_SIZE_502;
    for (const [id, value] of annotations) {
      writeAnnotationId(out, p, id);
      putU32(out, p + 4, value.length);
      out.set(value, p + CHUNK_HEADER);
      p += CHUNK_HEADER + value.length;
    }
  }
}

/**
 * Decodes the annotations and payload of a 502 frame starting at `off`, whose header `h` has
 * been parsed and whose bytes are all present. Annotation values, the correlation id and an
 * uncompressed payload are views into `buf`.
 */
export function decodeBody502(buf: Buffer, off: number, h: FrameHeader, maxInflated: number): Message {
  const annotationsStart = off + HEADER_SIZE_502;
  const annotationsEnd = annotationsStart + h.annotationsLength;
  let annotations: Annotations | null = null;
  let p = annotationsStart;
  while (p < annotationsEnd) {
    const left = annotationsEnd - p;
    if (left < CHUNK_HEADER) throw chunkHeaderTruncated(left, CHUNK_HEADER);
    const id = readAnnotationId(buf, p);
    const length = u32(buf, p + 4);
    p += CHUNK_HEADER;
    if (length > annotationsEnd - p) throw chunkOverrun(id, length, annotationsEnd - p);
    if (annotations === null) annotations = new Map();
    annotations.set(id, view(buf, p, p + length));
    p += length;
  }
  const wireFlags = h.wireFlags;
  let payload: Uint8Array = view(buf, annotationsEnd, annotationsEnd + h.dataLength);
  if (wireFlags & Flags.COMPRESSED) payload = inflatePayload(payload, maxInflated);
  return {
    type: h.type,
    flags: wireFlags & RECEIVED_FLAGS_MASK,
    seq: h.seq,
    serializerId: h.wireSerializer,
    correlationId: wireFlags & Flags.CORR_ID ? view(buf, off + 20, off + 36) : null,
    annotations,
    payload,
  };
}
