// Micro-benchmark of the serializers (not a test): encode/decode of a small call envelope and of a
// call carrying a 1 MiB binary argument, per serializer, in ops/s and MB/s. msgpackr and cbor-x run
// the same payload shapes as a reference (plain values only: they have no hooks or revival).
//
//   node --conditions=@cinder/source --import ../../tooling/node-ts/register.mjs bench/serializers-bench.ts [--quick]
//
// Each figure is the best of several timed rounds, which filters out noise from a shared machine.
import { Decoder as CborXDecoder, Encoder as CborXEncoder } from 'cbor-x';
import { Packr, Unpackr } from 'msgpackr';
import { type CallEnvelope, createSerializers, type Serializer } from '../src/index.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 100 : 300;

interface Result {
  opsPerSec: number;
  mbPerSec: number;
}

/** Best-of-ROUNDS throughput of `fn`, each round running for about ROUND_MS. */
function measure(fn: () => unknown, bytesPerOp: number): Result {
  for (let i = 0; i < 50; i++) fn(); // warm up
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let ops = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < 16; i++) fn();
      ops += 16;
      now = process.hrtime.bigint();
    }
    const rate = ops / (Number(now - start) / 1e9);
    if (rate > best) best = rate;
  }
  return { opsPerSec: best, mbPerSec: (best * bytesPerOp) / (1024 * 1024) };
}

const small: CallEnvelope = {
  object: 'test.thing',
  method: 'add',
  params: [1, 2, 'hello world'],
  kwargs: { scale: 1.5 },
};
const blob = new Uint8Array(1 << 20);
for (let i = 0; i < blob.length; i++) blob[i] = (i * 131) & 0xff;
const big: CallEnvelope = { object: 'test.thing', method: 'echo', params: [blob], kwargs: {} };

const rows: string[][] = [];
function row(name: string, what: string, enc: Result, dec: Result, size: number): void {
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  rows.push([name, what, String(size), f(enc.opsPerSec), f(enc.mbPerSec), f(dec.opsPerSec), f(dec.mbPerSec)]);
}

function benchSerializer(s: Serializer): void {
  for (const [what, call] of [
    ['call', small],
    ['1 MiB bytes', big],
  ] as const) {
    const payload = s.encodeCall(call).slice();
    const enc = measure(() => s.encodeCall(call), payload.length);
    const dec = measure(() => s.decodeCall(payload), payload.length);
    row(s.name, what, enc, dec, payload.length);
  }
}

function benchReference(
  name: string,
  encode: (v: unknown) => Uint8Array,
  decode: (b: Uint8Array) => unknown,
): void {
  for (const [what, call] of [
    ['call', small],
    ['1 MiB bytes', big],
  ] as const) {
    const value = [call.object, call.method, call.params, call.kwargs];
    const payload = encode(value).slice();
    const enc = measure(() => encode(value), payload.length);
    const dec = measure(() => decode(payload), payload.length);
    row(name, what, enc, dec, payload.length);
  }
}

const set = createSerializers();
for (const s of set.all()) benchSerializer(s);
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
benchReference(
  '(msgpackr)',
  (v) => packr.pack(v),
  (b) => unpackr.unpack(b),
);
const cborx = new CborXEncoder({ useRecords: false });
const cborxd = new CborXDecoder({ useRecords: false });
benchReference(
  '(cbor-x)',
  (v) => cborx.encode(v),
  (b) => cborxd.decode(b),
);

const header = [
  'serializer',
  'payload',
  'bytes',
  'encode ops/s',
  'encode MB/s',
  'decode ops/s',
  'decode MB/s',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`node ${process.version}, best of ${ROUNDS} × ${ROUND_MS} ms`);
console.log(line(header));
for (const r of rows) console.log(line(r));
