// Test helpers for the format codecs: the vectors' `$`-rendering of Python values (both directions)
// and a canonical text form of model values (from @cinder/test-utils), what each format turns a value
// into after a round trip, and fast-check arbitraries of model values.
import { createPyRender } from '@cinder/test-utils';
import fc from 'fast-check';
import { setOwn } from '../../src/formats/options.js';
import { Complex, Tuple } from '../../src/pyvalues.js';
import { expectedAfterRoundTrip, type RoundTripTraits } from '../round-trip.js';

export type Format = 'json' | 'serpent' | 'serpent-bytesrepr' | 'marshal';

/**
 * The vectors' rendering (README "Rendering of payload_decoded") in both directions, to hand values
 * to Python (test/formats/py/differential.py builds them), and the canonical text for exact
 * comparisons: one implementation for every package, in @cinder/test-utils.
 */
export const { fromRendering, toRendering, canon } = createPyRender({ Tuple, Complex });

/** What each format codec loses on a round trip (bare codecs: bytes are Pyro's base64 dict in text). */
const TRAITS: Record<Format, RoundTripTraits> = {
  json: {
    tuples: false,
    sets: false,
    emptySetIsTuple: false,
    jsonKeys: true,
    dates: false,
    bytesAsDict: true,
  },
  serpent: {
    tuples: true,
    sets: true,
    emptySetIsTuple: true,
    jsonKeys: false,
    dates: false,
    bytesAsDict: true,
  },
  'serpent-bytesrepr': { tuples: true, sets: true, emptySetIsTuple: true, jsonKeys: false, dates: false },
  marshal: { tuples: true, sets: true, emptySetIsTuple: false, jsonKeys: false, dates: false },
};

/** What decode(encode(v)) gives in a format: the format's own losses applied to v. */
export function normalizeFor(format: Format, v: unknown): unknown {
  return expectedAfterRoundTrip(TRAITS[format], v);
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

const loneSurrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');
const tricky = fc.constantFrom(
  '\\',
  "'",
  '"',
  '\n',
  '\r',
  '\t',
  '\0',
  '\x7f',
  '\x85',
  '\xa0',
  '\u2028',
  '\ufeff',
  '😀',
  'é',
  '\u0378',
  '#',
);

/** Strings with escapes, quotes, controls, non-BMP, unassigned code points (and lone surrogates if asked). */
export function pyString(surrogates: boolean): fc.Arbitrary<string> {
  const units: fc.Arbitrary<string>[] = [
    fc.string({ unit: 'binary', maxLength: 1 }),
    tricky,
    fc.string({ maxLength: 1 }),
  ];
  if (surrogates) units.push(loneSurrogate);
  return fc.string({ unit: fc.oneof(...units), maxLength: 12 });
}

const dictKey = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '$x', '0', '12') },
);

/** Model values a format can encode (json: no complex, no tuple keys; serpent: no NaN in complex). */
export function modelValue(format: Format): fc.Arbitrary<unknown> {
  const surrogates = format !== 'json';
  const str = pyString(surrogates);
  const bigOutside = fc
    .bigInt({ min: -(2n ** 200n), max: 2n ** 200n })
    .filter((b) => b > 9007199254740991n || b < -9007199254740991n);
  const int = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.integer({ min: -10, max: 300 }), bigOutside);
  const double = fc.double();
  const complexPart =
    format === 'serpent' || format === 'serpent-bytesrepr' ? fc.double({ noNaN: true }) : double;
  const scalars: fc.Arbitrary<unknown>[] = [
    fc.constant(null),
    fc.boolean(),
    int,
    double,
    str,
    fc.uint8Array({ maxLength: 12 }),
  ];
  if (format !== 'json')
    scalars.push(fc.tuple(complexPart, complexPart).map(([re, im]) => new Complex(re, im)));
  const scalar = fc.oneof(...scalars);
  // Keys Python and JavaScript agree are distinct: no bool/float keys next to ints (1 == True in Python).
  const hashable = fc.oneof(fc.integer({ min: -1000, max: 1000 }), bigOutside, fc.string({ maxLength: 6 }));
  const mapKey =
    format === 'json'
      ? fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.string({ maxLength: 6 }))
      : fc.oneof(
          hashable,
          fc.array(hashable, { maxLength: 3 }).map((a) => Tuple.fromArray(a)),
        );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(tie('value'), { maxLength: 4 }).map((a) => Tuple.fromArray(a)),
      fc.array(fc.tuple(dictKey, tie('value')), { maxLength: 4 }).map((pairs) => {
        const o: Record<string, unknown> = {};
        for (const [k, x] of pairs) setOwn(o, k, x);
        return o;
      }),
      fc
        .uniqueArray(fc.tuple(mapKey, tie('value')), {
          maxLength: 4,
          selector: ([k]) => (format === 'json' ? String(k) : canon(k)),
        })
        .map((pairs) => new Map(pairs)),
      fc.array(hashable, { maxLength: 4 }).map((a) => new Set(a)),
    ),
  }));
  return value;
}
