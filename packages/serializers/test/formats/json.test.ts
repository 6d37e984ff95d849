// Unit tests of the Python-compatible JSON codec: exact output, every literal, errors, limits, safety.
import { SerializeError } from '@cinder/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson, decodeJsonText, encodeJson, encodeJsonText } from '../../src/formats/json.js';
import { guardStack } from '../../src/formats/options.js';
import { Complex, Tuple } from '../../src/pyvalues.js';
import { canon, modelValue, normalizeFor } from './helpers.js';

const enc = (v: unknown) => Buffer.from(encodeJson(v)).toString('utf8');
const dec = (s: string) => decodeJson(Buffer.from(s, 'utf8'));

describe('encodeJson', () => {
  it('writes scalars as Python does', () => {
    expect(enc(null)).toBe('null');
    expect(enc(undefined)).toBe('null');
    expect(enc(true)).toBe('true');
    expect(enc(false)).toBe('false');
    expect(enc(42)).toBe('42');
    expect(enc(-7)).toBe('-7');
    expect(enc(1.5)).toBe('1.5');
    expect(enc(-0)).toBe('-0.0');
    expect(enc(1e16)).toBe('1e+16');
    expect(enc(2 ** 53)).toBe('9007199254740992.0');
    expect(enc(1e-5)).toBe('1e-05');
    expect(enc(5e-324)).toBe('5e-324');
    expect(enc(Number.NaN)).toBe('NaN');
    expect(enc(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(enc(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(enc(2n ** 70n)).toBe('1180591620717411303424');
    expect(enc(-(2n ** 70n))).toBe('-1180591620717411303424');
    expect(enc(5n)).toBe('5');
  });

  it('writes containers with ", " and ": " separators, in insertion order', () => {
    expect(enc([1, [2, []], {}])).toBe('[1, [2, []], {}]');
    expect(enc({ object: 'test.thing', method: 'add', params: [1, 2], kwargs: {} })).toBe(
      '{"object": "test.thing", "method": "add", "params": [1, 2], "kwargs": {}}',
    );
    expect(enc(Tuple.of<unknown>(1, 'a'))).toBe('[1, "a"]');
    expect(enc(new Set([3, 1, 2]))).toBe('[3, 1, 2]');
    expect(enc(new Set())).toBe('[]');
    expect(enc(new Map())).toBe('{}');
    const holes: unknown[] = [undefined];
    holes[2] = 1;
    expect(enc(holes)).toBe('[null, null, 1]');
  });

  it('converts dict keys as Python json does', () => {
    const m = new Map<unknown, unknown>([
      [1, 'a'],
      [1.5, 'b'],
      [true, 'c'],
      [false, 'd'],
      [null, 'e'],
      [2n ** 64n, 'f'],
      [Number.NaN, 'g'],
      ['s', 'i'],
    ]);
    expect(enc(m)).toBe(
      '{"1": "a", "1.5": "b", "true": "c", "false": "d", "null": "e", "18446744073709551616": "f", "NaN": "g", "s": "i"}',
    );
    expect(() => enc(new Map([[Tuple.of(1), 1]]))).toThrow(
      /keys must be str, int, float, bool or None, not Tuple/,
    );
  });

  it('escapes strings exactly like ensure_ascii=False', () => {
    expect(enc('a"b\\c/d')).toBe('"a\\"b\\\\c/d"');
    expect(enc('\b\f\n\r\t\0\x1f\x7f')).toBe('"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f"');
    expect(enc('héllo ✓ 😀 \u2028')).toBe('"héllo ✓ 😀 \u2028"');
    // Python would fail to UTF-8 encode a lone surrogate; we escape it so it survives the trip.
    expect(enc('\ud800x')).toBe('"\\ud800x"');
    expect(dec(enc('\ud800x'))).toBe('\ud800x');
  });

  it('writes bytes as the serpent-style base64 dict', () => {
    expect(enc(new Uint8Array([0, 1, 2, 104, 101, 108, 108, 111, 255]))).toBe(
      '{"data": "AAECaGVsbG//", "encoding": "base64"}',
    );
    expect(enc(Buffer.alloc(0))).toBe('{"data": "", "encoding": "base64"}');
  });

  it('refuses complex numbers, symbols and unknown objects without replace()', () => {
    expect(() => enc(new Complex(1, 2))).toThrow(SerializeError);
    expect(() => enc(Symbol('x'))).toThrow(/symbol/);
    expect(() => enc(new Date(0))).toThrow(/type Date/);
    expect(() => enc(() => 1)).toThrow(/type function/);
    expect(() => enc(new Float64Array(1))).toThrow(/Float64Array/);
  });

  it('uses replace() for objects outside the model', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const replace = (v: object) =>
      v instanceof Point ? { __class__: 'geo.Point', x: v.x, y: v.y } : undefined;
    expect(Buffer.from(encodeJson([new Point(1, 2)], { replace })).toString()).toBe(
      '[{"__class__": "geo.Point", "x": 1, "y": 2}]',
    );
    expect(() => encodeJson(new Date(0), { replace })).toThrow(/type Date/);
    // A replacement that is itself outside the model is an error, not an endless loop.
    expect(() => encodeJson(new Point(1, 2), { replace: () => new Point(0, 0) })).toThrow(
      /outside the value model/,
    );
  });

  it('enforces maxDepth while encoding, including cycles', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => encodeJson(deep)).not.toThrow();
    expect(() => encodeJson([deep])).toThrow(/maxDepth=100/);
    expect(() => encodeJson(deep, { maxDepth: 99 })).toThrow(SerializeError);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(() => encodeJson(cyclic)).toThrow(SerializeError);
    expect(() => encodeJson(1, { maxDepth: -1 })).toThrow(/invalid maxDepth/);
    expect(encodeJsonText({ a: [] }, { maxDepth: 2 })).toBe('{"a": []}');
  });

  it("refuses ints beyond Python's 4300-digit str limit", () => {
    expect(() => enc(10n ** 4300n)).toThrow(/4301 digits/);
    expect(enc(10n ** 4299n)).toHaveLength(4300);
  });
});

describe('decodeJson', () => {
  it('reads every literal', () => {
    expect(dec('null')).toBe(null);
    expect(dec('true')).toBe(true);
    expect(dec(' false ')).toBe(false);
    expect(dec('42')).toBe(42);
    expect(dec('-0')).toBe(0);
    expect(Object.is(dec('-0'), 0)).toBe(true);
    expect(Object.is(dec('-0.0'), -0)).toBe(true);
    expect(Object.is(dec('[-0]'), undefined)).toBe(false);
    expect(Object.is((dec('[-0]') as number[])[0], 0)).toBe(true);
    expect(dec('1.5e3')).toBe(1500);
    expect(dec('1E5')).toBe(100000);
    expect(dec('1e400')).toBe(Number.POSITIVE_INFINITY);
    expect(dec('NaN')).toBeNaN();
    expect(dec('[Infinity, -Infinity]')).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(dec('"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"')).toBe('a"\\/\b\f\n\r\té😀');
    expect(dec('"\\ud800"')).toBe('\ud800');
    // The same escapes through the full parser (a NaN elsewhere keeps JSON.parse out of it).
    const escapes = '"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\ud83d\\ude00"';
    expect(dec(`[${escapes}, NaN, "\\\\", "x\\\\\\"y"]`)).toEqual([
      'a"\\/\b\f\n\r\téé😀',
      Number.NaN,
      '\\',
      'x\\"y',
    ]);
    expect(dec(`[${escapes}]`)).toEqual((dec(`[${escapes}, NaN]`) as unknown[]).slice(0, 1));
    expect(() => dec('[NaN, "a\\n\tb"]')).toThrow(/char 10.*control character/);
    const long = `${'é\\n'.repeat(300)}`;
    expect(dec(`["${long}", NaN]`)).toEqual(['é\n'.repeat(300), Number.NaN]);
    expect(dec(' {"a" : [1 , 2] , "b":{}} ')).toEqual({ a: [1, 2], b: {} });
  });

  it('keeps big ints exact, as bigint beyond 2^53-1', () => {
    expect(dec('9007199254740991')).toBe(9007199254740991);
    expect(dec('9007199254740993')).toBe(9007199254740993n);
    expect(dec('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(dec('[1180591620717411303424, 1.5]')).toEqual([1180591620717411303424n, 1.5]);
    expect(dec('1e16')).toBe(1e16);
    expect(dec('1000000000000000000000.0')).toBe(1e21);
    expect(dec('123456789012345678')).toBe(123456789012345678n);
    expect(dec(`[${'9'.repeat(400)}]`)).toEqual([10n ** 400n - 1n]);
    expect(() => dec('1'.repeat(4301))).toThrow(/4301 digits/);
  });

  it('keeps the last of duplicate keys, in the first position', () => {
    const v = dec('{"a": 1, "b": 2, "a": 3}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['a', 'b']);
    expect(v['a']).toBe(3);
  });

  it.each([
    ['', /char 0.*expecting value/],
    ['[1,]', /char 3.*expecting value/],
    ['{"a":1,}', /char 7.*property name/],
    ['{"a" 1}', /char 5.*':'/],
    ['[1 2]', /char 3.*','/],
    ['01', /char 1.*extra data/],
    ['1.', /extra data/],
    ['.5', /expecting value/],
    ['+1', /expecting value/],
    ['"\t"', /char 1.*control character/],
    ['"a\\x41"', /invalid \\escape/],
    ['"\\u12G4"', /\\uXXXX/],
    ['"abc', /unterminated string/],
    ['"a\\"', /unterminated string/],
    ["'a'", /expecting value/],
    ['\ufeff1', /BOM/],
    ['nan', /expecting value/],
    ['[1] x', /char 4 \(line 1 column 5\).*extra data/],
    ['[\n1,\n]', /line 3 column 1/],
    ['{"a":1', /','/],
    ['[NaN, nul]', /expecting value/],
  ])('rejects %j with a positioned SerializeError', (text, message) => {
    expect(() => dec(text)).toThrow(SerializeError);
    expect(() => dec(text)).toThrow(message);
  });

  it('rejects invalid UTF-8 with the byte offset', () => {
    expect(() => decodeJson(new Uint8Array([0x22, 0x61, 0xff, 0x22]))).toThrow(/not UTF-8 at byte offset 2/);
    expect(() => decodeJson(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]))).toThrow(/byte offset 1/);
  });

  it('enforces maxDepth on both paths', () => {
    const ok = `${'['.repeat(100)}${']'.repeat(100)}`;
    expect(() => dec(ok)).not.toThrow();
    expect(() => dec(`[${ok}]`)).toThrow(/maxDepth=100/);
    expect(() => dec(`[NaN, [${ok}]]`)).toThrow(/maxDepth=100/);
    expect(() => decodeJsonText('{"a": {"b": 1}}', { maxDepth: 1 })).toThrow(/maxDepth=1/);
    // Far deeper than any stack: JSON.parse copes, the check refuses, the fallback parser stops early.
    const huge = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(() => dec(huge)).toThrow(/maxDepth=100/);
  });

  it('turns a stack overflow from an unreasonable maxDepth into a SerializeError', () => {
    const huge = `${'['.repeat(200_000)}NaN${']'.repeat(200_000)}`;
    expect(() => decodeJsonText(huge, { maxDepth: 1_000_000 })).toThrow(SerializeError);
  });

  it('never touches prototypes: __proto__, constructor, prototype are own data properties', () => {
    for (const text of [
      '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}',
      '{"__proto__": {"polluted": 1}, "x": NaN}',
    ]) {
      const v = dec(text) as Record<string, unknown>;
      expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
      expect(Object.hasOwn(v, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: 1 });
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    }
    const revived = decodeJsonText('{"__proto__": {"__class__": "X"}, "y": 1}', {
      reviveClass: () => 'revived',
    });
    expect(Object.getPrototypeOf(revived)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(revived, '__proto__')?.value).toBe('revived');
  });

  it('revives __class__ dicts bottom-up on both paths', () => {
    const seen: string[] = [];
    const reviveClass = (d: Record<string, unknown>) => {
      seen.push(d['__class__'] as string);
      return { revived: d['__class__'], inner: d['inner'] ?? null };
    };
    for (const tail of ['1', 'NaN']) {
      seen.length = 0;
      const text = `[{"__class__": "outer", "inner": {"__class__": "inner"}}, {"__class__": 5}, ${tail}]`;
      const v = decodeJsonText(text, { reviveClass }) as unknown[];
      expect(seen).toEqual(['inner', 'outer']);
      expect(v[0]).toEqual({ revived: 'outer', inner: { revived: 'inner', inner: null } });
      expect(v[1]).toEqual({ __class__: 5 });
    }
    // Without a reviver the dicts stay dicts.
    expect(dec('{"__class__": "x"}')).toEqual({ __class__: 'x' });
  });

  it('decodes large strings on the fast and the slow path', () => {
    const big = 'x'.repeat(1 << 20);
    expect(dec(`"${big}"`)).toBe(big);
    expect(dec(`["${big}", NaN]`)).toEqual([big, Number.NaN]);
    const escaped = `${'ab\\n'.repeat(1000)}`;
    expect(dec(`["${escaped}", NaN]`)).toEqual(['ab\n'.repeat(1000), Number.NaN]);
  });
});

describe('json round trip', () => {
  it('decode(encode(v)) is v with json’s losses (tuples, sets → lists, keys → str, bytes → dict)', () => {
    fc.assert(
      fc.property(modelValue('json'), (v) => {
        const back = decodeJson(encodeJson(v));
        expect(canon(back)).toBe(canon(normalizeFor('json', v)));
      }),
      { numRuns: 400 },
    );
  });

  it('encode(decode(text)) == text for text Python wrote', () => {
    fc.assert(
      fc.property(modelValue('json'), (v) => {
        const text = encodeJsonText(v);
        // JavaScript objects put integer-like keys first, so only texts without them keep their order.
        fc.pre(!/"(?:0|[1-9]\d*)": /.test(text));
        expect(encodeJsonText(decodeJsonText(text))).toBe(text);
      }),
      { numRuns: 200 },
    );
  });
});

describe('engine limits', () => {
  // Outputs beyond V8's maximum string length (~512 MiB) would need that much memory to provoke;
  // the guard that turns those errors into SerializeErrors is tested directly.
  it('turns size-limit and stack errors into SerializeErrors, and lets others through', () => {
    const tooLong = Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), {
      code: 'ERR_STRING_TOO_LONG',
    });
    expect(() =>
      guardStack(() => {
        throw tooLong;
      }, 'json'),
    ).toThrow(/json: value too large/);
    expect(() =>
      guardStack(() => {
        throw new RangeError('Invalid string length');
      }, 'json'),
    ).toThrow(SerializeError);
    expect(() =>
      guardStack(() => {
        throw new RangeError('Maximum call stack size exceeded');
      }, 'json'),
    ).toThrow(/nesting too deep for the call stack/);
    const other = new TypeError('from a callback');
    expect(() =>
      guardStack(() => {
        throw other;
      }, 'json'),
    ).toThrow(other);
    expect(guardStack(() => 5, 'json')).toBe(5);
  });
});
