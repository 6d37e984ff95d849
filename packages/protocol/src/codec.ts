// One-shot encoding and decoding of whole frames, for either protocol version. The frame reader
// uses the same header and body functions for streams.
import { ConfigError, ProtocolError } from '@cinder/core';
import { DEFAULT_MAX_MESSAGE_SIZE, PREFIX_SIZE } from './constants.js';
import { checkPrefix, type FrameHeader, headerSize, newFrameHeader, parseHeader } from './header.js';
import type { Message, ProtocolVersion } from './message.js';
import { decodeBody48, encode48 } from './pyro4-codec.js';
import { decodeBody502, encode502, encode502Into } from './pyro5-codec.js';

export interface EncodeOptions {
  version: ProtocolVersion;
  /** Largest annotations + payload (after compression) allowed; default 1 GiB like Pyro. */
  maxMessageSize?: number | undefined;
  /** Protocol 48 only: sign the frame with an `HMAC` annotation. Ignored for 502. */
  hmacKey?: Uint8Array | undefined;
  /**
   * zlib-compress payloads longer than this many bytes (absent or 0: never). Pyro5 compresses
   * above 100 bytes at level 4; Pyro4 from 200 bytes (i.e. above 199) at the default level, and
   * only keeps the result when it is smaller, which the 48 codec does too.
   */
  compressAbove?: number | undefined;
}

export interface DecodeOptions {
  /** Largest annotations + payload accepted, also after inflating; default 1 GiB like Pyro. */
  maxMessageSize?: number | undefined;
  /**
   * Largest payload a compressed frame may inflate to (the smaller of this and what maxMessageSize
   * leaves applies); inflating stops as soon as the output passes it. Default: no separate limit.
   */
  maxInflatedSize?: number | undefined;
  /** Versions accepted; default both. */
  versions?: readonly ProtocolVersion[] | undefined;
  /** Protocol 48 only: require and verify an `HMAC` annotation. Ignored for 502. */
  hmacKey?: Uint8Array | undefined;
}

/**
 * Encodes a message as one frame. Returns one chunk (header, annotations and payload copied
 * together) for payloads under 16 KiB, else `[header + annotations, payload]` so a large payload
 * is never copied; the caller must then not modify `message.payload` until it has been written.
 * Throws ProtocolError for fields the protocol cannot carry and MessageTooLargeError over the limit.
 */
export function encodeMessage(message: Message, options: EncodeOptions): Uint8Array[] {
  const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const compressAbove = options.compressAbove ?? 0;
  if (options.version === 502) return encode502(message, max, compressAbove);
  if (options.version === 48) return encode48(message, max, compressAbove, keyOrNull(options.hmacKey));
  throw new ConfigError(`unsupported protocol version ${String(options.version)}`);
}

/**
 * Encodes a small message straight into `out` at `offset`, using at most `room` bytes, and
 * returns the frame's length; returns -1, having written nothing, when the frame does not fit,
 * has a payload of 16 KiB or more or a payload tail, or uses protocol 48 (then use
 * `encodeMessage`). Throws as `encodeMessage` does. Saves the frame's own buffer and a copy when
 * the caller gathers frames in a write buffer anyway.
 */
export function encodeMessageInto(
  message: Message,
  options: EncodeOptions,
  out: Uint8Array,
  offset: number,
  room: number,
): number {
  if (options.version !== 502) return -1;
  return encode502Into(
    message,
    options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    options.compressAbove ?? 0,
    out,
    offset,
    room,
  );
}

/**
 * Decodes exactly one complete frame. Annotation values, the correlation id and an uncompressed
 * payload are views into `frame`. Throws ProtocolError (or MessageTooLargeError) for anything
 * malformed and SecurityError for a missing or wrong Pyro4 HMAC.
 */
export function decodeMessage(frame: Uint8Array, options: DecodeOptions = {}): Message {
  const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const versions = options.versions ?? BOTH;
  const buf = asBuffer(frame);
  if (buf.length < PREFIX_SIZE) throw incomplete(buf.length, PREFIX_SIZE);
  const version = checkPrefix(buf, 0, versions.includes(502), versions.includes(48));
  const size = headerSize(version);
  if (buf.length < size) throw incomplete(buf.length, size);
  const h = newFrameHeader();
  parseHeader(buf, 0, version, max, h);
  const total = frameSize(h);
  if (buf.length !== total) {
    throw new ProtocolError(`frame length mismatch: the header announces ${total} bytes, got ${buf.length}`);
  }
  return decodeBody(buf, 0, h, max, keyOrNull(options.hmacKey), options.maxInflatedSize ?? max);
}

const BOTH: readonly ProtocolVersion[] = [502, 48];

/** Total frame size announced by a parsed header. */
export function frameSize(h: FrameHeader): number {
  return h.size + h.annotationsLength + h.dataLength;
}

/** Decodes the body of a frame whose header `h` was parsed from `buf` at `off`. */
export function decodeBody(
  buf: Buffer,
  off: number,
  h: FrameHeader,
  maxMessageSize: number,
  hmacKey: Uint8Array | null,
  maxInflatedSize: number = maxMessageSize,
): Message {
  // A compressed payload may inflate to what the frame limit leaves after the annotations, and
  // never to more than the inflate limit.
  const maxInflated = Math.min(maxMessageSize - h.annotationsLength, maxInflatedSize);
  return h.version === 502
    ? decodeBody502(buf, off, h, maxInflated)
    : decodeBody48(buf, off, h, maxInflated, hmacKey);
}

/** A Buffer view of `bytes` (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An empty key means no key, as in Pyro4 (`bool(b"")` is false). */
export function keyOrNull(key: Uint8Array | undefined): Uint8Array | null {
  return key !== undefined && key.length > 0 ? key : null;
}

function incomplete(have: number, need: number): ProtocolError {
  return new ProtocolError(`incomplete frame: ${have} bytes, the header alone needs ${need}`);
}
