// Header parsing for both protocols. Everything here reads fixed offsets of a Buffer and fills a
// caller-owned FrameHeader, so a frame reader parses headers without allocating. The error texts
// are Pyro's own where Pyro has one (as captured in the wire vectors).
import { MessageTooLargeError, ProtocolError } from '@cinder/core';
import { u16, u32 } from './bytes.js';
import {
  HEADER_SIZE_48,
  HEADER_SIZE_502,
  MAGIC,
  MAX_DATA_LENGTH_48,
  PREFIX_SIZE,
  PYRO4_CHECKSUM_MAGIC,
  TAG,
} from './constants.js';
import type { ProtocolVersion } from './message.js';

/** The fields of a header as they are on the wire (flags and serializer id untranslated). */
export interface FrameHeader {
  version: ProtocolVersion;
  /** Header size: 40 or 24. */
  size: number;
  type: number;
  wireFlags: number;
  seq: number;
  wireSerializer: number;
  dataLength: number;
  annotationsLength: number;
}

export function newFrameHeader(): FrameHeader {
  return {
    version: 502,
    size: HEADER_SIZE_502,
    type: 0,
    wireFlags: 0,
    seq: 0,
    wireSerializer: 0,
    dataLength: 0,
    annotationsLength: 0,
  };
}

const PYRO4_BAD_PREFIX = 'invalid data or unsupported protocol version';

/**
 * Checks `PYRO` + version at `off` (6 bytes must be there) and returns the version. Texts follow
 * Pyro5 when protocol 502 is accepted, Pyro4 otherwise, because that is the peer we expect.
 */
export function checkPrefix(
  buf: Buffer,
  off: number,
  accept502: boolean,
  accept48: boolean,
): ProtocolVersion {
  if (u32(buf, off) !== TAG) throw new ProtocolError(accept502 ? 'invalid data' : PYRO4_BAD_PREFIX);
  const version = u16(buf, off + 4);
  if (version === 502 && accept502) return 502;
  if (version === 48 && accept48) return 48;
  throw new ProtocolError(accept502 ? `invalid protocol version: ${version}` : PYRO4_BAD_PREFIX);
}

/** Header size of a protocol version. */
export function headerSize(version: ProtocolVersion): number {
  return version === 502 ? HEADER_SIZE_502 : HEADER_SIZE_48;
}

/**
 * Parses and validates the rest of a header whose prefix `checkPrefix` accepted as `version`.
 * The size limit is enforced here, before anything is read or allocated for the frame body.
 */
export function parseHeader(
  buf: Buffer,
  off: number,
  version: ProtocolVersion,
  maxMessageSize: number,
  h: FrameHeader,
): void {
  let type: number;
  if (version === 502) {
    if (u16(buf, off + 38) !== MAGIC) throw new ProtocolError('invalid message or protocol version');
    type = buf[off + 6]!;
    h.wireSerializer = buf[off + 7]!;
    h.wireFlags = u16(buf, off + 8);
    h.seq = u16(buf, off + 10);
    h.dataLength = u32(buf, off + 12);
    h.annotationsLength = u32(buf, off + 16);
    h.size = HEADER_SIZE_502;
  } else {
    type = u16(buf, off + 6);
    const flags = u16(buf, off + 8);
    const seq = u16(buf, off + 10);
    const dataLength = u32(buf, off + 12);
    const serializer = u16(buf, off + 16);
    const annotationsLength = u16(buf, off + 18);
    const checksum = u16(buf, off + 22);
    // Pyro4 sums the signed data length; it differs from the unsigned one by 2^32, which the
    // 16-bit mask removes, so the unsigned read gives the same checksum.
    if (checksum !== pyro4Checksum(type, flags, seq, dataLength, serializer, annotationsLength))
      throw new ProtocolError('header checksum mismatch');
    if (dataLength > MAX_DATA_LENGTH_48) throw new ProtocolError(`invalid data length ${dataLength | 0}`);
    h.wireSerializer = serializer;
    h.wireFlags = flags;
    h.seq = seq;
    h.dataLength = dataLength;
    h.annotationsLength = annotationsLength;
    h.size = HEADER_SIZE_48;
  }
  h.version = version;
  const bodySize = h.dataLength + h.annotationsLength;
  if (bodySize > maxMessageSize) throw new MessageTooLargeError(bodySize, maxMessageSize);
  if (type < 1 || type > 6) throw new ProtocolError(`unknown message type ${type}`);
  h.type = type;
}

/** The Pyro4 header checksum. */
export function pyro4Checksum(
  type: number,
  flags: number,
  seq: number,
  dataLength: number,
  serializer: number,
  annotationsLength: number,
): number {
  return (
    (type + 48 + dataLength + annotationsLength + serializer + flags + seq + PYRO4_CHECKSUM_MAGIC) & 0xffff
  );
}

/** True if `bytes` start with `PYRO` and a protocol version Cinder speaks (502 or 48). */
export function isPyroFrameStart(bytes: Uint8Array): boolean {
  return frameVersion(bytes) !== undefined;
}

/** The protocol version a frame starting with `bytes` uses, or undefined if it is neither. */
export function frameVersion(bytes: Uint8Array): ProtocolVersion | undefined {
  if (bytes.length < PREFIX_SIZE) return undefined;
  if (bytes[0] !== 0x50 || bytes[1] !== 0x59 || bytes[2] !== 0x52 || bytes[3] !== 0x4f) return undefined;
  const version = (bytes[4]! << 8) | bytes[5]!;
  return version === 502 || version === 48 ? version : undefined;
}
