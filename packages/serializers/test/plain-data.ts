// The plain data every mainstream codec library agrees on (ints, doubles, strings, booleans, null,
// bytes, arrays, string-keyed dicts), for the tests that compare our cbor and msgpack with cbor-x
// and msgpackr in both directions.
import fc from 'fast-check';

export const plainData: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(
      fc.integer(),
      fc.maxSafeInteger(),
      // cbor-x and msgpackr write -0 as the int 0.
      fc.double().filter((d) => !Object.is(d, -0)),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 8 }),
    ),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'),
      tie('v'),
      { maxKeys: 4 },
    ),
  ),
})).v;
