// Unit tests of the serpent codec: serpent 1.41's exact output and ast.literal_eval's literal syntax.
import { SerializeError } from '@cinder/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSerpent, encodeSerpent, SERPENT_HEADER } from '../../src/formats/serpent.js';
import { Complex, Tuple } from '../../src/pyvalues.js';
import { canon, modelValue, normalizeFor } from './helpers.js';

const enc = (v: unknown, bytesRepr = false) => {
  const text = Buffer.from(encodeSerpent(v, { bytesRepr })).toString('utf8');
  expect(text.startsWith(SERPENT_HEADER)).toBe(true);
  return text.slice(SERPENT_HEADER.length);
};
const dec = (body: string, header = true) =>
  decodeSerpent(Buffer.from(header ? SERPENT_HEADER + body : body));

describe('encodeSerpent', () => {
  it('writes scalars as serpent does', () => {
    expect(enc(null)).toBe('None');
    expect(enc(undefined)).toBe('None');
    expect(enc(true)).toBe('True');
    expect(enc(false)).toBe('False');
    expect(enc(42)).toBe('42');
    expect(enc(-7)).toBe('-7');
    expect(enc(1.5)).toBe('1.5');
    expect(enc(-0)).toBe('-0.0');
    expect(enc(1e300)).toBe('1e+300');
    expect(enc(5e-324)).toBe('5e-324');
    expect(enc(Number.NaN)).toBe("{'__class__':'float','value':'nan'}");
    expect(enc(Number.POSITIVE_INFINITY)).toBe('1e30000');
    expect(enc(Number.NEGATIVE_INFINITY)).toBe('-1e30000');
    expect(enc(2n ** 70n)).toBe('1180591620717411303424');
  });

  it("writes str as Python's repr()", () => {
    expect(enc('hello')).toBe("'hello'");
    expect(enc('')).toBe("''");
    expect(enc("it's")).toBe('"it\'s"');
    expect(enc('say "hi"')).toBe('\'say "hi"\'');
    expect(enc(`both ' and "`)).toBe(`'both \\' and "'`);
    expect(enc('back\\slash')).toBe("'back\\\\slash'");
    expect(enc('\t\n\r\0\x1f\x7f')).toBe("'\\t\\n\\r\\x00\\x1f\\x7f'");
    expect(enc('héllo wörld ✓ 日本 😀')).toBe("'héllo wörld ✓ 日本 😀'");
    // Not printable for CPython 3.11: C1 controls, NBSP, soft hyphen, line separator, unassigned
    // (U+0378), a tag character, a lone surrogate, and U+1E030 which only Unicode 15 assigns.
    expect(enc('\x85\xa0\xad\u2028\u0378\u{e0001}\ud800\u{1e030}')).toBe(
      "'\\x85\\xa0\\xad\\u2028\\u0378\\U000e0001\\ud800\\U0001e030'",
    );
  });

  it('writes containers without spaces, empty sets as (), 1-tuples with a comma', () => {
    expect(enc([1, 'two', 3.5, null, true])).toBe("[1,'two',3.5,None,True]");
    expect(enc([])).toBe('[]');
    expect(enc(new Tuple())).toBe('()');
    expect(enc(Tuple.of(1))).toBe('(1,)');
    expect(enc(Tuple.of<unknown>(1, 'two', 3.5))).toBe("(1,'two',3.5)");
    expect(enc({})).toBe('{}');
    expect(enc({ a: 1, b: [1, 2] })).toBe("{'a':1,'b':[1,2]}");
    expect(enc(new Set([1, 2, 3]))).toBe('{1,2,3}');
    expect(enc(new Set())).toBe('()');
    expect(
      enc(
        new Map<unknown, unknown>([
          [1, 'one'],
          [Tuple.of(1, 2), new Set(['x'])],
          [1.5, 2n ** 64n],
          [true, null],
        ]),
      ),
    ).toBe("{1:'one',(1,2):{'x'},1.5:18446744073709551616,True:None}");
    expect(enc(Tuple.of<unknown>('test.thing', 'add', Tuple.of(1, 2), {}))).toBe(
      "('test.thing','add',(1,2),{})",
    );
  });

  it('writes bytes as a base64 dict, or as a bytes literal with bytesRepr', () => {
    const b = new Uint8Array([0, 1, 2, 104, 101, 108, 108, 111, 255]);
    expect(enc(b)).toBe("{'data': 'AAECaGVsbG//', 'encoding': 'base64'}");
    expect(enc(b, true)).toBe("b'\\x00\\x01\\x02hello\\xff'");
    expect(enc(Buffer.from("it's"), true)).toBe('b"it\'s"');
    expect(enc(Buffer.from('\'"\\\t\n\r\x7f'), true)).toBe("b'\\'\"\\\\\\t\\n\\r\\x7f'");
    expect(enc(new Map([[Buffer.from('k'), 1]]), true)).toBe("{b'k':1}");
    expect(() => enc(new Map([[Buffer.from('k'), 1]]))).toThrow(/dict key/);
  });

  it('writes complex numbers as serpent does, including its -0.0 quirk', () => {
    expect(enc(new Complex(1, 2))).toBe('(1.0+2.0j)');
    expect(enc(new Complex(0, 1))).toBe('(0.0+1.0j)');
    expect(enc(new Complex(1.5, -2))).toBe('(1.5-2.0j)');
    expect(enc(new Complex(1, -0))).toBe('(1.0+-0.0j)');
    expect(enc(new Complex(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY))).toBe('(1e30000-1e30000j)');
    expect(() => enc(new Complex(Number.NaN, 1))).toThrow(/NaN/);
  });

  it('refuses what Python could not read back, and objects without replace()', () => {
    expect(() => enc(new Map([[null, 1]]))).toThrow(/dict key must be .* not null/);
    expect(() => enc(new Map([[[1], 1]]))).toThrow(/not Array/);
    expect(() => enc(new Set([{}]))).toThrow(/set element/);
    expect(() => enc(new Set([Number.NaN]))).toThrow(/set element .* not number/);
    expect(enc(new Map([[Number.POSITIVE_INFINITY, 1]]))).toBe('{1e30000:1}');
    expect(() => enc(new Date(0))).toThrow(/type Date/);
    expect(() => enc(Symbol('s'))).toThrow(SerializeError);
    expect(() => enc(() => 0)).toThrow(/function/);
  });

  it('uses replace() and limits its chains and the nesting depth', () => {
    const replace = (v: object) =>
      v instanceof Date ? { __class__: 'datetime', iso: v.toISOString() } : undefined;
    expect(Buffer.from(encodeSerpent([new Date(0)], { replace })).toString()).toBe(
      `${SERPENT_HEADER}[{'__class__':'datetime','iso':'1970-01-01T00:00:00.000Z'}]`,
    );
    expect(() => encodeSerpent(new Date(0), { replace: () => new Date(1) })).toThrow(
      /outside the value model/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = Tuple.of(deep);
    expect(() => encodeSerpent(deep)).not.toThrow();
    expect(() => encodeSerpent([deep])).toThrow(/maxDepth=100/);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => encodeSerpent(cyclic)).toThrow(SerializeError);
  });
});

describe('decodeSerpent', () => {
  it('reads the constants and numbers of Python literal syntax', () => {
    expect(dec('None')).toBe(null);
    expect(dec('True')).toBe(true);
    expect(dec('False')).toBe(false);
    expect(dec('42')).toBe(42);
    expect(dec('-7')).toBe(-7);
    expect(dec('+ 7')).toBe(7);
    expect(dec('1_000_000')).toBe(1000000);
    expect(dec('0x_ff')).toBe(255);
    expect(dec('0o17')).toBe(15);
    expect(dec('0B101')).toBe(5);
    expect(dec('0xFFFFFFFFFFFFFFFFFF')).toBe(4722366482869645213695n);
    expect(dec('00')).toBe(0);
    expect(dec('[7,123456789012345 ,1234567890123456]')).toEqual([7, 123456789012345, 1234567890123456]);
    expect(dec('7j')).toEqual(new Complex(0, 7));
    expect(dec('[1.5,-2.25e-3 ,0.0,7e+2,1.e1,.5e1]')).toEqual([1.5, -2.25e-3, 0, 700, 10, 5]);
    for (const bad of ['01', '12abc', '3_', '4__0', '1e', '1e+', '1.5.', '1e5.', '1.5x', '1.5e3e']) {
      expect(() => dec(bad)).toThrow(SerializeError);
    }
    expect(dec('1180591620717411303424')).toBe(1180591620717411303424n);
    expect(dec('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(dec('1.5')).toBe(1.5);
    expect(dec('1.')).toBe(1);
    expect(dec('.5')).toBe(0.5);
    expect(dec('1e5')).toBe(100000);
    expect(dec('1.e5')).toBe(100000);
    expect(dec('1_0.5_5e1_0')).toBe(10.55e10);
    expect(dec('0123.5')).toBe(123.5);
    expect(Object.is(dec('-0.0'), -0)).toBe(true);
    expect(dec('1e30000')).toBe(Number.POSITIVE_INFINITY);
    expect(dec('-1e30000')).toBe(Number.NEGATIVE_INFINITY);
    expect(dec("{'__class__':'float','value':'nan'}")).toBeNaN();
    expect(dec("{'__class__':'float','value':'-inf'}")).toBe(Number.NEGATIVE_INFINITY);
    expect(dec("{'__class__':'float','value':'1.5'}")).toBe(1.5);
    expect(dec("{'__class__':'float','value':'bogus'}")).toEqual({ __class__: 'float', value: 'bogus' });
  });

  it('reads complex numbers, computing real ± imag as Python does', () => {
    expect(dec('2j')).toEqual(new Complex(0, 2));
    expect(dec('1e5J')).toEqual(new Complex(0, 100000));
    expect(dec('0123j')).toEqual(new Complex(0, 123));
    const neg = dec('-2j') as Complex;
    expect(Object.is(neg.real, -0) && neg.imag === -2).toBe(true);
    expect(dec('(1.0+2.0j)')).toEqual(new Complex(1, 2));
    expect(dec('(1.5-2.0j)')).toEqual(new Complex(1.5, -2));
    expect(dec('+1.5-2j')).toEqual(new Complex(1.5, -2));
    expect(dec('(1e30000+2.0j)')).toEqual(new Complex(Number.POSITIVE_INFINITY, 2));
    // Python's literal_eval adds the zeros (giving (1+0j) and 1j); we keep the signs as written.
    const a = dec('(1.0-0.0j)') as Complex;
    expect(Object.is(a.imag, -0)).toBe(true);
    const b = dec('-0.0+1j') as Complex;
    expect(Object.is(b.real, -0)).toBe(true);
    // serpent's own output for a -0.0 imaginary part (Python's literal_eval refuses it).
    const c = dec('(1.0+-0.0j)') as Complex;
    expect(c.real === 1 && Object.is(c.imag, -0)).toBe(true);
    expect(
      dec(
        Buffer.from(encodeSerpent(new Complex(-0, -0)))
          .toString()
          .slice(SERPENT_HEADER.length),
      ),
    ).toEqual(new Complex(-0, -0));
  });

  it('reads every str and bytes literal form', () => {
    expect(dec(`'a'`)).toBe('a');
    expect(dec(`"a'b"`)).toBe("a'b");
    expect(dec(`'''tri'ple\nline'''`)).toBe("tri'ple\nline");
    expect(dec(`"""a""b"""`)).toBe('a""b');
    expect(dec(`u'x'`)).toBe('x');
    expect(dec(`r'\\n\\''`)).toBe("\\n\\'");
    expect(dec(`'a' "b" '''c'''`)).toBe('abc');
    expect(dec(`('a'\n 'b',)`)).toEqual(Tuple.of('ab'));
    expect(dec(`'\\\\\\'\\"\\a\\b\\f\\n\\r\\t\\v'`)).toBe('\\\'"\x07\b\f\n\r\t\v');
    expect(dec(`'\\x41\\101\\0\\777\\u00e9\\U0001F600\\ud800'`)).toBe('AA\0\u01ffé😀\ud800');
    expect(dec(`'\\q'`)).toBe('\\q');
    expect(dec(`'line\\\ncontinued'`)).toBe('linecontinued');
    expect(dec(`'crlf\\\r\ncontinued'`)).toBe('crlfcontinued');
    expect(dec(`'''a\r\nb\rc'''`)).toBe('a\nb\nc');
    expect(dec(`rb'''a\r\nb'''`)).toEqual(new Uint8Array([97, 10, 98]));
    expect(dec(`b'\\x00ab\\'\\777\\u12'`)).toEqual(new Uint8Array([0, 97, 98, 39, 255, 92, 117, 49, 50]));
    expect(dec(`B"x" b'y'`)).toEqual(new Uint8Array([120, 121]));
    expect(dec(`rb'\\x00'`)).toEqual(new Uint8Array(Buffer.from('\\x00')));
    expect(dec(`Br'\\''`)).toEqual(new Uint8Array(Buffer.from("\\'")));
    expect(dec(`b''`)).toEqual(new Uint8Array(0));
    expect(dec(`b'\\\nx\\a\\b\\f\\n\\r\\t\\v\\\\\\"'`)).toEqual(
      new Uint8Array([120, 7, 8, 12, 10, 13, 9, 11, 92, 34]),
    );
  });

  it('reads containers with trailing commas, comments and line breaks', () => {
    expect(dec('()')).toEqual(new Tuple());
    expect(dec('(1,)')).toEqual(Tuple.of(1));
    expect(dec('(1)')).toBe(1);
    expect(dec('((1,2))')).toEqual(Tuple.of(1, 2));
    expect(dec('[1,]')).toEqual([1]);
    expect(dec('{1:2,}')).toEqual(new Map([[1, 2]]));
    expect(dec('{1,2,}')).toEqual(new Set([1, 2]));
    expect(dec('set()')).toEqual(new Set());
    expect(dec('set ( )')).toEqual(new Set());
    expect(dec('{}')).toEqual({});
    expect(dec("{\n  'a': 1,  # comment\n  'b': [\n    2,\n  ],\n}\n# trailing comment")).toEqual({
      a: 1,
      b: [2],
    });
    expect(dec('[1, \\\n 2]')).toEqual([1, 2]);
    expect(dec('  1  ', false)).toBe(1);
    expect(dec('{1, 1, 2}')).toEqual(new Set([1, 2]));
  });

  it('makes dicts with only str keys plain objects, others Maps (keeping wire order)', () => {
    const m = dec("{2:'b',1:'a',(1,2):'t','s':0}") as Map<unknown, unknown>;
    expect(m).toBeInstanceOf(Map);
    expect([...m.keys()]).toEqual([2, 1, Tuple.of(1, 2), 's']);
    expect(dec("{'b':1,'a':2,'b':3}")).toEqual({ b: 3, a: 2 });
    expect(Object.keys(dec("{'b':1,'a':2}") as object)).toEqual(['b', 'a']);
  });

  it.each([
    ['', /char 26 \(line 2 column 1\).*end of data/],
    ['[1,2', /expected ','/],
    ['[1 2]', /expected ','/],
    ['(1 2)', /expected ','/],
    ['{1:2 3:4}', /expected ','/],
    ['{1 2}', /expected ','/],
    ["{'a':1,'b'}", /expected ':'/],
    ['1 2', /after the value/],
    ['"abc', /unterminated string/],
    ["'ab\ncd'", /newline in a single-quoted/],
    ["'''abc''", /unterminated string/],
    ["'a' b'b'", /cannot mix bytes and str/],
    ["b'é'", /ASCII/],
    ["b'\\é'", /ASCII/],
    ["f'x'", /unsupported name "f"/],
    ["Ur'x'", /unsupported name "Ur"/],
    ['...', /unexpected character/],
    ['nan', /unsupported name/],
    ['-True', /sign must be followed by a number/],
    ['--1', /sign must be followed by a number/],
    ['1j+1', /after the value/],
    ['1+1', /only real ± imaginary/],
    ['1+', /expected an imaginary number/],
    ['0123', /invalid decimal integer/],
    ['1__0', /invalid number/],
    ['1_', /invalid number/],
    ['0x', /invalid number/],
    ['1e', /invalid number/],
    ['1.2.3', /invalid number/],
    ["'\\x4'", /truncated \\x escape/],
    ["'\\u12'", /truncated \\u escape/],
    ["'\\U00110000'", /illegal Unicode character/],
    ["'\\N{BULLET}'", /\\N\{...\}/],
    ["b'\\x4'", /truncated \\x escape/],
    ['set(1)', /set\(\) with no arguments/],
    ['{[1]:2}', /unhashable list/],
    ['{{1:2}:3}', /unhashable dict/],
    ['{(1,[2]):3}', /unhashable list/],
    ['{{1}}', /unhashable set/],
    ['@', /unexpected character "@"/],
    ['1' + '0'.repeat(4300), /4301 digits/],
  ])('rejects %j with a positioned SerializeError', (body, message) => {
    expect(() => dec(body)).toThrow(SerializeError);
    expect(() => dec(body)).toThrow(message);
  });

  it('rejects NUL characters, a BOM and invalid UTF-8', () => {
    expect(() => dec("'a\0b'")).toThrow(/NUL character/);
    expect(() => dec('\ufeff1', false)).toThrow(/unexpected character/);
    expect(() => decodeSerpent(new Uint8Array([0x27, 0xc3, 0x27]))).toThrow(/not UTF-8 at byte offset 1/);
  });

  it('enforces maxDepth, also for parentheses, and survives absurd nesting', () => {
    const ok = `${'['.repeat(100)}${']'.repeat(100)}`;
    expect(() => dec(ok)).not.toThrow();
    expect(() => dec(`(${ok})`)).toThrow(/maxDepth=100/);
    expect(() => dec(`${'('.repeat(200_000)}1`)).toThrow(/maxDepth=100/);
    expect(() => decodeSerpent(Buffer.from(`${'['.repeat(200_000)}`), { maxDepth: 1_000_000 })).toThrow(
      SerializeError,
    );
  });

  it('never touches prototypes', () => {
    const v = dec("{'__proto__':{'polluted':1},'constructor':{'prototype':{'polluted':2}}}") as object;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('revives __class__ dicts bottom-up, after the float convention', () => {
    const seen: unknown[] = [];
    const v = decodeSerpent(
      Buffer.from(
        `${SERPENT_HEADER}[{'__class__':'Pyro5.core.URI','state':('PYRO','obj',None,'localhost',5555)},{'__class__':'float','value':'nan'},{1:{'__class__':'x'}}]`,
      ),
      {
        reviveClass: (d) => {
          seen.push(d['__class__']);
          return `revived ${d['__class__'] as string}`;
        },
      },
    ) as unknown[];
    expect(seen).toEqual(['Pyro5.core.URI', 'x']);
    expect(v[0]).toBe('revived Pyro5.core.URI');
    expect(v[1]).toBeNaN();
    expect(v[2]).toEqual(new Map([[1, 'revived x']]));
  });

  it('decodes large strings and bytes in linear time', () => {
    const big = 'x'.repeat(1 << 20);
    expect(dec(`'${big}'`)).toBe(big);
    expect(dec(`'${'a\\n'.repeat(100_000)}'`)).toBe('a\n'.repeat(100_000));
    const bytes = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const back = decodeSerpent(encodeSerpent(bytes, { bytesRepr: true })) as Uint8Array;
    expect(back).toBeInstanceOf(Uint8Array);
    // Buffer#equals: vitest's deep equality walks a MiB of elements one by one.
    expect(Buffer.from(back).equals(bytes)).toBe(true);
  });
});

describe('serpent round trip', () => {
  it('decode(encode(v)) is v with serpent’s losses (bytes → base64 dict, empty set → tuple)', () => {
    fc.assert(
      fc.property(modelValue('serpent'), (v) => {
        expect(canon(decodeSerpent(encodeSerpent(v)))).toBe(canon(normalizeFor('serpent', v)));
      }),
      { numRuns: 400 },
    );
  });

  it('keeps bytes with bytesRepr', () => {
    fc.assert(
      fc.property(modelValue('serpent-bytesrepr'), (v) => {
        const back = decodeSerpent(encodeSerpent(v, { bytesRepr: true }));
        expect(canon(back)).toBe(canon(normalizeFor('serpent-bytesrepr', v)));
      }),
      { numRuns: 200 },
    );
  });
});
