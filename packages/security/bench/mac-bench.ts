// Micro-benchmark of per-message authentication: sign + verify pairs per second for a 60-byte and a
// 64 KiB payload, next to a bare HMAC-SHA256 of the same bytes as the floor. Run with
//   node --conditions=@cinder/source --import ../../tooling/node-ts/register.mjs bench/mac-bench.ts
import { createHmac, randomBytes } from 'node:crypto';
import { type Message, MsgType, SerializerId } from '@cinder/protocol';
import { deriveSessionKeys, MessageAuthenticator, parseKey } from '../src/index.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 1000);

function measure(name: string, fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < DURATION_MS) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = performance.now();
  }
  const perSecond = (n * 1000) / (now - start);
  console.log(
    `${name.padEnd(44)} ${Math.round(perSecond).toLocaleString('en').padStart(10)} /s  ${(1e6 / perSecond).toFixed(2).padStart(7)} µs`,
  );
  return perSecond;
}

const keys = deriveSessionKeys(
  parseKey('benchmark key, 32 bytes or so!!'),
  randomBytes(32),
  randomBytes(32),
  1,
);
const sender = new MessageAuthenticator(keys.clientToServer, keys.serverToClient);
const receiver = new MessageAuthenticator(keys.serverToClient, keys.clientToServer);

console.log(`node ${process.version}, ${DURATION_MS} ms per case`);
for (const size of [60, 64 * 1024]) {
  const message: Message = {
    type: MsgType.INVOKE,
    flags: 0,
    seq: 1,
    serializerId: SerializerId.CBOR,
    correlationId: randomBytes(16),
    annotations: null,
    payload: randomBytes(size),
  };
  // The same object goes back and forth: sign adds CMAC, verify removes it, counters stay in step.
  const pairs = measure(`sign+verify, ${size}-byte payload`, () => {
    sender.sign(message);
    receiver.verify(message);
  });
  const floorKey = keys.clientToServer;
  const bytes = Buffer.concat([Buffer.alloc(44), message.payload]);
  const floor = measure(`  bare HMAC-SHA256 of ${bytes.length} bytes`, () => {
    createHmac('sha256', floorKey).update(bytes).digest();
  });
  console.log(
    `  -> ${((pairs * size) / 2 ** 20).toFixed(0)} MiB/s of payload signed and verified; ` +
      `one pair costs ${(floor / pairs).toFixed(2)}x one bare HMAC (a pair is two HMACs)`,
  );
}
