// msgpack specifics: byte-exact agreement with Python's msgpack as Pyro uses it (a differential
// test against /usr/bin/python3), Pyro's ext types, header sizes, and refusal of every other ext.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SerializeError } from '@cinder/core';
import { createPyRender } from '@cinder/test-utils';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Complex, createSerializers, Tuple } from '../src/index.js';
import { FORMATS } from './compliance.js';
import { plainData } from './plain-data.js';
import { expectedAfterRoundTrip } from './round-trip.js';

const { toRendering, fromRendering, canon } = createPyRender({ Tuple, Complex });
const s = createSerializers().byName('msgpack')!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));

const PYTHON = '/usr/bin/python3';
/** No lone surrogates: Python cannot encode them as UTF-8 (we write U+FFFD). */
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;
const helper = fileURLToPath(new URL('./py/msgpack_differential.py', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import msgpack'], { encoding: 'utf8' });
const havePython = probe.status === 0;

describe('msgpack layout', () => {
  it('writes the smallest int, str, bin, array and map headers, like Python', () => {
    const cases: [unknown, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [2 ** 32 - 1, 'ceffffffff'],
      [2 ** 32, 'cf0000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-128, 'd080'],
      [-129, 'd1ff7f'],
      [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'],
      [-(2 ** 31), 'd280000000'],
      [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
      [2n ** 63n, 'cf8000000000000000'],
      [2n ** 64n - 1n, 'cfffffffffffffffff'],
      [-(2n ** 63n), 'd38000000000000000'],
      [2n ** 64n, `c714 31 ${Buffer.from('18446744073709551616').toString('hex')}`],
      [1.5, 'cb3ff8000000000000'],
      [-0, 'cb8000000000000000'],
      [1e300, 'cb7e37e43c8800759c'],
      [null, 'c0'],
      [undefined, 'c0'],
      [true, 'c3'],
      [false, 'c2'],
      ['', 'a0'],
      ['a'.repeat(31), `bf${'61'.repeat(31)}`],
      ['a'.repeat(32), `d920${'61'.repeat(32)}`],
      ['é'.repeat(16), `d920${'c3a9'.repeat(16)}`],
      ['x'.repeat(256), `da0100${'78'.repeat(256)}`],
      [new Uint8Array([1, 2]), 'c4020102'],
      [new Uint8Array(256), `c50100${'00'.repeat(256)}`],
      [[], '90'],
      [Array(16).fill(0), `dc0010${'00'.repeat(16)}`],
      [{}, '80'],
      [new Complex(1, -2), 'd830 000000000000f03f 00000000000000c0'],
      [new Set([1, 2]), '920102'],
      [Tuple.of(1, 2), '920102'],
    ];
    for (const [value, expected] of cases)
      expect(hex(s.encode(value)), String(value)).toBe(expected.replace(/\s/g, ''));
  });

  it('reads every int and float encoding, and keeps ints beyond 2^53 exact', () => {
    expect(s.decode(bytes('d0df'))).toBe(-33);
    expect(s.decode(bytes('ca3fc00000'))).toBe(1.5);
    expect(s.decode(bytes('cf0020000000000000'))).toBe(2n ** 53n);
    expect(s.decode(bytes('cf001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(s.decode(bytes('d3ffe0000000000001'))).toBe(Number.MIN_SAFE_INTEGER);
    expect(s.decode(bytes('d3ffe0000000000000'))).toBe(-(2n ** 53n));
    expect(s.decode(bytes('d38000000000000000'))).toBe(-(2n ** 63n));
    expect(s.decode(bytes('d3ffffffffffffffff'))).toBe(-1);
  });

  it("decodes Pyro's ext types: complex, big int, datetime, date", () => {
    expect(s.decode(bytes('d830 000000000000f03f 00000000000000c0'))).toEqual(new Complex(1, -2));
    const digits = Buffer.from('-1180591620717411303424');
    expect(s.decode(bytes(`c7${digits.length.toString(16)} 31 ${digits.toString('hex')}`))).toBe(
      -(2n ** 70n),
    );
    // A small value sent as ext 0x31 is still an int of the model (a number).
    expect(s.decode(bytes(`d4 31 ${Buffer.from('7').toString('hex')}`))).toBe(7);
    const ts = Buffer.alloc(8);
    ts.writeDoubleLE(1_700_000_000.25);
    expect(s.decode(bytes(`d732${ts.toString('hex')}`))).toEqual(new Date(1_700_000_000_250));
    const ordinal = Buffer.alloc(8);
    ordinal.writeBigInt64LE(738_000n); // 2021-07-29, as Python's date.fromordinal(738000)
    expect(s.decode(bytes(`d733${ordinal.toString('hex')}`))).toEqual(new Date(Date.UTC(2021, 6, 29)));
    expect(s.decode(s.encode(new Date(1_700_000_000_250)))).toEqual(new Date(1_700_000_000_250));
  });

  it('refuses malformed Pyro exts and every other ext type (no msgpackr extensions)', () => {
    const packr = new Packr({ moreTypes: true, structuredClone: true });
    for (const value of [new Error('x'), /re/g, new Int16Array([1]), new Set([1]), new Date(0), 10n ** 30n]) {
      expect(() => s.decode(packr.pack(value))).toThrow(SerializeError);
    }
    expect(() => s.decode(bytes('d40100'))).toThrow(/invalid ext code for msgpack: 1/);
    expect(() => s.decode(bytes('d5300000'))).toThrow(/malformed ext/);
    expect(() => s.decode(bytes(`c703 31 ${Buffer.from('1x2').toString('hex')}`))).toThrow(/malformed ext/);
    expect(() => s.decode(bytes('d733 0000000000000000'))).toThrow(/malformed ext/);
    expect(() => s.decode(bytes('d732 000000000000f87f'))).toThrow(/malformed ext/);
    const tooMany = Buffer.from('9'.repeat(5000));
    expect(() => s.decode(Buffer.concat([bytes('c81388 31'), tooMany]))).toThrow(/malformed ext/);
  });

  it('refuses the never-used byte, invalid UTF-8, extra data and impossible lengths', () => {
    expect(() => s.decode(bytes('c1'))).toThrow(/invalid type byte 0xc1/);
    expect(() => s.decode(bytes('a2c328'))).toThrow(/invalid UTF-8/);
    expect(() => s.decode(bytes('d922' + 'ed'.repeat(34)))).toThrow(/invalid UTF-8/);
    expect(() => s.decode(bytes('0101'))).toThrow(/extra data/);
    expect(() => s.decode(bytes('ddffffffff'))).toThrow(/truncated/);
    expect(() => s.decode(bytes('dfffffffff'))).toThrow(/truncated/);
  });

  it('turns maps with non-string keys into Maps, keeping the order', () => {
    const got = s.decode(bytes('83a16101 02a162 c0c3')) as Map<unknown, unknown>;
    expect(got).toBeInstanceOf(Map);
    expect([...got]).toEqual([
      ['a', 1],
      [2, 'b'],
      [null, true],
    ]);
  });

  it('can return byte strings as views when asked (copyBuffers: false)', () => {
    const payload = s.encode([new Uint8Array([7, 8, 9])]);
    const copied = s.decode(payload) as Uint8Array[];
    const viewing = createSerializers({ copyBuffers: false }).byName('msgpack')!;
    const viewed = viewing.decode(payload) as Uint8Array[];
    expect(viewed[0]!.buffer).toBe(payload.buffer);
    expect(copied[0]!.buffer).not.toBe(payload.buffer);
    // A Buffer's own slice() makes a view: a copy must not go through it.
    const fromBuffer = s.decode(Buffer.from(payload)) as Uint8Array[];
    expect(fromBuffer[0]!.constructor).toBe(Uint8Array);
    expect(fromBuffer[0]!.buffer.byteLength).toBe(3);
  });

  it('agrees with msgpackr on plain data (fast-check)', () => {
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as never });
    const packr = new Packr({ useRecords: false });
    fc.assert(
      fc.property(plainData, (v) => {
        expect(canon(unpackr.unpack(s.encode(v)))).toBe(canon(v));
        expect(canon(s.decode(packr.pack(v)))).toBe(canon(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe.skipIf(!havePython)('msgpack against Python msgpack as Pyro uses it (differential)', () => {
  it('writes the bytes Python writes and Python reads back what was sent', () => {
    const key = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.string({ maxLength: 6 }).filter(wellFormed),
    );
    const str = fc.string({ unit: 'binary', maxLength: 40 }).filter(wellFormed);
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(
          fc.integer(),
          fc.maxSafeInteger(),
          fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
          fc.double(),
          str,
          fc.boolean(),
          fc.constant(null),
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.double(), fc.double()).map(([a, b]) => new Complex(a, b)),
        ),
        fc.array(tie('v'), { maxLength: 5 }),
        fc.array(tie('v'), { maxLength: 3 }).map((a) => Tuple.fromArray(a)),
        fc
          .uniqueArray(fc.tuple(key, tie('v')), { maxLength: 4, selector: ([k]) => canon(k) })
          .map((e) => new Map(e)),
        fc.dictionary(fc.string({ maxLength: 6 }).filter(wellFormed), tie('v'), { maxKeys: 4 }),
        // Python writes sets in hash order: only sets of one element have a fixed byte layout.
        fc.integer().map((i) => new Set([i])),
      ),
    })).v;
    const values = fc.sample(value, { numRuns: 300, seed: 42 });
    values.push(2n ** 70n, -(2n ** 70n), 'x'.repeat(70_000), new Uint8Array(70_000), Array(70_000).fill(1));
    const ours = values.map((v) => hex(s.encode(v)));
    const run = spawnSync(PYTHON, [helper], {
      input: JSON.stringify({ pack: values.map(toRendering), unpack: ours }),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { packed: string[]; unpacked: unknown[] };
    for (let i = 0; i < values.length; i++) {
      expect(ours[i], `value ${i}: ${canon(values[i]).slice(0, 200)}`).toBe(result.packed[i]);
      const back = fromRendering(result.unpacked[i]);
      expect(canon(back), `value ${i}`).toBe(canon(expectedAfterRoundTrip(FORMATS.msgpack!, values[i])));
    }
  });
});
