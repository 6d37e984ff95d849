// Micro-benchmark of the codec (not a test): encode, decode and FrameReader throughput for a
// typical 60-byte call and a 1 MiB payload, both protocol versions. Run from the repo root:
//   node --conditions=@cinder/source --import ./tooling/node-ts/register.mjs packages/protocol/bench/codec-bench.ts
import {
  decodeMessage,
  encodeMessage,
  FrameReader,
  type Message,
  MsgType,
  SerializerId,
} from '../src/index.js';

interface Case {
  name: string;
  message: Message;
}

const call = Buffer.from('{"object":"calc","method":"add","params":[1,2],"kwargs":{}}');
const cases: Case[] = [
  {
    name: '60-byte call',
    message: {
      type: MsgType.INVOKE,
      flags: 0,
      seq: 1,
      serializerId: SerializerId.JSON,
      correlationId: null,
      annotations: null,
      payload: call,
    },
  },
  {
    name: '1 MiB payload',
    message: {
      type: MsgType.RESULT,
      flags: 0,
      seq: 1,
      serializerId: SerializerId.MSGPACK,
      correlationId: Buffer.alloc(16, 7),
      annotations: null,
      payload: Buffer.alloc(1024 * 1024, 0x5a),
    },
  },
];

/** Runs `fn` repeatedly for about `ms` milliseconds and returns operations per second. */
function measure(fn: () => void, ms = 1000): number {
  for (let i = 0; i < 200; i++) fn();
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    batch = Math.min(batch * 2, 4096);
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

/** Frames per second, and bytes per second where the bytes are really touched (copied). */
function format(opsPerSecond: number, bytes: number, copied = true): string {
  const ops =
    opsPerSecond >= 1e6 ? `${(opsPerSecond / 1e6).toFixed(2)} M/s` : `${(opsPerSecond / 1e3).toFixed(1)} k/s`;
  if (!copied) return `${ops.padStart(11)}  (payload not copied)`;
  const mbps = (opsPerSecond * bytes) / (1024 * 1024);
  return `${ops.padStart(11)}  ${mbps.toFixed(0).padStart(7)} MiB/s`;
}

let sink = 0;
console.log(`node ${process.version}, ${process.arch}`);
for (const version of [502, 48] as const) {
  for (const { name, message } of cases) {
    const frame = Buffer.concat(encodeMessage(message, { version }));
    const size = frame.length;
    const encode = measure(() => {
      sink += encodeMessage(message, { version }).length;
    });
    const decode = measure(() => {
      sink += decodeMessage(frame, { versions: [version] }).payload.length;
    });
    // A stream of 64 frames per push for the small call, one frame per push for the large one.
    const batch = size < 4096 ? 64 : 1;
    const stream = Buffer.concat(Array.from({ length: batch }, () => frame));
    const reader = new FrameReader({ maxMessageSize: 2 * 1024 * 1024, versions: [version] });
    const onMessage = (m: Message) => {
      sink += m.payload.length;
    };
    const read = measure(() => reader.push(stream, onMessage)) * batch;
    // The same frames arriving in 1400-byte pieces (a typical TCP segment), joined by the reader.
    const pieces: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1400) pieces.push(stream.subarray(i, i + 1400));
    const readSplit =
      measure(() => {
        for (const piece of pieces) reader.push(piece, onMessage);
      }) * batch;
    console.log(`\nprotocol ${version}, ${name} (frame ${size} bytes)`);
    // Small frames are copied into one buffer; large payloads are passed through as views.
    const copied = size < 16 * 1024;
    console.log(`  encode              ${format(encode, size, copied)}`);
    console.log(`  decodeMessage       ${format(decode, size, copied)}`);
    console.log(`  FrameReader         ${format(read, size, copied)}`);
    console.log(`  FrameReader, split  ${format(readSplit, size)}`);
  }
}
if (sink === -1) console.log(sink);
