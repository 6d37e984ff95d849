// Big- and little-endian number reads for the binary decoders, without a DataView per message.
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function u16be(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

export function u32be(b: Uint8Array, p: number): number {
  return b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

export function i32be(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

export function u32le(b: Uint8Array, p: number): number {
  return b[p + 3]! * 0x100_0000 + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!);
}

export function f64be(b: Uint8Array, p: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) f64b[i] = b[p + 7 - i]!;
  } else {
    for (let i = 0; i < 8; i++) f64b[i] = b[p + i]!;
  }
  return f64[0]!;
}

export function f64le(b: Uint8Array, p: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) f64b[i] = b[p + i]!;
  } else {
    for (let i = 0; i < 8; i++) f64b[i] = b[p + 7 - i]!;
  }
  return f64[0]!;
}

export function f32be(b: Uint8Array, p: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 4; i++) f32b[i] = b[p + 3 - i]!;
  } else {
    for (let i = 0; i < 4; i++) f32b[i] = b[p + i]!;
  }
  return f32[0]!;
}

/** An unsigned 64-bit big-endian int: a number when ≤ 2^53−1, else a bigint. */
export function u64be(b: Uint8Array, p: number): number | bigint {
  const hi = u32be(b, p);
  const lo = u32be(b, p + 4);
  if (hi < 0x20_0000) return hi * 0x1_0000_0000 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A signed 64-bit big-endian int: a number when within ±(2^53−1), else a bigint. */
export function i64be(b: Uint8Array, p: number): number | bigint {
  const hi = i32be(b, p);
  const lo = u32be(b, p + 4);
  // Within ±(2^53−1) exactly when hi is in [-2^21, 2^21), except -2^53 itself (hi = -2^21, lo = 0).
  if (hi >= -0x20_0000 && hi < 0x20_0000 && !(hi === -0x20_0000 && lo === 0)) return hi * 0x1_0000_0000 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A signed 64-bit little-endian int as a bigint. */
export function i64le(b: Uint8Array, p: number): bigint {
  const hi = (b[p + 7]! << 24) | (b[p + 6]! << 16) | (b[p + 5]! << 8) | b[p + 4]!;
  return (BigInt(hi) << 32n) | BigInt(u32le(b, p));
}
