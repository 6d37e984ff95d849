// Speed of the json, serpent and marshal codecs on a call envelope and on 1 MiB strings and bytes.
// Run from packages/serializers:
//   node --conditions=@cinder/source --import ../../tooling/node-ts/register.mjs bench/formats-bench.ts
import { decodeJson, decodeJsonText, encodeJson } from '../src/formats/json.js';
import { decodeMarshal, encodeMarshal } from '../src/formats/marshal.js';
import { decodeSerpent, encodeSerpent } from '../src/formats/serpent.js';
import { Tuple } from '../src/pyvalues.js';

interface Result {
  name: string;
  usPerOp: number;
  mbPerS?: number;
}

function bench(name: string, fn: () => unknown, bytes?: number, minMs = 400): Result {
  // Warm up until the JIT settles, then time batches until minMs has passed.
  const warmUntil = performance.now() + Math.min(minMs / 2, 200);
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  let batch = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    batch = Math.min(batch * 2, 1 << 14);
    elapsed = performance.now() - start;
  }
  const usPerOp = (elapsed * 1000) / ops;
  const r: Result = { name, usPerOp };
  if (bytes !== undefined) r.mbPerS = bytes / (1 << 20) / (usPerOp / 1e6);
  return r;
}

function report(results: Result[]): void {
  for (const r of results) {
    const speed = r.mbPerS === undefined ? '' : `  ${r.mbPerS.toFixed(0).padStart(6)} MiB/s`;
    const ops = 1e6 / r.usPerOp;
    console.log(
      `${r.name.padEnd(52)} ${r.usPerOp.toFixed(r.usPerOp < 10 ? 3 : 1).padStart(10)} µs/op  ${ops.toFixed(0).padStart(9)} op/s${speed}`,
    );
  }
}

const MiB = 1 << 20;
const envelope = { object: 'test.thing', method: 'add', params: [1, 2], kwargs: {} };
const envelopeTuple = Tuple.of<unknown>('test.thing', 'add', Tuple.of(1, 2), {});
const bigString = 'x'.repeat(MiB);
const bigUnicode = 'héllo wörld ✓ 日本 '.repeat(MiB / 16).slice(0, MiB);
const bigBytes = new Uint8Array(MiB).map((_, i) => (i * 31) & 0xff);

const jsonEnvelope = encodeJson(envelope);
const jsonEnvelopeText = Buffer.from(jsonEnvelope).toString();
const jsonEnvelopeNaN = encodeJson({ ...envelope, params: [1, Number.NaN] });
const jsonEnvelopeBig = encodeJson({ ...envelope, params: [1, 2n ** 64n] });
const jsonBigString = encodeJson(bigString);
const jsonBigUnicode = encodeJson(bigUnicode);
const jsonBigBytes = encodeJson(bigBytes);
const jsonEscaped = encodeJson([`${'line\n'.repeat(MiB / 5)}`, Number.NaN]);
const jsonBigStringNaN = encodeJson([bigString, Number.NaN]);

const serpentEnvelope = encodeSerpent(envelopeTuple);
const serpentBigString = encodeSerpent(bigString);
const serpentBigUnicode = encodeSerpent(bigUnicode);
const serpentBigBytes = encodeSerpent(bigBytes);
const serpentBigBytesRepr = encodeSerpent(bigBytes, { bytesRepr: true });

const marshalEnvelope = encodeMarshal(Tuple.of<unknown>('test.thing', 'add', [1, 2], {}));
const marshalBigString = encodeMarshal(bigString);
const marshalBigUnicode = encodeMarshal(bigUnicode);
const marshalBigBytes = encodeMarshal(bigBytes);

console.log(`node ${process.version}; envelope = ${jsonEnvelope.length} bytes of json`);
console.log('\njson');
report([
  bench('JSON.parse(text) (native baseline, no checks)', () => JSON.parse(jsonEnvelopeText)),
  bench('decode envelope (fast path: JSON.parse + check)', () => decodeJson(jsonEnvelope)),
  bench('decode envelope with NaN (full parser)', () => decodeJson(jsonEnvelopeNaN)),
  bench('decode envelope with 2**64 (full parser)', () => decodeJson(jsonEnvelopeBig)),
  bench('decodeJsonText envelope (no UTF-8 step)', () => decodeJsonText(jsonEnvelopeText)),
  bench('encode envelope', () => encodeJson(envelope)),
  bench('decode 1 MiB ascii string', () => decodeJson(jsonBigString), jsonBigString.length),
  bench(
    'decode 1 MiB ascii string + NaN (full parser)',
    () => decodeJson(jsonBigStringNaN),
    jsonBigStringNaN.length,
  ),
  bench('decode 1 MiB unicode string', () => decodeJson(jsonBigUnicode), jsonBigUnicode.length),
  bench(
    'decode 1 MiB of escaped lines + NaN (full parser)',
    () => decodeJson(jsonEscaped),
    jsonEscaped.length,
  ),
  bench('encode 1 MiB ascii string', () => encodeJson(bigString), MiB),
  bench('encode 1 MiB unicode string', () => encodeJson(bigUnicode), jsonBigUnicode.length),
  bench('decode 1 MiB bytes (base64 dict)', () => decodeJson(jsonBigBytes), jsonBigBytes.length),
  bench('encode 1 MiB bytes (base64 dict)', () => encodeJson(bigBytes), MiB),
]);

console.log('\nserpent');
report([
  bench('decode envelope', () => decodeSerpent(serpentEnvelope)),
  bench('encode envelope', () => encodeSerpent(envelopeTuple)),
  bench('decode 1 MiB ascii string', () => decodeSerpent(serpentBigString), serpentBigString.length),
  bench('decode 1 MiB unicode string', () => decodeSerpent(serpentBigUnicode), serpentBigUnicode.length),
  bench('encode 1 MiB ascii string', () => encodeSerpent(bigString), MiB),
  bench('encode 1 MiB unicode string', () => encodeSerpent(bigUnicode), serpentBigUnicode.length),
  bench('decode 1 MiB bytes (base64 dict)', () => decodeSerpent(serpentBigBytes), serpentBigBytes.length),
  bench('encode 1 MiB bytes (base64 dict)', () => encodeSerpent(bigBytes), MiB),
  bench(
    "decode 1 MiB bytes (b'...' literal)",
    () => decodeSerpent(serpentBigBytesRepr),
    serpentBigBytesRepr.length,
  ),
  bench("encode 1 MiB bytes (b'...' literal)", () => encodeSerpent(bigBytes, { bytesRepr: true }), MiB),
]);

console.log('\nmarshal');
report([
  bench('decode envelope', () => decodeMarshal(marshalEnvelope)),
  bench('encode envelope', () => encodeMarshal(envelopeTuple)),
  bench('decode 1 MiB ascii string', () => decodeMarshal(marshalBigString), marshalBigString.length),
  bench('decode 1 MiB unicode string', () => decodeMarshal(marshalBigUnicode), marshalBigUnicode.length),
  bench('encode 1 MiB ascii string', () => encodeMarshal(bigString), MiB),
  bench('encode 1 MiB unicode string', () => encodeMarshal(bigUnicode), marshalBigUnicode.length),
  bench('decode 1 MiB bytes', () => decodeMarshal(marshalBigBytes), MiB),
  bench('encode 1 MiB bytes', () => encodeMarshal(bigBytes), MiB),
]);
