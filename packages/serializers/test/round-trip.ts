// What decode(encode(v)) gives, from a description of a format's losses: one function for the
// serializer compliance suite (cbor, json, msgpack, serpent, marshal) and the format codec tests.
import { setOwn } from '../src/formats/options.js';
import { isPyInt, pyFloatRepr } from '../src/formats/py-float.js';
import { Complex, Tuple } from '../src/pyvalues.js';

/** What a format loses or changes on a round trip. */
export interface RoundTripTraits {
  /** Tuples come back as tuples (else as lists). */
  tuples: boolean;
  /** Sets come back as sets (else as lists). */
  sets: boolean;
  /** serpent writes an empty set as `()` (Python's literal_eval has no empty-set literal). */
  emptySetIsTuple: boolean;
  /** Maps with all-string keys come back as plain objects; json also turns other keys into strings. */
  jsonKeys: boolean;
  /** Dates travel natively (else as ISO text). */
  dates: boolean;
  /** Bytes come back as the base64 dict Pyro writes for them (the bare json and serpent codecs). */
  bytesAsDict?: boolean;
}

/** Python's json key for a dict key: json.dumps turns ints, floats, bools and None into text. */
function jsonKey(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number') {
    if (isPyInt(k)) return String(k);
    if (Number.isNaN(k)) return 'NaN';
    if (k === Number.POSITIVE_INFINITY) return 'Infinity';
    if (k === Number.NEGATIVE_INFINITY) return '-Infinity';
    return pyFloatRepr(k);
  }
  if (typeof k === 'bigint') return k.toString();
  if (typeof k === 'boolean') return k ? 'true' : 'false';
  if (k === null || k === undefined) return 'null';
  throw new Error('not a json key');
}

/** What decode(encode(v)) should give in a format with these traits. */
export function expectedAfterRoundTrip(t: RoundTripTraits, v: unknown): unknown {
  const n = (x: unknown) => expectedAfterRoundTrip(t, x);
  switch (typeof v) {
    case 'undefined':
      return null;
    case 'bigint':
      return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
    case 'object': {
      if (v === null) return null;
      if (v instanceof Uint8Array) {
        return t.bytesAsDict
          ? { data: Buffer.from(v).toString('base64'), encoding: 'base64' }
          : new Uint8Array(v);
      }
      if (v instanceof Date) return t.dates ? v : v.toISOString();
      if (v instanceof Complex) return v;
      if (v instanceof Tuple) return t.tuples ? Tuple.fromArray([...v].map(n)) : [...v].map(n);
      if (Array.isArray(v)) return v.map(n);
      if (v instanceof Set) {
        if (!t.sets) return [...v].map(n);
        if (v.size === 0 && t.emptySetIsTuple) return new Tuple();
        return new Set([...v].map(n));
      }
      if (v instanceof Map) {
        const entries = [...v].map(([k, x]) => [t.jsonKeys ? jsonKey(k) : n(k), n(x)] as const);
        if (entries.every(([k]) => typeof k === 'string')) {
          const out: Record<string, unknown> = {};
          for (const [k, x] of entries) setOwn(out, k as string, x);
          return out;
        }
        return new Map(entries);
      }
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) setOwn(out, k, n(o[k]));
      return out;
    }
    default:
      return v;
  }
}
