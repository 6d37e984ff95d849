// Fuzzing: 100,000+ random and mutated frames (bit flips, truncation, length field edits, random
// bytes, splices of real vector frames) through decodeMessage and FrameReader. Only typed errors
// may come out, nothing may wait forever, and no buffer larger than the limit may be allocated.
import { ProtocolError, SecurityError } from '@cinder/core';
import { frameBytes } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, FrameReader, type Message, MsgType } from '../src/index.js';
import { frameLines, prng } from './helpers.js';

const MAX = 64 * 1024;
const ITERATIONS = 100_000;
const KEY = Buffer.from('secret');

/**
 * Largest Buffer.allocUnsafe request made by the codec while fuzzing (its only frame-sized
 * allocation; inflating is bounded separately and checked through the payload sizes).
 */
let largestAllocation = 0;
let inCodec = false;
const originalAllocUnsafe = Buffer.allocUnsafe;
const originalStackTraceLimit = Error.stackTraceLimit;

beforeAll(() => {
  // Capturing a stack trace costs more than decoding a frame; the fuzz checks error types only.
  Error.stackTraceLimit = 0;
  Buffer.allocUnsafe = ((size: number) => {
    if (inCodec && size > largestAllocation) largestAllocation = size;
    return originalAllocUnsafe(size);
  }) as typeof Buffer.allocUnsafe;
});
afterAll(() => {
  Buffer.allocUnsafe = originalAllocUnsafe;
  Error.stackTraceLimit = originalStackTraceLimit;
});

function corpus(): Buffer[] {
  const frames = frameLines().map(frameBytes);
  // Add compressed, annotated and correlated frames of both versions, so mutations reach inflate,
  // the CORR/HMAC handling and long annotation areas.
  const base: Message = {
    type: MsgType.RESULT,
    flags: 0,
    seq: 9,
    serializerId: 3,
    correlationId: Buffer.alloc(16, 3),
    annotations: new Map([
      ['XRSP', Buffer.from('response annotation')],
      ['STRM', Buffer.from('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0')],
    ]),
    payload: Buffer.from(JSON.stringify({ values: Array.from({ length: 200 }, (_, i) => i) })),
  };
  // Frames over the limit, plain and as a small compressed frame that inflates past it, so the
  // limit checks are what stands between the fuzz and a large allocation.
  const big = Buffer.alloc(MAX + 1000, 0x20);
  for (const version of [502, 48] as const) {
    frames.push(Buffer.concat(encodeMessage(base, { version, compressAbove: 100 })));
    frames.push(Buffer.concat(encodeMessage(base, { version, compressAbove: 100, hmacKey: KEY })));
    frames.push(Buffer.concat(encodeMessage({ ...base, payload: big }, { version })));
    frames.push(Buffer.concat(encodeMessage({ ...base, payload: big }, { version, compressAbove: 100 })));
  }
  return frames;
}

type Mutator = (frame: Buffer, random: () => number) => Buffer;

const int = (random: () => number, n: number) => Math.floor(random() * n);

const LENGTH_VALUES = [
  0,
  1,
  2,
  5,
  6,
  7,
  8,
  15,
  16,
  0x7fff,
  0xffff,
  0x10000,
  MAX - 1,
  MAX,
  MAX + 1,
  0x7fffffff,
  0xffffffff,
];

const mutators: Mutator[] = [
  // bit flips
  (f, r) => {
    const out = Buffer.from(f);
    for (let i = 1 + int(r, 8); i > 0; i--) {
      const at = int(r, out.length);
      out[at]! ^= 1 << int(r, 8);
    }
    return out;
  },
  // truncation
  (f, r) => Buffer.from(f.subarray(0, int(r, f.length))),
  // header length fields (502: data u32 @12, annotations u32 @16; 48: data u32 @12, annotations u16 @18)
  (f, r) => {
    const out = Buffer.from(f);
    if (out.length < 24) return out;
    const value = LENGTH_VALUES[int(r, LENGTH_VALUES.length)]!;
    const is502 = out.readUInt16BE(4) === 502;
    if (is502 && out.length >= 40) out.writeUInt32BE(value >>> 0, r() < 0.5 ? 12 : 16);
    else if (r() < 0.5) out.writeUInt32BE(value >>> 0, 12);
    else out.writeUInt16BE(value & 0xffff, 18);
    if (!is502 && r() < 0.8) fixChecksum(out);
    return out;
  },
  // annotation chunk lengths inside the body
  (f, r) => {
    const out = Buffer.from(f);
    const is502 = out.readUInt16BE(4) === 502;
    const start = is502 ? 40 : 24;
    if (out.length < start + 8) return out;
    if (is502) out.writeUInt32BE(LENGTH_VALUES[int(r, LENGTH_VALUES.length)]! >>> 0, start + 4);
    else out.writeUInt16BE(LENGTH_VALUES[int(r, LENGTH_VALUES.length)]! & 0xffff, start + 4);
    return out;
  },
  // random bytes overwritten anywhere, checksum kept valid half the time
  (f, r) => {
    const out = Buffer.from(f);
    for (let i = 1 + int(r, 16); i > 0; i--) out[int(r, out.length)] = int(r, 256);
    if (out.length >= 24 && out.readUInt16BE(4) === 48 && r() < 0.5) fixChecksum(out);
    return out;
  },
  // a valid prefix followed by garbage
  (f, r) => {
    const out = Buffer.alloc(6 + int(r, 300));
    f.copy(out, 0, 0, 6);
    for (let i = 6; i < out.length; i++) out[i] = int(r, 256);
    return out;
  },
  // pure noise
  (_f, r) => Buffer.from(Array.from({ length: int(r, 80) }, () => int(r, 256))),
  // bytes inserted or deleted in the middle
  (f, r) => {
    const at = int(r, f.length);
    return r() < 0.5
      ? Buffer.concat([f.subarray(0, at), Buffer.from([int(r, 256)]), f.subarray(at)])
      : Buffer.concat([f.subarray(0, at), f.subarray(at + 1)]);
  },
];

function fixChecksum(out: Buffer): void {
  const sum =
    out.readUInt16BE(6) +
    48 +
    out.readUInt32BE(12) +
    out.readUInt16BE(18) +
    out.readUInt16BE(16) +
    out.readUInt16BE(8) +
    out.readUInt16BE(10) +
    0x34e9;
  out.writeUInt16BE(sum & 0xffff, 22);
}

function typed(err: unknown): boolean {
  return err instanceof ProtocolError || err instanceof SecurityError;
}

describe('fuzz', () => {
  it(`${ITERATIONS} mutated frames through decodeMessage and FrameReader`, () => {
    const frames = corpus();
    const random = prng(0xc0ffee);
    const outcomes = { decoded: 0, rejected: 0, waiting: 0 };
    let reader = new FrameReader({ maxMessageSize: MAX, versions: [502, 48] });
    // Plain checks in the loop: expect() per iteration would dominate the run time.
    const failures: string[] = [];
    const checkPayload = (m: Message) => {
      if (m.payload.length > MAX) failures.push(`payload of ${m.payload.length} bytes`);
    };
    let rejectedByReader = 0;
    largestAllocation = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const source = frames[int(random, frames.length)]!;
      const mutated = mutators[int(random, mutators.length)]!(source, random);
      const hmacKey = random() < 0.3 ? KEY : undefined;
      inCodec = true;
      try {
        checkPayload(decodeMessage(mutated, { maxMessageSize: MAX, hmacKey }));
        outcomes.decoded++;
      } catch (err) {
        if (!typed(err)) failures.push(`decodeMessage: ${String(err)}`);
        outcomes.rejected++;
      }
      // The stream reader gets the same bytes, in two pieces, after the frames before it.
      const cut = int(random, mutated.length + 1);
      try {
        reader.push(mutated.subarray(0, cut), checkPayload);
        reader.push(mutated.subarray(cut), checkPayload);
        // An incomplete frame only waits; it never holds more than the stream delivered.
        if (reader.buffered > mutated.length + MAX + 64) failures.push(`buffered ${reader.buffered}`);
        if (reader.buffered > 0) {
          outcomes.waiting++;
          reader = new FrameReader({ maxMessageSize: MAX, versions: [502, 48], hmacKey });
        }
      } catch (err) {
        if (!typed(err)) failures.push(`FrameReader: ${String(err)}`);
        // Poisoned: the same error again, whatever comes next (checked on a sample, it is slow).
        if (rejectedByReader++ % 64 === 0) {
          if (reader.error !== err) failures.push('error getter differs');
          try {
            reader.push(frames[0]!, checkPayload);
            failures.push('poisoned reader accepted more bytes');
          } catch (again) {
            if (again !== err) failures.push('poisoned reader threw a different error');
          }
        }
        reader = new FrameReader({ maxMessageSize: MAX, versions: [502, 48], hmacKey });
      }
      inCodec = false;
      if (failures.length > 0) break;
    }
    expect(failures).toEqual([]);
    expect(outcomes.decoded + outcomes.rejected).toBe(ITERATIONS);
    expect(outcomes.waiting).toBeGreaterThan(0);
    // The mutations must exercise both sides: plenty of rejections, and frames that still decode.
    expect(outcomes.rejected).toBeGreaterThan(ITERATIONS / 4);
    expect(outcomes.decoded).toBeGreaterThan(ITERATIONS / 20);
    expect(largestAllocation).toBeLessThanOrEqual(MAX + 40);
  });
});
