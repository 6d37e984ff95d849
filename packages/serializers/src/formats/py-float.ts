// Python's float repr and the int/float decision shared by the encoders. Python and JavaScript agree
// on the shortest round-trip digits of a double but not on when to switch to exponent notation.
import { SerializeError } from '@cinder/core';

/**
 * Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the decimal
 * exponent is in [-4, 16), otherwise `d.ddde±XX` (at least two exponent digits). Integral values get
 * `.0` in fixed notation. Returns `nan`, `inf`, `-inf` for the non-finite values (each format writes
 * those its own way).
 */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return 'inf';
  if (n === Number.NEGATIVE_INFINITY) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const abs = n < 0 ? -n : n;
  if (abs >= 1e-4 && abs < 1e16) {
    // JavaScript prints fixed notation for 1e-6 ≤ |n| < 1e21, a superset of Python's range.
    const s = String(n);
    return s.includes('.') ? s : `${s}.0`;
  }
  // toExponential() without an argument gives the shortest round-trip digits, e.g. "1.5e+16", "5e-324".
  const s = n.toExponential();
  const e = s.indexOf('e');
  const sign = s.charCodeAt(e + 1) === 45 ? '-' : '+';
  const digits = s.slice(e + 2);
  return `${s.slice(0, e)}e${sign}${digits.length === 1 ? `0${digits}` : digits}`;
}

/**
 * Whether a number is written as a Python int: integral, not -0, and within ±(2^53−1). A double
 * beyond that range cannot have come from a decoded int (those decode to bigint), so it is written
 * as a float and round-trips as one.
 */
export function isPyInt(n: number): boolean {
  return Number.isSafeInteger(n) && !Object.is(n, -0);
}

/** Python's `repr(int)` for a bigint, refusing what Python's int/str conversion limit refuses. */
export function bigintDigits(n: bigint, maxDigits: number, format: string): string {
  const s = n.toString();
  const count = n < 0n ? s.length - 1 : s.length;
  if (count > maxDigits) {
    throw new SerializeError(`${format}: int with ${count} digits exceeds Python's limit of ${maxDigits}`);
  }
  return s;
}

const PY_FLOAT_WORD = /^\s*([+-]?)(nan|inf|infinity)\s*$/i;
const PY_FLOAT_NUMBER =
  /^\s*[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?\s*$/;

/** Python's `float(str)` for decimal and nan/inf spellings; undefined if Python would refuse the text. */
export function pyFloatFromString(s: string): number | undefined {
  const w = PY_FLOAT_WORD.exec(s);
  if (w !== null) {
    if (w[2]!.toLowerCase() === 'nan') return Number.NaN;
    return w[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (PY_FLOAT_NUMBER.test(s)) return Number(s.replaceAll('_', '').trim());
  return undefined;
}
