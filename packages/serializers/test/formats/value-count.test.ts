// The value counts of json and serpent text, which let the decoders refuse text over the decode
// budget before building anything: exact for valid text (else a valid payload could be refused, or a
// bomb parsed up to the budget), and the refusal comes before the parser looks at any value.
import { SerializeError } from '@cinder/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson, encodeJson } from '../../src/formats/json.js';
import { decodeSerpent, encodeSerpent } from '../../src/formats/serpent.js';
import { jsonValueCount, serpentValueCount } from '../../src/formats/value-count.js';
import { Complex } from '../../src/pyvalues.js';
import { modelValue } from './helpers.js';

/**
 * The values a decoded model value holds, as the parsers count them (containers, dict keys and
 * values, elements). A NaN decoded from serpent was the dict `{'__class__':'float','value':'nan'}`.
 */
function valuesIn(v: unknown, serpent: boolean): number {
  if (typeof v === 'number') return serpent && Number.isNaN(v) ? 5 : 1;
  if (typeof v !== 'object' || v === null || v instanceof Complex || v instanceof Uint8Array) return 1;
  let n = 1;
  if (Array.isArray(v) || v instanceof Set) {
    for (const x of v) n += valuesIn(x, serpent);
  } else if (v instanceof Map) {
    for (const [k, x] of v) n += valuesIn(k, serpent) + valuesIn(x, serpent);
  } else {
    for (const x of Object.values(v)) n += 1 + valuesIn(x, serpent);
  }
  return n;
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('value counts of json and serpent text', () => {
  it('json: equal to the values of the decoded text, for any value', () => {
    fc.assert(
      fc.property(modelValue('json'), (v) => {
        const t = text(encodeJson(v));
        expect(jsonValueCount(t)).toBe(valuesIn(decodeJson(encodeJson(v)), false));
      }),
      { numRuns: 400 },
    );
  });

  it('serpent: equal to the values of the decoded text, for any value', () => {
    fc.assert(
      fc.property(modelValue('serpent'), fc.boolean(), (v, bytesRepr) => {
        const data = encodeSerpent(v, { bytesRepr });
        expect(serpentValueCount(text(data), 100)).toBe(valuesIn(decodeSerpent(data), true));
      }),
      { numRuns: 400 },
    );
  });

  it.each([
    ['[]', 1],
    ['[ \n]', 1],
    ['[1, [ ], {}, {"a,b": "c:d\\"", "e": [2]}]', 10],
    ['"\\\\", 1', 2], // an escaped backslash ends the string
  ])('json %s holds %i values', (t, n) => {
    expect(jsonValueCount(t)).toBe(n);
  });

  it.each([
    ['# serpent utf-8 python3.2\n(1,)', 2],
    ['(1+2j)', 1],
    ['((1, 2),)', 4],
    ['((((5))))', 1],
    ['[set(), (), (1,2,), {1,2}]', 9],
    ["{'a':1, 'b':(2,),}", 6],
    ['\'it\\\'s, (a) [b]\', """x,\'\'\'y"""', 2],
    ["'''a\\'''', 3", 2],
    ["b'\\x00,', r'\\', '", 2],
  ])('serpent %s holds %i values', (t, n) => {
    expect(serpentValueCount(t, 100)).toBe(n);
  });

  it('stops counting past the limit', () => {
    const t = `[${'0,'.repeat(999)}0]`;
    expect(jsonValueCount(t, 10)).toBe(11);
    expect(serpentValueCount(t, 100, 10)).toBe(11);
  });

  it.each([
    ['json', (t: string) => decodeJson(Buffer.from(t), { maxItems: 1000 }), '[', '[], ', ']'],
    ['serpent', (t: string) => decodeSerpent(Buffer.from(t), { maxItems: 1000 }), '(', '(), ', ')'],
  ] as const)(
    '%s text over the budget is refused before any value is parsed',
    (_, decode, open, empty, close) => {
      // The first element is invalid: a parser counting as it goes would report that first.
      const over = `${open}@, ${empty.repeat(1000)}0${close}`;
      expect(() => decode(over)).toThrow(/more than maxItems=1000 values/);
      const within = `${open}@, ${empty.repeat(10)}0${close}`;
      expect(() => decode(within)).toThrow(SerializeError);
      expect(() => decode(within)).not.toThrow(/maxItems/);
    },
  );

  it('large json text within the budget but invalid is refused once, with the native parser’s words', () => {
    // Commas in a string make the quick bound pass the budget; the count says 3 values.
    const text = `["${','.repeat(2000)}", 0, @]`;
    expect(() => decodeJson(Buffer.from(text), { maxItems: 1000 })).toThrow(/^invalid json: /);
    expect(() => decodeJson(Buffer.from(text), { maxItems: 1000 })).toThrow(SerializeError);
  });

  it('a million and a half empty tuples or lists are refused without building any', () => {
    // A parser counting as it goes builds the budget's worth first (0.5–2 s); the count takes a few
    // tens of milliseconds. The bound is loose for a loaded machine but far below building them.
    for (const [decode, t] of [
      [decodeSerpent, `(${'(),'.repeat(1_500_000)})`],
      [decodeJson, `[${'[],'.repeat(1_500_000)}[]]`],
    ] as const) {
      const data = Buffer.from(t);
      const t0 = performance.now();
      expect(() => decode(data)).toThrow(/more than maxItems=250000 values/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });
});
