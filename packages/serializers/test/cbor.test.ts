// cbor specifics: RFC 8949's examples, agreement with cbor-x on standard data (both directions), and
// refusal of every tag outside the documented safe set, which cbor-x would turn into objects.
import { SerializeError } from '@cinder/core';
import { createPyRender } from '@cinder/test-utils';
import { Decoder, Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Complex, createSerializers, TAG_COMPLEX, Tuple } from '../src/index.js';
import { plainData } from './plain-data.js';

const { canon } = createPyRender({ Tuple, Complex });

/** cbor-x reads every 8-byte int as a bigint; the value model has numbers up to 2^53−1. */
function modelInts(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
  if (Array.isArray(v)) return v.map(modelInts);
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, modelInts(x)]));
}
const s = createSerializers().byName('cbor')!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));

describe('cbor encoding (RFC 8949 Appendix A)', () => {
  it('writes the preferred encoding of ints, strings, bytes, arrays and maps', () => {
    const cases: [unknown, string][] = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [100, '1864'],
      [1000, '1903e8'],
      [1_000_000, '1a000f4240'],
      [1_000_000_000_000, '1b000000e8d4a51000'],
      [2n ** 64n - 1n, '1bffffffffffffffff'],
      [2n ** 64n, 'c249010000000000000000'],
      [-(2n ** 64n), '3bffffffffffffffff'],
      [-(2n ** 64n) - 1n, 'c349010000000000000000'],
      [-1, '20'],
      [-100, '3863'],
      [-1000, '3903e7'],
      [1.1, 'fb3ff199999999999a'],
      [1.5, 'fa3fc00000'],
      [-0, 'fa80000000'],
      [1e300, 'fb7e37e43c8800759c'],
      [Number.POSITIVE_INFINITY, 'fa7f800000'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      [undefined, 'f6'],
      [new Uint8Array([1, 2, 3, 4]), '4401020304'],
      ['', '60'],
      ['IETF', '6449455446'],
      ['"\\', '62225c'],
      ['ü', '62c3bc'],
      ['水', '63e6b0b4'],
      ['𐅑', '64f0908591'],
      ['a'.repeat(24), `7818${'61'.repeat(24)}`],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
      [
        new Map<unknown, unknown>([
          [1, 2],
          [3, 4],
        ]),
        'a201020304',
      ],
      [new Set([1]), 'd9010281 01'],
      [new Complex(1, 2), 'd9a7f8 82 fb3ff0000000000000 fb4000000000000000'],
      [new Date(1_363_896_240_000), 'c11a514b67b0'],
      [new Date(1_363_896_240_500), 'c1fb41d452d9ec200000'],
    ];
    for (const [value, expected] of cases)
      expect(hex(s.encode(value)), String(value)).toBe(expected.replace(/\s/g, ''));
    expect(TAG_COMPLEX).toBe(43000);
  });

  it('reads every float width, the date tags and RFC examples it does not write itself', () => {
    expect(s.decode(bytes('f93e00'))).toBe(1.5);
    expect(s.decode(bytes('f90001'))).toBe(2 ** -24);
    expect(s.decode(bytes('f97c00'))).toBe(Number.POSITIVE_INFINITY);
    expect(s.decode(bytes('f9fc00'))).toBe(Number.NEGATIVE_INFINITY);
    expect(s.decode(bytes('f97e00'))).toBeNaN();
    expect(s.decode(bytes('f9c400'))).toBe(-4);
    expect(s.decode(bytes('fa47c35000'))).toBe(100_000);
    expect(s.decode(bytes('f7'))).toBe(null);
    expect(s.decode(bytes('c074323031332d30332d32315432303a30343a30305a'))).toEqual(
      new Date('2013-03-21T20:04:00Z'),
    );
    expect(s.decode(bytes('c1fb41d452d9ec200000'))).toEqual(new Date(1_363_896_240_500));
    expect(s.decode(bytes('d9d9f7 83010203'))).toEqual([1, 2, 3]);
    expect(s.decode(bytes('d8404401020304'))).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(s.decode(bytes('d90103 a10102'))).toEqual(new Map([[1, 2]]));
    expect(s.decode(bytes('c240'))).toBe(0);
    expect(s.decode(bytes('c34100'))).toBe(-1);
    expect(s.decode(bytes('1b0020000000000000'))).toBe(2n ** 53n);
    expect(s.decode(bytes('1b001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses indefinite lengths, unknown tags and simple values, and malformed tag contents', () => {
    const bad: [string, RegExp][] = [
      ['9f018202039f0405ffff', /indefinite/],
      ['5f42010243030405ff', /indefinite/],
      ['bf61610161629f0203ffff', /indefinite/],
      ['d74401020304', /unsupported tag 23/],
      ['d82076687474703a2f2f7777772e6578616d706c652e636f6d', /unsupported tag 32/],
      ['f0', /unsupported simple value/],
      ['f818', /unsupported simple value/],
      ['ff', /unsupported simple value/],
      ['1c', /malformed head/],
      ['c06161', /tag 0/],
      ['c16161', /tag 1/],
      ['c1fb7ff0000000000000', /tag 1/],
      ['c2 01', /bignum/],
      ['d90102 01', /tag 258/],
      ['d9a7f8 8101', /tag 43000/],
      ['d84001', /tag 64/],
      ['d9010301', /tag 259/],
      ['6261', /truncated/],
      ['62c328', /invalid UTF-8/],
      ['9bffffffffffffffff', /truncated/],
      ['0000', /extra data/],
    ];
    for (const [h, message] of bad) expect(() => s.decode(bytes(h)), h).toThrow(message);
  });

  it('refuses what cbor-x builds classes from: errors, regexps, typed arrays, records, shared references', () => {
    const payloads = [
      new Encoder({ useRecords: false }).encode(new Error('boom')),
      new Encoder({ useRecords: false }).encode(/evil(.*)+$/),
      new Encoder({ useRecords: false }).encode(new Float64Array([1.5])),
      new Encoder({ useRecords: false }).encode(new Int32Array([1])),
      new Encoder({ useRecords: true }).encode({ a: 1 }),
      new Encoder({ useRecords: false, structuredClone: true }).encode(
        (() => {
          const o: Record<string, unknown> = {};
          o.self = o;
          return o;
        })(),
      ),
      new Encoder({ useRecords: false, pack: true }).encode(['repeated', 'repeated', 'repeated']),
    ];
    for (const payload of payloads) expect(() => s.decode(payload), hex(payload)).toThrow(SerializeError);
  });
});

describe('cbor agrees with cbor-x on standard data', () => {
  it('cbor-x reads what we write (fast-check)', () => {
    const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
    fc.assert(
      fc.property(plainData, (v) => {
        expect(canon(modelInts(decoder.decode(s.encode(v))))).toBe(canon(v));
      }),
      { numRuns: 300 },
    );
  });

  it('we read what cbor-x writes (fast-check)', () => {
    const encoder = new Encoder({ useRecords: false });
    fc.assert(
      fc.property(plainData, (v) => {
        expect(canon(s.decode(encoder.encode(v)))).toBe(canon(v));
      }),
      { numRuns: 300 },
    );
  });

  it('shares the meaning of sets, dates, bignums and maps with cbor-x', () => {
    const encoder = new Encoder({ useRecords: false });
    const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });
    const values: unknown[] = [new Set([1, 'a']), new Date(1_700_000_000_123), 2n ** 64n - 1n, -(2n ** 63n)];
    for (const v of values) {
      expect(canon(s.decode(encoder.encode(v)))).toBe(canon(v));
      expect(canon(decoder.decode(s.encode(v)))).toBe(canon(v));
    }
    const map = new Map<unknown, unknown>([
      [1, 'one'],
      ['two', 2],
    ]);
    expect(canon(decoder.decode(s.encode(map)))).toBe(canon(map));
    expect(canon(s.decode(encoder.encode(map)))).toBe(canon(map));
  });
});
