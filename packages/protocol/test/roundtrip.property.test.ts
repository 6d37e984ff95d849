// Property tests: any message the model can express survives encode → decode (one-shot and
// through a FrameReader in random chunks) for both protocol versions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  Flags,
  FrameReader,
  type Message,
  type ProtocolVersion,
  PYRO4_ONLY_SERIALIZER_BASE,
} from '../src/index.js';
import { plain, prng, randomSplit } from './helpers.js';

const asciiId = fc.string({
  unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  minLength: 4,
  maxLength: 4,
});

const correlationId16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** Payloads mostly small, sometimes above the 16 KiB copy threshold, sometimes compressible. */
const payload = fc.oneof(
  { weight: 6, arbitrary: bytes(300) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 16 * 1024 - 2, max: 40 * 1024 }).map((n) => Buffer.alloc(n, n & 0xff)),
  },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2000 }).map((n) => Buffer.from('abc'.repeat(n))) },
);

function messageArbitrary(version: ProtocolVersion): fc.Arbitrary<Message> {
  const serializerId =
    version === 502
      ? fc.integer({ min: 0, max: 255 })
      : fc.oneof(
          fc.constantFrom(1, 2, 3, 4, 42),
          fc
            .integer({ min: 0, max: 0xffff })
            .filter((x) => ![1, 2, 3, 6, 42].includes(x))
            .map((x) => PYRO4_ONLY_SERIALIZER_BASE + x),
        );
  // Pyro4 turns a 16-byte CORR annotation into the correlation id, and HMAC is the codec's own.
  const id = version === 502 ? asciiId : asciiId.filter((k) => k !== 'CORR' && k !== 'HMAC');
  return fc.record({
    type: fc.integer({ min: 1, max: 6 }),
    flags: fc.integer({ min: 0, max: version === 502 ? 0x7fff : 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffff }),
    serializerId,
    correlationId: fc.option(correlationId16, { nil: null }),
    annotations: fc.option(
      fc
        .uniqueArray(fc.tuple(id, bytes(200)), { selector: ([k]) => k, minLength: 1, maxLength: 5 })
        .map((e) => new Map(e)),
      { nil: null },
    ),
    payload,
  });
}

/** What decoding must give back: COMPRESSED never shows, CORR_ID follows the correlation id. */
function expected(m: Message): Message {
  const flags =
    (m.flags & ~(Flags.COMPRESSED | Flags.CORR_ID)) | (m.correlationId !== null ? Flags.CORR_ID : 0);
  return { ...m, flags };
}

for (const version of [502, 48] as const) {
  describe(`protocol ${version} round trip`, () => {
    it('decodeMessage(encodeMessage(m)) == m', () => {
      fc.assert(
        fc.property(
          messageArbitrary(version).chain((m) =>
            fc.record({
              m: fc.constant(m),
              corr: fc.option(correlationId16, { nil: null }),
              compressAbove: fc.constantFrom(0, 1, 100),
              key:
                version === 48
                  ? fc.option(
                      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
                      { nil: undefined },
                    )
                  : fc.constant(undefined),
            }),
          ),
          ({ m, corr, compressAbove, key }) => {
            const message = { ...m, correlationId: corr };
            const chunks = encodeMessage(message, { version, compressAbove, hmacKey: key });
            const frame = Buffer.concat(chunks);
            const decoded = decodeMessage(frame, { versions: [version], hmacKey: key });
            expect(plain(decoded)).toEqual(plain(expected(message)));
            const compressed = (frame.readUInt16BE(8) & Flags.COMPRESSED) !== 0;
            if (!compressed) {
              // Large payloads travel as their own chunk, uncopied.
              if (message.payload.length >= 16 * 1024) expect(chunks[1]).toBe(message.payload);
              else expect(chunks).toHaveLength(1);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('a FrameReader yields the same messages for any chunking of a stream', () => {
      fc.assert(
        fc.property(
          fc.array(messageArbitrary(version), { minLength: 1, maxLength: 6 }),
          fc.integer({ min: 1, max: 5000 }),
          fc.integer(),
          (messages, maxChunk, seed) => {
            const stream = Buffer.concat(
              messages.flatMap((m) => encodeMessage(m, { version, compressAbove: 100 })),
            );
            const reader = new FrameReader({ maxMessageSize: 1 << 20, versions: [502, 48] });
            const got: Message[] = [];
            for (const chunk of randomSplit(stream, maxChunk, prng(seed)))
              reader.push(chunk, (m) => got.push(m));
            expect(got.map(plain)).toEqual(messages.map((m) => plain(expected(m))));
            expect(reader.buffered).toBe(0);
            expect(reader.version).toBe(version);
          },
        ),
        { numRuns: 150 },
      );
    });
  });
}
