// Unit tests of the Python text helpers: float repr and parsing, str/bytes repr, printability, UTF-8.
// The expected strings are what CPython 3.11 prints; differential.test.ts checks thousands more
// against the interpreter itself.
import { describe, expect, it } from 'vitest';
import { isPyInt, pyFloatFromString, pyFloatRepr } from '../../src/formats/py-float.js';
import { isPyPrintable, pyBytesRepr, pyStrRepr } from '../../src/formats/py-repr.js';
import {
  decodeUtf8,
  decodeUtf8SurrogatePass,
  encodeUtf8SurrogatePass,
  invalidUtf8Offset,
} from '../../src/formats/utf8.js';

describe('pyFloatRepr', () => {
  it.each<[number, string]>([
    [0, '0.0'],
    [-0, '-0.0'],
    [1, '1.0'],
    [-2, '-2.0'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    [1 / 3, '0.3333333333333333'],
    [2 / 3, '0.6666666666666666'],
    [5e-324, '5e-324'],
    [2.2250738585072014e-308, '2.2250738585072014e-308'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [1e300, '1e+300'],
    [-1e300, '-1e+300'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [9999999999999998, '9999999999999998.0'],
    [1e15, '1000000000000000.0'],
    [123456789.123, '123456789.123'],
    [2 ** 53, '9007199254740992.0'],
    [1e21, '1e+21'],
    [1e22, '1e+22'],
    [123456789012345680000, '1.2345678901234568e+20'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [1e-5, '1e-05'],
    [1.234e-5, '1.234e-05'],
    [1.5e-7, '1.5e-07'],
    [1e-100, '1e-100'],
    [Number.NaN, 'nan'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NEGATIVE_INFINITY, '-inf'],
  ])('%d → %s', (n, repr) => {
    expect(pyFloatRepr(n)).toBe(repr);
  });
});

describe('isPyInt', () => {
  it('is true exactly for safe integers other than -0', () => {
    expect(isPyInt(0)).toBe(true);
    expect(isPyInt(-5)).toBe(true);
    expect(isPyInt(2 ** 53 - 1)).toBe(true);
    expect(isPyInt(2 ** 53)).toBe(false);
    expect(isPyInt(-0)).toBe(false);
    expect(isPyInt(1.5)).toBe(false);
    expect(isPyInt(Number.NaN)).toBe(false);
  });
});

describe('pyFloatFromString', () => {
  it.each<[string, number]>([
    ['nan', Number.NaN],
    ['-NaN', Number.NaN],
    ['inf', Number.POSITIVE_INFINITY],
    [' +Infinity ', Number.POSITIVE_INFINITY],
    ['-inf', Number.NEGATIVE_INFINITY],
    ['1.5', 1.5],
    ['-0.0', -0],
    ['1_000.5', 1000.5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e-3', 0.001],
  ])('%j → %d', (s, n) => {
    expect(Object.is(pyFloatFromString(s), n)).toBe(true);
  });

  it.each(['', 'x', '1..2', '1_', '0x10', 'in f', '1e'])('refuses %j', (s) => {
    expect(pyFloatFromString(s)).toBeUndefined();
  });
});

describe('pyStrRepr', () => {
  it.each<[string, string]>([
    ['', "''"],
    ['abc', "'abc'"],
    ["it's", `"it's"`],
    ['say "x"', `'say "x"'`],
    [`'"`, `'\\'"'`],
    ['a\\b', "'a\\\\b'"],
    ['\t\n\r', "'\\t\\n\\r'"],
    ['\0\x07\x1b\x7f', "'\\x00\\x07\\x1b\\x7f'"],
    ['\x80\x9f\xa0\xad\xff', "'\\x80\\x9f\\xa0\\xad\xff'"],
    ['é ✓ 日本 😀', "'é ✓ 日本 😀'"],
    ['\u2028\u2029\ufeff\ufffe', "'\\u2028\\u2029\\ufeff\\ufffe'"],
    ['\ud800', "'\\ud800'"],
    ['\udfff\ud800', "'\\udfff\\ud800'"],
    ['\u{e0001}\u{10ffff}', "'\\U000e0001\\U0010ffff'"],
    ['\u{1f600}\u{1e030}', "'😀\\U0001e030'"],
  ])('%j', (s, repr) => {
    expect(pyStrRepr(s)).toBe(repr);
  });
});

describe('pyBytesRepr', () => {
  it.each<[number[] | string, string]>([
    [[], "b''"],
    ['abc', "b'abc'"],
    ["'", `b"'"`],
    [`'"`, `b'\\'"'`],
    ['\\', "b'\\\\'"],
    [[0, 9, 10, 13, 0x1f, 0x7f, 0x80, 0xff], "b'\\x00\\t\\n\\r\\x1f\\x7f\\x80\\xff'"],
  ])('%j', (b, repr) => {
    expect(pyBytesRepr(typeof b === 'string' ? Buffer.from(b, 'latin1') : new Uint8Array(b))).toBe(repr);
  });
});

describe('isPyPrintable (CPython 3.11, Unicode 14)', () => {
  it('agrees with str.isprintable() on sample code points', () => {
    const printable = [0x20, 0x7e, 0xa1, 0xe9, 0x378 + 2, 0x4e00, 0xfffd, 0x1f600, 0x20000, 0x2b738];
    const not = [
      0, 0x1f, 0x7f, 0x9f, 0xa0, 0xad, 0x378, 0x2028, 0xd800, 0xe000, 0xfeff, 0x1e030, 0x2b739, 0xe0001,
      0x10ffff,
    ];
    for (const cp of printable) expect(isPyPrintable(cp), cp.toString(16)).toBe(true);
    for (const cp of not) expect(isPyPrintable(cp), cp.toString(16)).toBe(false);
  });
});

describe('UTF-8 helpers', () => {
  it('find the first invalid byte', () => {
    const at = (...b: number[]) => invalidUtf8Offset(new Uint8Array(b));
    expect(at(0x61, 0x62)).toBe(-1);
    expect(at(0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80)).toBe(-1);
    expect(at(0x61, 0x80)).toBe(1);
    expect(at(0xc0, 0x80)).toBe(0); // overlong
    expect(at(0xe0, 0x80, 0x80)).toBe(0); // overlong
    expect(at(0xc3)).toBe(0); // truncated
    expect(at(0x61, 0xe2, 0x9c)).toBe(1);
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // beyond U+10FFFF
    expect(at(0xf5, 0x80, 0x80, 0x80)).toBe(0);
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // a surrogate
    expect(invalidUtf8Offset(new Uint8Array([0xed, 0xa0, 0x80]), true)).toBe(-1);
  });

  it('decode strictly, keep a BOM, and name the offset', () => {
    expect(decodeUtf8(Buffer.from('\ufeffé'), 'x')).toBe('\ufeffé');
    expect(() => decodeUtf8(new Uint8Array([0x61, 0x62, 0xff]), 'json')).toThrow(
      'invalid json data: not UTF-8 at byte offset 2',
    );
  });

  it('encode and decode lone surrogates like surrogatepass', () => {
    const s = 'a\ud800b\udfffc😀é';
    const b = encodeUtf8SurrogatePass(s);
    expect(Buffer.from(b).toString('hex')).toBe('61eda08062edbfbf63f09f9880c3a9');
    expect(decodeUtf8SurrogatePass(b)).toBe(s);
    expect(decodeUtf8SurrogatePass(new Uint8Array([0xff]))).toBeUndefined();
    const long = '\ud800'.repeat(5000);
    expect(decodeUtf8SurrogatePass(encodeUtf8SurrogatePass(long))).toBe(long);
  });
});
