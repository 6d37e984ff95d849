// Unit tests of the marshal codec: bytes CPython 3.11 writes (captured with /usr/bin/python3), every
// type code the reader knows, malformed input, limits and safety.
import { SerializeError } from '@cinder/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMarshal, encodeMarshal } from '../../src/formats/marshal.js';
import { Complex, Tuple } from '../../src/pyvalues.js';
import { canon, modelValue, normalizeFor } from './helpers.js';

const hex = (v: unknown) => Buffer.from(encodeMarshal(v)).toString('hex');
const dec = (h: string) => decodeMarshal(Buffer.from(h.replaceAll(' ', ''), 'hex'));

describe('encodeMarshal', () => {
  // Each expected value is marshal.dumps() output of CPython 3.11.2 for the same value.
  it.each<[string, unknown, string]>([
    ['None', null, '4e'],
    ['True', true, '54'],
    ['False', false, '46'],
    ['small int', 42, 'e92a000000'],
    ['negative int', -7, 'e9f9ffffff'],
    ['int32 max', 2 ** 31 - 1, 'e9ffffff7f'],
    ['int32 min', -(2 ** 31), 'e900000080'],
    ['2**31', 2 ** 31, 'ec03000000000000000200'],
    ['-2**31-1', -(2 ** 31) - 1, 'ecfdffffff010000000200'],
    ['2**53+1', 2n ** 53n + 1n, 'ec040000000100000000000001'],
    ['2**63', 2n ** 63n, 'ec0500000000000000000000000800'],
    ['-2**70', -(2n ** 70n), 'ecfbffffff00000000000000000004'],
    ['bigint in int32 range', 5n, 'e905000000'],
    ['float', 1.5, 'e7000000000000f83f'],
    ['-0.0', -0, 'e70000000000000080'],
    ['nan', Number.NaN, 'e7000000000000f87f'],
    ['5e-324', 5e-324, 'e70100000000000000'],
    ['2**53 as float', 2 ** 53, 'e70000000000004043'],
    ['complex', new Complex(0, 1), 'f90000000000000000000000000000f03f'],
    ['bytes', new Uint8Array([97, 98]), 'f3020000006162'],
    ['empty str', '', 'da00'],
    ['identifier str', 'hello', 'da0568656c6c6f'],
    ['CONNECTFAIL text', 'invalid data', 'fa0c696e76616c69642064617461'],
    ['non-ASCII str', 'é', 'f502000000c3a9'],
    ['lone surrogate (surrogatepass)', '\ud800', 'f503000000eda080'],
    ['empty tuple', new Tuple(), 'a900'],
    ['repeated identifiers are references', ['abc', 'abc'], 'db02000000da036162637201000000'],
    ['repeated small ints are references', [1, 1], 'db02000000e9010000007201000000'],
    ['repeated empty str', ['', ''], 'db02000000da007201000000'],
    ['repeated empty tuple', [new Tuple(), new Tuple()], 'db02000000a9007201000000'],
    ['dict', { a: 1 }, 'fbda0161e90100000030'],
    ['list of bool/None', [true, null], 'db02000000544e'],
    [
      'set ordered by marshal bytes',
      new Set<unknown>([3, 1, 2, 'b', 'a']),
      '3c05000000da0161da0162e901000000e902000000e903000000',
    ],
  ])('%s', (_name, value, expected) => {
    expect(hex(value)).toBe(expected);
  });

  it("reproduces Pyro's own frames byte for byte", () => {
    // pyro5-marshal.jsonl: call_positional_args INVOKE, connect_default_handshake CONNECT, CONNECTFAILs.
    expect(hex(Tuple.of<unknown>('test.thing', 'add', [1, 2], {}))).toBe(
      '2904fa0a746573742e7468696e67da03616464db02000000e901000000e902000000fb30',
    );
    expect(hex({ handshake: 'hello', object: 'test.thing' })).toBe(
      'fbda0968616e647368616b65da0568656c6c6fda066f626a656374fa0a746573742e7468696e6730',
    );
    expect(hex('invalid protocol version: 501')).toBe(
      'fa1d696e76616c69642070726f746f636f6c2076657273696f6e3a20353031',
    );
    expect(hex('message too large (2038, max=1000)')).toBe(
      'fa226d65737361676520746f6f206c617267652028323033382c206d61783d3130303029',
    );
  });

  it('writes long str with the 4-byte length forms', () => {
    const ascii = 'x y'.repeat(100);
    expect(hex(ascii)).toBe(`e12c010000${Buffer.from(ascii).toString('hex')}`);
    const ident = 'x'.repeat(300);
    expect(hex(ident)).toBe(`e12c010000${Buffer.from(ident).toString('hex')}`);
    const uni = 'é'.repeat(300);
    expect(hex(uni)).toBe(`f558020000${Buffer.from(uni).toString('hex')}`);
    const lone = `${'é'.repeat(300)}\udc00`;
    expect(hex(lone)).toBe(`f55b020000${Buffer.from('é'.repeat(300)).toString('hex')}edb080`);
    expect(decodeMarshal(encodeMarshal(lone))).toBe(lone);
    expect(hex('a\ud800')).toBe('f50400000061eda080');
  });

  it('writes tuples of 256+ items, Maps, and Sets as frozensets where Python needs them hashable', () => {
    const big = Tuple.fromArray(new Array(256).fill(null));
    expect(hex(big)).toBe(`2800010000${'4e'.repeat(256)}`);
    expect(hex(new Map([[Tuple.of(1), new Set([2])]]))).toBe('fb2901e901000000' + '3c01000000e90200000030');
    expect(hex(new Set([new Set([1])]))).toBe('3c010000003e01000000e901000000');
    expect(hex(new Map([[new Set(), 1]]))).toBe('fb3e00000000e90100000030');
    expect(() => encodeMarshal(new Map([[[1], 1]]))).toThrow(/list cannot be a dict key/);
    expect(() => encodeMarshal(new Set([{}]))).toThrow(/dict cannot be/);
    expect(() => encodeMarshal(new Set([new Map()]))).toThrow(/dict cannot be/);
  });

  it('refuses objects outside the model unless replace() maps them', () => {
    expect(() => encodeMarshal(new Date(0))).toThrow(/marshal cannot serialize a value of type Date/);
    expect(() => encodeMarshal(Symbol('s'))).toThrow(SerializeError);
    expect(() => encodeMarshal(() => 0)).toThrow(/function/);
    const replace = (v: object) =>
      v instanceof Date ? { __class__: 'datetime', t: v.getTime() } : undefined;
    expect(decodeMarshal(encodeMarshal([new Date(5)], { replace }))).toEqual([
      { __class__: 'datetime', t: 5 },
    ]);
    expect(() => encodeMarshal(new Date(0), { replace: () => new Date(1) })).toThrow(
      /outside the value model/,
    );
  });

  it('enforces maxDepth while encoding', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => encodeMarshal(deep)).not.toThrow();
    let deepTuple: unknown = 1;
    for (let i = 0; i < 100; i++) deepTuple = Tuple.of(deepTuple);
    expect(() => encodeMarshal(deepTuple)).not.toThrow();
    expect(() => encodeMarshal(new Set([deepTuple]))).toThrow(/maxDepth=100/);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(() => encodeMarshal(cyclic)).toThrow(SerializeError);
  });

  it('grows its buffer and trims the result', () => {
    const big = new Uint8Array(100_000).fill(7);
    const out = encodeMarshal([big, 'x'.repeat(100_000)]);
    expect(out.length).toBe(5 + 5 + 100_000 + 5 + 100_000);
    expect(out.buffer.byteLength).toBe(out.length);
    const [b, str] = decodeMarshal(out) as [Uint8Array, string];
    expect(Buffer.from(b).equals(big)).toBe(true);
    expect(str).toBe('x'.repeat(100_000));
  });
});

describe('decodeMarshal', () => {
  it('reads every value type, with and without FLAG_REF', () => {
    expect(dec('4e')).toBe(null);
    expect(dec('ce')).toBe(null); // FLAG_REF on a singleton is ignored, as CPython does
    expect(dec('54')).toBe(true);
    expect(dec('46')).toBe(false);
    expect(dec('692a000000')).toBe(42);
    expect(dec('6c00000000')).toBe(0);
    expect(dec('6c01000000ff7f')).toBe(32767);
    expect(dec('6cfdffffffff7fff7fff7f')).toBe(-(2 ** 45 - 1));
    expect(dec('6c04000000ff7fff7fff7f0f00')).toBe(2 ** 49 - 1);
    expect(dec('6c040000000100000000000001')).toBe(2n ** 53n + 1n);
    expect(dec('6cfbffffff00000000000000000004')).toBe(-(2n ** 70n));
    expect(dec('67000000000000f83f')).toBe(1.5);
    expect(dec('6604312e3235')).toBe(1.25); // old text float
    expect(dec('66036e616e')).toBeNaN();
    expect(dec('66042d696e66')).toBe(Number.NEGATIVE_INFINITY);
    expect(dec('7900000000000000000000000000000040')).toEqual(new Complex(0, 2));
    expect(dec('7803312e3503322e30')).toEqual(new Complex(1.5, 2)); // old text complex
    expect(dec('73020000006162')).toEqual(new Uint8Array([97, 98]));
    expect(dec('7502000000c3a9')).toBe('é');
    expect(dec('7402000000c3a9')).toBe('é');
    expect(dec('7503000000eda080')).toBe('\ud800');
    expect(dec('6103000000616263')).toBe('abc');
    expect(dec('4103000000616263')).toBe('abc');
    expect(dec('7a03616263')).toBe('abc');
    expect(dec('5a03616263')).toBe('abc');
    expect(dec('7a01e9')).toBe('é'); // CPython reads the ASCII types as Latin-1
    expect(dec('2902e901000000e902000000')).toEqual(Tuple.of(1, 2));
    expect(dec('2802000000e901000000e902000000')).toEqual(Tuple.of(1, 2));
    expect(dec('5b02000000e901000000e902000000')).toEqual([1, 2]);
    expect(dec('7bda0161e90100000030')).toEqual({ a: 1 });
    expect(dec('7be901000000da016130')).toEqual(new Map([[1, 'a']]));
    expect(dec('3c02000000e901000000e902000000')).toEqual(new Set([1, 2]));
    expect(dec('3e01000000e901000000')).toEqual(new Set([1]));
    expect(dec('3c00000000')).toEqual(new Set());
  });

  it('reads long strings in one piece', () => {
    const s = 'y'.repeat(1 << 20);
    expect(dec(`61${'00001000'}${Buffer.from(s).toString('hex')}`)).toBe(s);
    const u = '日本'.repeat(1000);
    expect(decodeMarshal(encodeMarshal(u))).toBe(u);
  });

  it('resolves references, to scalars and to finished containers', () => {
    const v = dec('5b03000000fa0378797a7200000000db01000000e905000000') as unknown[];
    expect(v).toEqual(['xyz', 'xyz', [5]]);
    const shared = dec('5b02000000db01000000e9070000007200000000') as unknown[];
    expect(shared).toEqual([[7], [7]]);
    expect(shared[0]).toBe(shared[1]);
    // The raw_marshal_batch vector: a ref to the int 1 written for the second 1 of (1, 1).
    expect(
      dec(
        '2904fa0a746573742e7468696e67fa073c62617463683e5b020000002903da03616464a902e90100000072040000007b302903da046661696ca9007b304e',
      ),
    ).toEqual(
      Tuple.of<unknown>(
        'test.thing',
        '<batch>',
        [Tuple.of<unknown>('add', Tuple.of(1, 1), {}), Tuple.of<unknown>('fail', new Tuple(), {})],
        null,
      ),
    );
  });

  it('refuses references that expand to an exponential number of values', () => {
    // L(j) = [L(j-1), L(j-1)]: the second one a reference, so K levels hold 2^K values in 10·K bytes.
    const le32 = (n: number) => Buffer.from(new Int32Array([n]).buffer).toString('hex');
    const doubling = (k: number) => {
      const build = (j: number): string =>
        j === 0 ? 'db00000000' : `db02000000${build(j - 1)}72${le32(k - j + 1)}`;
      return Buffer.from(build(k), 'hex');
    };
    const small = decodeMarshal(doubling(10)) as unknown[][];
    expect(small[0]).toBe(small[1]);
    expect(() => decodeMarshal(doubling(60))).toThrow(
      /references expand to more than maxItems=250000 values/,
    );
    // The limit grows with the input: 16 values per byte.
    expect(() => decodeMarshal(doubling(25))).toThrow(SerializeError);
  });

  it('keeps the revived value in the reference table', () => {
    const revived = { revived: true };
    const both = decodeMarshal(Buffer.from('5b02000000fbda095f5f636c6173735f5f7a0178307200000000', 'hex'), {
      reviveClass: () => revived,
    }) as unknown[];
    expect(both[0]).toBe(revived);
    expect(both[1]).toBe(revived);
  });

  it('ends a dict at a NULL in value position, as CPython does', () => {
    expect(dec('7bda0161e901000000da016230')).toEqual({ a: 1 });
  });

  it.each([
    ['', /offset 0: unexpected end of data/],
    ['30', /NULL object/],
    ['5b01000000' + '30', /offset 5: NULL object in list/],
    ['2901' + '30', /NULL object in tuple/],
    ['3c01000000' + '30', /NULL object in set/],
    ['3f', /offset 0: unknown type code 0x3f/],
    ['ff', /unknown type code 0xff/],
    ['69010000', /needs 4 more bytes, 3 left/],
    ['67000000', /needs 8 more bytes/],
    ['5bffffffff', /negative size -1/],
    ['5bffffff7f', /needs 2147483647 more bytes, 0 left/],
    ['73ffffff7f', /needs 2147483647 more bytes/],
    ['7a05616263', /needs 5 more bytes, 3 left/],
    ['6c01000000', /needs 2 more bytes/],
    ['6c020000000100' + '0000', /unnormalized long data/],
    ['6c010000000080', /digit out of range/],
    ['6cffffff7f', /needs 4294967294 more bytes/],
    ['7200000000', /invalid reference 0/],
    ['5b010000007200000000', /invalid reference 0/],
    ['db010000007200000000', /reference 0 to an object still being read/],
    ['6300', /code objects are not supported/],
    ['53', /StopIteration is not supported/],
    ['2e', /Ellipsis is not supported/],
    ['4e4e', /offset 1: 1 bytes of trailing data/],
    ['7502000000c328', /offset 0: str is not valid UTF-8/],
    ['7bdb00000000e90100000030', /unhashable list/],
    ['7b7b30e90100000030', /unhashable dict/],
    ['3c010000003c00000000', /unhashable set/],
    ['7b2901db00000000e90100000030', /unhashable list/],
    ['660378797a', /invalid float literal "xyz"/],
  ])('rejects %s with a positioned SerializeError', (h, message) => {
    expect(() => dec(h)).toThrow(SerializeError);
    expect(() => dec(h)).toThrow(message);
  });

  it('accepts frozensets as dict keys and set elements', () => {
    const v = dec('7b3e01000000e901000000da017830') as Map<unknown, unknown>;
    expect([...v.entries()]).toEqual([[new Set([1]), 'x']]);
    expect(dec('3c010000003e00000000')).toEqual(new Set([new Set()]));
  });

  it('enforces maxDepth and survives absurd nesting', () => {
    const deep = (n: number) => Buffer.from(`${'5b01000000'.repeat(n)}4e`, 'hex');
    expect(() => decodeMarshal(deep(100))).not.toThrow();
    expect(() => decodeMarshal(deep(101))).toThrow(/offset 500: nesting deeper than maxDepth=100/);
    expect(() => decodeMarshal(deep(3), { maxDepth: 2 })).toThrow(/maxDepth=2/);
    expect(() => decodeMarshal(deep(200_000), { maxDepth: 1_000_000 })).toThrow(SerializeError);
  });

  it('never touches prototypes', () => {
    // {'__proto__': {'polluted': 1}, 'constructor': 1}
    const v = decodeMarshal(
      encodeMarshal(
        new Map<unknown, unknown>([
          ['__proto__', { polluted: 1 }],
          ['constructor', 1],
        ]),
      ),
    );
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('copies bytes out of the input', () => {
    const data = Buffer.from('73020000006162', 'hex');
    const b = decodeMarshal(data) as Uint8Array;
    data[5] = 0;
    expect([...b]).toEqual([97, 98]);
  });
});

describe('marshal round trip', () => {
  it('decode(encode(v)) is v', () => {
    fc.assert(
      fc.property(modelValue('marshal'), (v) => {
        expect(canon(decodeMarshal(encodeMarshal(v)))).toBe(canon(normalizeFor('marshal', v)));
      }),
      { numRuns: 400 },
    );
  });
});
