// Malformed input of every kind: the decoders return a value or throw a SerializeError, nothing else,
// and never hang (each input is decoded within the test's time bound).
import { SerializeError } from '@cinder/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson, encodeJson } from '../../src/formats/json.js';
import { decodeMarshal, encodeMarshal } from '../../src/formats/marshal.js';
import { decodeSerpent, encodeSerpent } from '../../src/formats/serpent.js';
import { modelValue } from './helpers.js';

type Codec = [
  name: string,
  encode: (v: unknown) => Uint8Array,
  decode: (b: Uint8Array) => unknown,
  tokens: number[],
];

const text = (s: string) => [...Buffer.from(s, 'latin1')];
// marshal: every type code, with and without FLAG_REF, and small length bytes.
const MARSHAL_TOKENS = text('0NFTSi.lfgxysrt([{c}u<>aA)zZ?')
  .flatMap((c) => [c, c | 0x80])
  .concat([0, 1, 2, 3, 0xff]);

const codecs: Codec[] = [
  ['json', (v) => encodeJson(v), (b) => decodeJson(b), text('[]{},:"\\ 0123456789.eE+-tfnulraseNIy\t\nbu')],
  [
    'serpent',
    (v) => encodeSerpent(v),
    (b) => decodeSerpent(b),
    text('[]{}(),:\'"\\ 0123456789._eEjJxXoObB+-TrueFalsNoset#\nrbu'),
  ],
  ['marshal', (v) => encodeMarshal(v), (b) => decodeMarshal(b), MARSHAL_TOKENS],
];

function decodesOrThrowsSerializeError(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  let thrown: unknown;
  try {
    decode(bytes);
  } catch (err) {
    thrown = err;
  }
  if (thrown !== undefined) expect(thrown).toBeInstanceOf(SerializeError);
}

/** Mutations of valid encodings: byte flips, insertions, deletions and truncations. */
function mutated(encode: (v: unknown) => Uint8Array, format: 'json' | 'serpent' | 'marshal') {
  return fc
    .tuple(
      modelValue(format),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom('flip', 'insert', 'delete', 'cut'),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
    )
    .map(([v, edits]) => {
      const bytes = [...encode(v)];
      for (const [at, byte, op] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (op === 'flip') bytes[i] = byte;
        else if (op === 'insert') bytes.splice(i, 0, byte);
        else if (op === 'delete') bytes.splice(i, 1);
        else bytes.length = i;
      }
      return new Uint8Array(bytes);
    });
}

describe.each(codecs)('%s decoder on malformed input', (name, encode, decode, tokens) => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => decodesOrThrowsSerializeError(decode, b)),
      { numRuns: 500 },
    );
  });

  it('mutated valid encodings', () => {
    fc.assert(
      fc.property(mutated(encode, name as 'json' | 'serpent' | 'marshal'), (b) =>
        decodesOrThrowsSerializeError(decode, b),
      ),
      { numRuns: 500 },
    );
  });

  it('sequences of the format’s own tokens', () => {
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((a) => new Uint8Array(a));
    fc.assert(
      fc.property(soup, (b) => decodesOrThrowsSerializeError(decode, b)),
      { numRuns: 1000 },
    );
  });
});
