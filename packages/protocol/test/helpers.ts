// Helpers shared by the protocol tests: a sample message, comparable views of messages and vector
// frames.
import { loadVectors, type VectorLine, vectorFiles } from '@cinder/test-utils';
import { type Message, MsgType, SerializerId } from '../src/index.js';

/** An INVOKE with a json call payload, changed by `overrides`. */
export function message(overrides: Partial<Message> = {}): Message {
  return {
    type: MsgType.INVOKE,
    flags: 0,
    seq: 1,
    serializerId: SerializerId.JSON,
    correlationId: null,
    annotations: null,
    payload: Buffer.from('{"object": "test.thing", "method": "add", "params": [1, 2], "kwargs": {}}'),
    ...overrides,
  };
}

/** A message as plain data (hex strings), for deep equality in assertions. */
export function plain(m: Message): Record<string, unknown> {
  return {
    type: m.type,
    flags: m.flags,
    seq: m.seq,
    serializerId: m.serializerId,
    correlationId: m.correlationId === null ? null : Buffer.from(m.correlationId).toString('hex'),
    annotations:
      m.annotations === null ? null : [...m.annotations].map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
    payload: Buffer.from(m.payload).toString('hex'),
  };
}

/** Every line that carries a frame, from every vector file except the UDP broadcast one. */
export function frameLines(): VectorLine[] {
  const out: VectorLine[] = [];
  for (const file of vectorFiles) {
    if (file === 'broadcast') continue;
    for (const line of loadVectors(file)) if (line.frame_hex !== null) out.push(line);
  }
  return out;
}

/** The HMAC key a vector line was signed with, as bytes. */
export function lineKey(line: VectorLine): Buffer | undefined {
  return line.hmac_key === undefined ? undefined : Buffer.from(line.hmac_key, 'utf8');
}

/** `${file}/${scenario}#${step}`, for test names and messages. */
export function lineName(line: VectorLine): string {
  return `${line.file}/${line.scenario}#${line.step}`;
}

/** A small seeded PRNG (mulberry32), so random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `bytes` into chunks of random sizes between 1 and `maxSize`. */
export function randomSplit(bytes: Buffer, maxSize: number, random: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(random() * maxSize);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}
