// A payload tail (large byte strings a serializer referenced instead of copying) goes on the wire
// right after the payload, uncopied, and reads back as one payload — also when compressed or
// sent as protocol 48 (where it is joined).
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type Message, MsgType, wholePayload } from '../src/index.js';

function message(tail: Uint8Array[]): Message {
  return {
    type: MsgType.INVOKE,
    flags: 0,
    seq: 3,
    serializerId: 3,
    correlationId: null,
    annotations: new Map([['XTRA', Uint8Array.of(1, 2)]]),
    payload: Buffer.from('head:'),
    payloadTail: tail,
  };
}

describe('payload tails', () => {
  const big = Buffer.alloc(100_000, 7);
  const small = Buffer.from(':end');

  it('are written after the payload without being copied', () => {
    const chunks = encodeMessage(message([big, small]), { version: 502 });
    expect(chunks.at(-2)).toBe(big);
    expect(chunks.at(-1)).toBe(small);
    const decoded = decodeMessage(Buffer.concat(chunks));
    expect(Buffer.from(decoded.payload)).toEqual(Buffer.concat([Buffer.from('head:'), big, small]));
    expect([...(decoded.annotations?.get('XTRA') ?? [])]).toEqual([1, 2]);
  });

  it('are joined when the frame is compressed or uses protocol 48', () => {
    for (const options of [{ version: 502, compressAbove: 100 }, { version: 48 }] as const) {
      const chunks = encodeMessage(message([big, small]), options);
      expect(chunks).not.toContain(big);
      const decoded = decodeMessage(Buffer.concat(chunks));
      expect(Buffer.from(decoded.payload)).toEqual(Buffer.concat([Buffer.from('head:'), big, small]));
    }
  });

  it('count towards the message size limit', () => {
    expect(() => encodeMessage(message([big]), { version: 502, maxMessageSize: 50_000 })).toThrow(
      /message too large/,
    );
  });

  it('wholePayload joins them, and is the payload itself without a tail', () => {
    expect(Buffer.from(wholePayload(message([small])))).toEqual(Buffer.from('head::end'));
    const plain = message([]);
    expect(wholePayload(plain)).toBe(plain.payload);
  });
});

describe('large frames across chunks', () => {
  it('are gathered as they arrive and decode like whole ones, whatever the chunking', async () => {
    const { FrameReader } = await import('../src/index.js');
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const frame = Buffer.concat(
      encodeMessage({ ...message([]), payload, payloadTail: [] }, { version: 502 }),
    );
    const next = Buffer.concat(encodeMessage(message([]), { version: 502 }));
    for (const size of [1, 999, 65_536, 100_000]) {
      const reader = new FrameReader({ maxMessageSize: 1 << 20, versions: [502] });
      const got: Message[] = [];
      const stream = Buffer.concat([frame, next]);
      for (let i = 0; i < stream.length; i += size) {
        reader.push(stream.subarray(i, i + size), (m) => got.push(m));
        reader.push(new Uint8Array(0), (m) => got.push(m));
        if (got.length === 0) expect(reader.buffered).toBe(Math.min(i + size, stream.length));
      }
      expect(got.length).toBe(2);
      expect(Buffer.from(got[0]!.payload).equals(payload)).toBe(true);
      expect(Buffer.from(got[1]!.payload).toString()).toBe('head:');
      expect(reader.buffered).toBe(0);
    }
  });
});
