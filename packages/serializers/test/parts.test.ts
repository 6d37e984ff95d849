// Large byte strings: encoded by reference (the caller's buffer becomes a payload part, not a copy)
// and decoded as views of the received payload, for the binary serializers; small ones are copied.
import { describe, expect, it } from 'vitest';
import { createSerializers } from '../src/index.js';

const set = createSerializers();

describe.each(['cbor', 'msgpack'])('%s parts', (name) => {
  const s = set.byName(name)!;
  const big = new Uint8Array(200_000).fill(9);
  const small = new Uint8Array(10).fill(1);

  it('references large byte strings instead of copying them', () => {
    const parts = s.encodeParts!({ a: big, b: small, c: 'text' });
    expect(parts).toContain(big);
    expect(parts.length).toBe(3);
    const whole = Buffer.concat(parts);
    expect(Buffer.from(whole)).toEqual(Buffer.from(s.encode({ a: big, b: small, c: 'text' })));
    const back = s.decode(whole) as { a: Uint8Array; b: Uint8Array; c: string };
    expect(back.a.length).toBe(big.length);
    expect(back.c).toBe('text');
  });

  it('call envelopes too, and a message without large strings stays one part', () => {
    const parts = s.encodeCallParts!({ object: 'o', method: 'transfer', params: [big, big], kwargs: {} });
    expect(parts.filter((p) => p === big).length).toBe(2);
    const call = s.decodeCall(Buffer.concat(parts));
    expect(call.params.length).toBe(2);
    expect((call.params[1] as Uint8Array).length).toBe(big.length);
    expect(s.encodeParts!({ small }).length).toBe(1);
  });

  it('decodes large byte strings as views of the payload, small ones as copies', () => {
    const payload = Buffer.concat(s.encodeParts!([big, small]));
    const [bigBack, smallBack] = s.decode(payload) as [Uint8Array, Uint8Array];
    expect(bigBack.buffer).toBe(payload.buffer);
    expect(smallBack.buffer).not.toBe(payload.buffer);
  });
});

describe.each(['cbor', 'msgpack'])('%s payloads carved from the shared slab', (name) => {
  const s = set.byName(name)!;

  it('every payload is a view of the slab it was written in, with its own bytes, across slab replacements', () => {
    // ~150 KiB of payloads: the 32 KiB slab is replaced several times, once by a message that
    // grows past it (copied to a buffer of its own), and the payloads in between are views.
    const values = Array.from({ length: 1500 }, (_, i) =>
      i % 500 === 250
        ? 'x'.repeat(40_000 + i)
        : { i, text: `value ${i}`, bytes: new Uint8Array(40).fill(i & 0xff) },
    );
    const out = values.map((v) => s.encode(v));
    const buffers = new Set(out.map((p) => p.buffer));
    expect(buffers.size).toBeGreaterThan(4);
    for (let i = 0; i < values.length; i++) {
      const fresh = createSerializers().byName(name)!.encode(values[i]);
      expect(Buffer.from(out[i]!)).toEqual(Buffer.from(fresh));
      expect(s.decode(out[i]!)).toEqual(values[i]);
    }
    // the parts of a message written after all that are views too
    const [part] = s.encodeCallParts!({ object: 'o', method: 'm', params: [1], kwargs: {} });
    expect(Buffer.from(s.encodeCall({ object: 'o', method: 'm', params: [1], kwargs: {} }))).toEqual(
      Buffer.from(part!),
    );
  });
});

describe.each(['cbor', 'msgpack'])('%s small byte strings are copies', (name) => {
  const s = set.byName(name)!;

  it('of the right bytes, in memory of their own, whatever the payload is a view of', () => {
    for (const size of [0, 1, 7, 15, 16, 17, 31, 100, 5000]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 131 + size) & 0xff);
      const encoded = s.encode(['x', bytes, 'y']);
      // the payload as the frame reader hands it: a Buffer view into a larger slab, at an offset
      const slab = Buffer.alloc(encoded.length + 37, 0xee);
      slab.set(encoded, 13);
      for (const payload of [slab.subarray(13, 13 + encoded.length), Uint8Array.from(encoded)]) {
        const [, back] = s.decode(payload) as [string, Uint8Array, string];
        expect(Buffer.isBuffer(back)).toBe(false);
        expect(back.buffer).not.toBe(payload.buffer);
        expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
        payload.fill(0); // the copy does not change with the payload
        expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
      }
    }
  });
});
