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
