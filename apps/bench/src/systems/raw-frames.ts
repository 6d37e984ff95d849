// The raw baseline's wire format: a 5-byte header (u32 big-endian body length, u8 op) and the body.
// Deliberately the least an RPC can do, so the raw figures are a ceiling for Node on this machine.

import { BenchError } from '../errors.js';

export const HEADER_BYTES = 5;
/** Echo: the server sends the frame back unchanged. */
export const OP_ECHO = 0;
/** Sink: the server answers with a 4-byte body holding the received body length (the transfer). */
export const OP_SINK = 1;
/** Oneway: the server reads the frame and answers nothing. */
export const OP_ONEWAY = 2;
/** Larger than the biggest transfer (7,000,000 bytes); checked before anything is allocated. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function frameHeader(op: number, bodyLength: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(bodyLength, 0);
  header[4] = op;
  return header;
}

export function frame(op: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out[4] = op;
  out.set(body, HEADER_BYTES);
  return out;
}

/**
 * `whole` is the complete frame (header and body) when it arrived in one chunk, so an echo can be
 * written back without a copy; otherwise null.
 */
export type FrameHandler = (op: number, body: Buffer, whole: Buffer | null) => void;

/**
 * Splits a byte stream into frames. Bodies inside one chunk are views (no copy); a body spread over
 * chunks is copied once into a buffer of its exact size.
 */
export class FrameReader {
  readonly #onFrame: FrameHandler;
  readonly #maxBody: number;
  readonly #header = Buffer.allocUnsafe(HEADER_BYTES);
  #headerFill = 0;
  #op = 0;
  #body: Buffer | null = null;
  #bodyFill = 0;

  constructor(onFrame: FrameHandler, maxBody = MAX_BODY_BYTES) {
    this.#onFrame = onFrame;
    this.#maxBody = maxBody;
  }

  /** Feeds one chunk; throws a BenchError (code PROTOCOL) on an oversized frame or unknown op. */
  push(chunk: Buffer): void {
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      const body = this.#body;
      if (body !== null) {
        const n = Math.min(body.length - this.#bodyFill, end - off);
        chunk.copy(body, this.#bodyFill, off, off + n);
        this.#bodyFill += n;
        off += n;
        if (this.#bodyFill === body.length) {
          this.#body = null;
          this.#onFrame(this.#op, body, null);
        }
        continue;
      }
      if (this.#headerFill === 0 && end - off >= HEADER_BYTES) {
        const len = this.#check(chunk.readUInt32BE(off), chunk[off + 4]!);
        const bodyStart = off + HEADER_BYTES;
        if (end - bodyStart >= len) {
          off = bodyStart + len;
          this.#onFrame(
            this.#op,
            chunk.subarray(bodyStart, off),
            chunk.subarray(bodyStart - HEADER_BYTES, off),
          );
        } else {
          off = bodyStart;
          this.#startBody(len);
        }
        continue;
      }
      // A header split across chunks.
      const n = Math.min(HEADER_BYTES - this.#headerFill, end - off);
      chunk.copy(this.#header, this.#headerFill, off, off + n);
      this.#headerFill += n;
      off += n;
      if (this.#headerFill === HEADER_BYTES) {
        this.#headerFill = 0;
        this.#startBody(this.#check(this.#header.readUInt32BE(0), this.#header[4]!));
      }
    }
  }

  /** Whether the stream stopped in the middle of a frame. */
  get partial(): boolean {
    return this.#headerFill > 0 || this.#body !== null;
  }

  #check(len: number, op: number): number {
    if (len > this.#maxBody) {
      throw new BenchError('PROTOCOL', `frame body of ${len} bytes exceeds the limit of ${this.#maxBody}`);
    }
    if (op !== OP_ECHO && op !== OP_SINK && op !== OP_ONEWAY) {
      throw new BenchError('PROTOCOL', `unknown frame op ${op}`);
    }
    this.#op = op;
    return len;
  }

  #startBody(len: number): void {
    if (len === 0) {
      this.#onFrame(this.#op, Buffer.alloc(0), null);
      return;
    }
    this.#body = Buffer.allocUnsafe(len);
    this.#bodyFill = 0;
  }
}
