// encodeMessage/decodeMessage contract: chunking, compression rules of each protocol, field
// validation on send, and the typed errors for malformed frames the vectors do not contain.
import { inflateSync } from 'node:zlib';
import { ConfigError, MessageTooLargeError, ProtocolError, SecurityError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import {
  bufferView,
  decodeMessage,
  encodeFrame502,
  encodeMessage,
  encodeMessageInto,
  Flags,
  frameVersion,
  fromPyro4Flags,
  HEADER_SIZE_48,
  HEADER_SIZE_502,
  isPyroFrameStart,
  type Message,
  MsgType,
  type ProtocolVersion,
  PYRO4_ONLY_SERIALIZER_BASE,
  Pyro4Flags,
  pyro4Checksum,
  pyro4Hmac,
  SerializerId,
  toPyro4Flags,
  toPyro4SerializerId,
} from '../src/index.js';
import { message, plain, prng } from './helpers.js';

function encode(
  version: ProtocolVersion,
  m: Message,
  extra: { compressAbove?: number; hmacKey?: Buffer } = {},
): Buffer {
  return Buffer.concat(encodeMessage(m, { version, ...extra }));
}

function randomBytes(n: number, seed: number): Buffer {
  const random = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
}

/** Rewrites a Pyro4 header field and keeps the checksum valid, to reach the checks behind it. */
function patch48(frame: Buffer, edit: (f: Buffer) => void): Buffer {
  const out = Buffer.from(frame);
  edit(out);
  out.writeUInt16BE(
    pyro4Checksum(
      out.readUInt16BE(6),
      out.readUInt16BE(8),
      out.readUInt16BE(10),
      out.readUInt32BE(12),
      out.readUInt16BE(16),
      out.readUInt16BE(18),
    ),
    22,
  );
  return out;
}

describe('bufferView', () => {
  it('is a Buffer over the same memory, from a Buffer or a plain Uint8Array at any offset', () => {
    const pooled = Buffer.from('..hello, world..'); // cut from Node's pool: a byteOffset
    const plainArray = new Uint8Array(pooled.buffer, pooled.byteOffset + 2, 12);
    for (const [source, start] of [
      [pooled, 2],
      [plainArray, 0],
    ] as const) {
      const v = bufferView(source, start, start + 5);
      expect(Buffer.isBuffer(v)).toBe(true);
      expect(v.toString()).toBe('hello');
      expect(v.buffer).toBe(pooled.buffer);
      v[0] = 0x48; // a view: the source sees the write
      expect(pooled.toString()).toBe('..Hello, world..');
      pooled[2] = 0x68;
    }
    expect(bufferView(pooled, 4, 4).length).toBe(0);
  });
});

describe('encodeMessage', () => {
  it('matches the worked example of the reference (Pyro5 INVOKE add(1,2))', () => {
    const out = encode(502, message());
    expect(out.subarray(0, HEADER_SIZE_502).toString('hex')).toBe(
      '5059524f01f60403000000010000004900000000000000000000000000000000000000000000' + '4dc5',
    );
  });

  it('returns one chunk below 16 KiB and leaves a larger payload uncopied', () => {
    for (const version of [502, 48] as const) {
      expect(encodeMessage(message({ payload: Buffer.alloc(16 * 1024 - 1) }), { version })).toHaveLength(1);
      const payload = Buffer.alloc(16 * 1024);
      const chunks = encodeMessage(message({ payload }), { version });
      expect(chunks).toHaveLength(2);
      expect(chunks[1]).toBe(payload);
      expect(chunks[0]!.length).toBe(version === 502 ? HEADER_SIZE_502 : HEADER_SIZE_48);
    }
  });

  it('compresses like Pyro5: above the threshold, level 4, always', () => {
    const payload = Buffer.from('a'.repeat(101));
    const out = encode(502, message({ payload }), { compressAbove: 100 });
    expect(out.readUInt16BE(8) & Flags.COMPRESSED).toBe(Flags.COMPRESSED);
    expect(out.subarray(HEADER_SIZE_502, HEADER_SIZE_502 + 2).toString('hex')).toBe('785e');
    expect(inflateSync(out.subarray(HEADER_SIZE_502)).equals(payload)).toBe(true);
    // At the threshold, or with compression off, nothing changes.
    expect(
      encode(502, message({ payload: payload.subarray(0, 100) }), { compressAbove: 100 }).readUInt16BE(8),
    ).toBe(0);
    expect(encode(502, message({ payload }), { compressAbove: 0 }).readUInt16BE(8)).toBe(0);
    // Pyro5 compresses even when it does not pay off.
    const noise = randomBytes(500, 1);
    expect(
      encode(502, message({ payload: noise }), { compressAbove: 100 }).readUInt16BE(8) & Flags.COMPRESSED,
    ).toBe(Flags.COMPRESSED);
  });

  it('compresses like Pyro4: default level, and only when the result is smaller', () => {
    const payload = Buffer.from('b'.repeat(300));
    const out = encode(48, message({ payload }), { compressAbove: 199 });
    expect(out.readUInt16BE(8) & Pyro4Flags.COMPRESSED).toBe(Pyro4Flags.COMPRESSED);
    expect(out.subarray(HEADER_SIZE_48, HEADER_SIZE_48 + 2).toString('hex')).toBe('789c');
    const noise = randomBytes(500, 2);
    const plainFrame = encode(48, message({ payload: noise }), { compressAbove: 199 });
    expect(plainFrame.readUInt16BE(8) & Pyro4Flags.COMPRESSED).toBe(0);
    expect(plainFrame.subarray(HEADER_SIZE_48).equals(noise)).toBe(true);
  });

  it('sets CORR_ID exactly when there is a correlation id (502)', () => {
    const corr = Buffer.alloc(16, 0xab);
    const withId = encode(502, message({ correlationId: corr }));
    expect(withId.readUInt16BE(8)).toBe(Flags.CORR_ID);
    expect(withId.subarray(20, 36).equals(corr)).toBe(true);
    const without = encode(502, message({ flags: Flags.CORR_ID }));
    expect(without.readUInt16BE(8)).toBe(0);
    expect(without.subarray(20, 38).equals(Buffer.alloc(18))).toBe(true);
  });

  it('writes annotations in map order, then CORR, then HMAC (Pyro4)', () => {
    const key = Buffer.from('k');
    const corr = Buffer.alloc(16, 1);
    const annotations = new Map([
      ['ZZZZ', Buffer.from('z')],
      ['AAAA', Buffer.from('aa')],
    ]);
    const out = encode(48, message({ correlationId: corr, annotations }), { hmacKey: key });
    const ids: string[] = [];
    for (
      let p = HEADER_SIZE_48;
      p < HEADER_SIZE_48 + out.readUInt16BE(18);
      p += 6 + out.readUInt16BE(p + 4)
    ) {
      ids.push(out.toString('latin1', p, p + 4));
    }
    expect(ids).toEqual(['ZZZZ', 'AAAA', 'CORR', 'HMAC']);
    const payload = message().payload;
    // HMAC-SHA1 over the data, then the values in sorted id order: AAAA, CORR, ZZZZ.
    const expected = pyro4Hmac(key, payload, new Map([...annotations, ['CORR', corr]]));
    expect(out.subarray(out.length - payload.length - 20, out.length - payload.length).equals(expected)).toBe(
      true,
    );
    expect(pyro4Hmac(key, payload, annotations, corr).equals(expected)).toBe(true);
  });

  it('replaces a stale CORR or HMAC annotation instead of sending it twice (Pyro4)', () => {
    const key = Buffer.from('k');
    const m = message({
      correlationId: Buffer.alloc(16, 2),
      annotations: new Map([
        ['CORR', Buffer.alloc(16, 9)],
        ['HMAC', Buffer.alloc(20, 9)],
        ['XREQ', Buffer.from('x')],
      ]),
    });
    const decoded = decodeMessage(encode(48, m, { hmacKey: key }), { hmacKey: key });
    expect(Buffer.from(decoded.correlationId!).equals(Buffer.alloc(16, 2))).toBe(true);
    expect([...decoded.annotations!.keys()]).toEqual(['XREQ']);
  });

  it('refuses annotation ids that are not 4 ASCII characters and values that are not bytes', () => {
    for (const version of [502, 48] as const) {
      for (const id of ['abc', 'abcde', 'ab\u00e9d', '']) {
        expect(() => encode(version, message({ annotations: new Map([[id, Buffer.from('v')]]) }))).toThrow(
          ProtocolError,
        );
      }
      const notBytes = new Map([['XREQ', 'text' as unknown as Uint8Array]]);
      expect(() => encode(version, message({ annotations: notBytes }))).toThrow(/value must be bytes/);
    }
  });

  it('refuses fields the protocol cannot carry', () => {
    const bad: [ProtocolVersion, Partial<Message>, RegExp][] = [
      [502, { type: 0 }, /unknown message type 0/],
      [48, { type: 7 }, /unknown message type 7/],
      [502, { seq: 0x10000 }, /seq/],
      [48, { seq: -1 }, /seq/],
      [502, { seq: 1.5 }, /seq/],
      [502, { flags: 0x10000 }, /flags/],
      [502, { flags: Flags.META_ON_CONNECT }, /META_ON_CONNECT/],
      [502, { serializerId: 256 }, /serializer id 256/],
      [48, { serializerId: SerializerId.CBOR }, /no Pyro4 equivalent/],
      [502, { correlationId: Buffer.alloc(15) }, /correlation id/],
      [48, { correlationId: Buffer.alloc(17) }, /correlation id/],
      [502, { payload: 'text' as unknown as Uint8Array }, /payload must be bytes/],
      [48, { annotations: new Map([['XBIG', Buffer.alloc(0x10000)]]) }, /too long for protocol 48/],
      [
        48,
        {
          annotations: new Map([
            ['XBG1', Buffer.alloc(0x8000)],
            ['XBG2', Buffer.alloc(0x8000)],
          ]),
        },
        /annotations are too long for protocol 48/,
      ],
    ];
    for (const [version, fields, pattern] of bad) {
      let error: unknown;
      try {
        encode(version, message(fields));
      } catch (err) {
        error = err;
      }
      expect(error, String(pattern)).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(pattern);
    }
    expect(() => encodeMessage(message(), { version: 47 as ProtocolVersion })).toThrow(ConfigError);
  });

  it('enforces maxMessageSize on annotations + payload after compression', () => {
    for (const version of [502, 48] as const) {
      const m = message({
        payload: Buffer.alloc(1000, 0x41),
        annotations: new Map([['XREQ', Buffer.alloc(10)]]),
      });
      const annotations = version === 502 ? 18 : 16;
      expect(() => encodeMessage(m, { version, maxMessageSize: 1000 + annotations - 1 })).toThrow(
        new MessageTooLargeError(1000 + annotations, 1000 + annotations - 1),
      );
      expect(encodeMessage(m, { version, maxMessageSize: 1000 + annotations })).toHaveLength(1);
      // Compressed, the same message fits easily.
      expect(encodeMessage(m, { version, maxMessageSize: 100, compressAbove: 100 })).toHaveLength(1);
    }
  });
});

describe('encodeMessageInto', () => {
  it('writes exactly the bytes encodeMessage gives, at the offset, for small 502 frames', () => {
    const random = prng(4242);
    const out = Buffer.alloc(64 * 1024, 0xaa);
    let offset = 3;
    for (let i = 0; i < 200; i++) {
      const size = Math.floor(random() * 2000);
      const m = message({
        seq: i,
        payload: Buffer.alloc(size, i & 0xff),
        correlationId: i % 2 ? Buffer.alloc(16, i) : null,
        annotations: i % 3 ? new Map([['XREQ', Buffer.from(`v${i}`)]]) : null,
        ...(i % 5 === 0 ? { payloadTail: [] } : {}),
      });
      const expected = Buffer.concat(encodeMessage(m, { version: 502 }));
      if (offset + expected.length > out.length) offset = 0;
      const n = encodeMessageInto(m, { version: 502 }, out, offset, out.length - offset);
      expect(n).toBe(expected.length);
      expect(out.subarray(offset, offset + n).equals(expected)).toBe(true);
      expect(plain(decodeMessage(out.subarray(offset, offset + n)))).toEqual(plain(decodeMessage(expected)));
      offset += n;
    }
  });

  it('copies tiny payloads (a byte loop up to 8 bytes, set above) exactly, from any view, at any offset', () => {
    const random = prng(77);
    const out = Buffer.alloc(8 * 1024, 0xaa);
    let offset = 1;
    for (let size = 0; size <= 24; size++) {
      for (const kind of ['buffer', 'view', 'plain'] as const) {
        const bytes = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
        const backing = Buffer.concat([Buffer.alloc(5, 0x55), bytes, Buffer.alloc(3, 0x66)]);
        const payload =
          kind === 'buffer'
            ? Buffer.from(bytes)
            : kind === 'view'
              ? new Uint8Array(backing.buffer, backing.byteOffset + 5, size)
              : bytes;
        const m = message({ seq: size, payload });
        const expected = Buffer.concat(encodeMessage(m, { version: 502 }));
        const n = encodeMessageInto(m, { version: 502 }, out, offset, out.length - offset);
        expect(n).toBe(expected.length);
        expect(out.subarray(offset, offset + n).equals(expected)).toBe(true);
        expect(
          Buffer.from(decodeMessage(out.subarray(offset, offset + n)).payload).equals(Buffer.from(bytes)),
        ).toBe(true);
        expect(out[offset + n]).toBe(0xaa); // nothing past the frame
        offset += n + 1;
      }
    }
  });

  it('writes nothing and returns -1 when the frame does not fit, is large, has a tail or is protocol 48', () => {
    const out = Buffer.alloc(32 * 1024, 0xaa);
    const untouched = Buffer.from(out);
    const cases: Array<[Message, ProtocolVersion, number]> = [
      [message({ payload: Buffer.alloc(100) }), 502, 139],
      [message({ payload: Buffer.alloc(16 * 1024) }), 502, out.length],
      [message({ payload: Buffer.alloc(10), payloadTail: [Buffer.alloc(1)] }), 502, out.length],
      [message(), 48, out.length],
    ];
    for (const [m, version, room] of cases) {
      expect(encodeMessageInto(m, { version }, out, 0, room)).toBe(-1);
      expect(out.equals(untouched)).toBe(true);
    }
    expect(encodeMessageInto(message({ payload: Buffer.alloc(100) }), { version: 502 }, out, 0, 140)).toBe(
      140,
    );
  });

  it('throws for what encodeMessage refuses, before writing anything', () => {
    const out = Buffer.alloc(1024, 0xaa);
    const bad = message({ serializerId: 300 });
    expect(() => encodeMessageInto(bad, { version: 502 }, out, 0, out.length)).toThrow(ProtocolError);
    const big = message({ payload: Buffer.alloc(200) });
    expect(() => encodeMessageInto(big, { version: 502, maxMessageSize: 100 }, out, 0, out.length)).toThrow(
      MessageTooLargeError,
    );
    expect(out.every((b) => b === 0xaa)).toBe(true);
  });
});

describe('Pyro4 numbering', () => {
  it('translates every flag both ways', () => {
    expect(fromPyro4Flags(Pyro4Flags.META_ON_CONNECT)).toBe(Flags.META_ON_CONNECT);
    expect(fromPyro4Flags(Pyro4Flags.ITEMSTREAMRESULT)).toBe(Flags.ITEMSTREAMRESULT);
    expect(fromPyro4Flags(Pyro4Flags.KEEPSERIALIZED)).toBe(Flags.KEEPSERIALIZED);
    expect(fromPyro4Flags(0x0f)).toBe(Flags.EXCEPTION | Flags.ONEWAY | Flags.BATCH);
    expect(toPyro4Flags(Flags.CORR_ID | Flags.COMPRESSED)).toBe(0);
    for (let wire = 0; wire <= 0xffff; wire++) {
      // Every bit but COMPRESSED (codec-owned) and 0x8000 (no Pyro5 counterpart) survives.
      expect(toPyro4Flags(fromPyro4Flags(wire))).toBe(wire & 0x7ffd);
    }
  });

  it('maps serializer ids and keeps Pyro4-only ids apart', () => {
    expect([1, 2, 3, 6, 42].map((id) => toPyro4SerializerId(fromPyro4SerializerIdOf(id)))).toEqual([
      1, 2, 3, 6, 42,
    ]);
    expect(toPyro4SerializerId(SerializerId.JSON)).toBe(2);
    expect(toPyro4SerializerId(SerializerId.MARSHAL)).toBe(3);
    expect(toPyro4SerializerId(SerializerId.MSGPACK)).toBe(6);
    expect(toPyro4SerializerId(SerializerId.CBOR)).toBeUndefined();
    expect(toPyro4SerializerId(PYRO4_ONLY_SERIALIZER_BASE + 4)).toBe(4);
    expect(toPyro4SerializerId(PYRO4_ONLY_SERIALIZER_BASE + 0x10000)).toBeUndefined();
    // Pyro4's pickle (4) must not read as Pyro5's msgpack (4).
    const pickle = decodeMessage(encode(48, message({ serializerId: PYRO4_ONLY_SERIALIZER_BASE + 4 })));
    expect(pickle.serializerId).toBe(PYRO4_ONLY_SERIALIZER_BASE + 4);
    expect(pickle.serializerId).not.toBe(SerializerId.MSGPACK);
  });
});

function fromPyro4SerializerIdOf(wire: number): number {
  return decodeMessage(encode(48, message({ serializerId: PYRO4_ONLY_SERIALIZER_BASE + wire }))).serializerId;
}

describe('decodeMessage errors', () => {
  const frame502 = encode(502, message({ annotations: new Map([['XREQ', Buffer.from('abcd')]]) }));
  const frame48 = encode(48, message({ annotations: new Map([['XREQ', Buffer.from('abcd')]]) }));

  function error(frame: Uint8Array, options = {}): Error {
    try {
      decodeMessage(frame, options);
    } catch (err) {
      return err as Error;
    }
    throw new Error('decodeMessage accepted the frame');
  }

  it('refuses short and mis-sized frames', () => {
    expect(error(frame502.subarray(0, 5)).message).toBe(
      'incomplete frame: 5 bytes, the header alone needs 6',
    );
    expect(error(frame502.subarray(0, 39)).message).toBe(
      'incomplete frame: 39 bytes, the header alone needs 40',
    );
    expect(error(frame48.subarray(0, 23))).toBeInstanceOf(ProtocolError);
    expect(error(frame502.subarray(0, frame502.length - 1)).message).toMatch(/frame length mismatch/);
    expect(error(Buffer.concat([frame48, Buffer.of(0)])).message).toMatch(/frame length mismatch/);
  });

  it('refuses versions that are not accepted, with the texts of the expected peer', () => {
    expect(error(frame48, { versions: [502] }).message).toBe('invalid protocol version: 48');
    expect(error(frame502, { versions: [48] }).message).toBe('invalid data or unsupported protocol version');
  });

  it('refuses unknown message types', () => {
    const t7 = Buffer.from(frame502);
    t7[6] = 7;
    expect(error(t7).message).toBe('unknown message type 7');
    expect(error(patch48(frame48, (f) => f.writeUInt16BE(0, 6))).message).toBe('unknown message type 0');
  });

  it('refuses a Pyro4 data length that is negative as i32', () => {
    expect(error(patch48(frame48, (f) => f.writeUInt32BE(0x80000000, 12))).message).toBe(
      `invalid data length ${0x80000000 | 0}`,
    );
  });

  it('refuses annotation areas that do not add up', () => {
    // Area one byte longer than its chunk: a chunk header cannot fit in the leftover.
    const grow502 = Buffer.from(frame502);
    grow502.writeUInt32BE(13, 16);
    grow502.writeUInt32BE(grow502.readUInt32BE(12) - 1, 12);
    expect(error(grow502).message).toMatch(/annotations area ends inside a chunk header/);
    const grow48 = patch48(frame48, (f) => {
      f.writeUInt16BE(11, 18);
      f.writeUInt32BE(f.readUInt32BE(12) - 1, 12);
    });
    expect(error(grow48).message).toMatch(/annotations area ends inside a chunk header/);
    const nonAscii = Buffer.from(frame502);
    nonAscii[40] = 0xc3;
    expect(error(nonAscii).message).toBe('annotation id is not ASCII');
  });

  it('refuses a CORR annotation that is not 16 bytes (Pyro4)', () => {
    const frame = encode(48, message({ annotations: new Map([['CORR', Buffer.alloc(4)]]) }));
    expect(error(frame).message).toBe('CORR annotation must be 16 bytes, got 4');
  });

  it('refuses payloads flagged compressed that are not zlib', () => {
    const frame = Buffer.from(frame502);
    frame.writeUInt16BE(Flags.COMPRESSED, 8);
    const err = error(frame);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.message).toMatch(/^invalid compressed payload/);
  });

  it('refuses HMAC trouble with SecurityError', () => {
    const key = Buffer.from('secret');
    const signed = encode(48, message(), { hmacKey: key });
    expect(error(signed)).toEqual(new SecurityError('hmac key config not symmetric'));
    expect(error(frame48, { hmacKey: key })).toEqual(new SecurityError('hmac key config not symmetric'));
    expect(error(signed, { hmacKey: Buffer.from('other') })).toEqual(
      new SecurityError('message hmac mismatch'),
    );
    const tampered = Buffer.from(signed);
    tampered[tampered.length - 1]! ^= 1;
    expect(error(tampered, { hmacKey: key })).toEqual(new SecurityError('message hmac mismatch'));
    // HMAC is a Pyro4 matter: protocol 502 ignores the key both ways.
    expect(plain(decodeMessage(encode(502, message(), { hmacKey: key }), { hmacKey: key }))).toEqual(
      plain(message()),
    );
  });

  it('accepts zero-length annotations and payloads', () => {
    for (const version of [502, 48] as const) {
      const m = message({ payload: Buffer.alloc(0), annotations: new Map([['NONE', Buffer.alloc(0)]]) });
      expect(plain(decodeMessage(encode(version, m)))).toEqual(plain(m));
    }
  });
});

describe('sniffing', () => {
  it('recognises the start of frames of both versions', () => {
    expect(frameVersion(encode(502, message()))).toBe(502);
    expect(frameVersion(encode(48, message()))).toBe(48);
    expect(isPyroFrameStart(encode(48, message()).subarray(0, 6))).toBe(true);
    expect(isPyroFrameStart(encode(48, message()).subarray(0, 5))).toBe(false);
    expect(isPyroFrameStart(Buffer.from('PYRX\x01\xf6'))).toBe(false);
    expect(isPyroFrameStart(Buffer.from('PYRO\x01\xf5', 'latin1'))).toBe(false);
    expect(isPyroFrameStart(Buffer.from('GET / HTTP/1.1'))).toBe(false);
  });
});

describe('a frame made once (Message.frame)', () => {
  const payload = Buffer.from('{"handshake": "hello", "meta": {"methods": ["a", "b"]}}');
  const annotations = new Map([['CAPS', Buffer.from([0, 0, 0, 7])]]);
  const template = message({ type: MsgType.CONNECTOK, flags: Flags.CORR_ID, payload, annotations });
  const made = () => encodeFrame502({ ...template, seq: 0, correlationId: Buffer.alloc(16) });

  it("is copied with each message's seq and correlation id: the bytes encodeMessage gives", () => {
    const frame = made();
    const random = prng(9);
    const out = Buffer.alloc(4096, 0xaa);
    for (const seq of [0, 1, 0x1234, 0xffff]) {
      const correlationId = Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256)));
      const m = { ...template, seq, correlationId };
      const expected = Buffer.concat(encodeMessage(m, { version: 502 }));
      const n = encodeMessageInto({ ...m, frame }, { version: 502 }, out, 5, out.length - 5);
      expect(n).toBe(expected.length);
      expect(out.subarray(5, 5 + n).equals(expected)).toBe(true);
      expect(out[5 + n]).toBe(0xaa);
    }
  });

  it('is what is sent when it applies, and ignored for a message that differs in anything else', () => {
    const frame = made();
    // a frame's bytes are copied, not re-encoded: marked ones show it (never done outside a test)
    const marked = { ...frame, bytes: Buffer.from(frame.bytes) };
    marked.bytes[marked.bytes.length - 1] = 0x21;
    const out = Buffer.alloc(4096);
    const m = { ...template, seq: 3, correlationId: Buffer.alloc(16, 1) };
    const n = encodeMessageInto({ ...m, frame: marked }, { version: 502 }, out, 0, out.length);
    expect(out[n - 1]).toBe(0x21);
    const others: Message[] = [
      { ...m, payload: Buffer.from(payload) }, // equal bytes, another buffer
      { ...m, annotations: new Map(annotations) },
      { ...m, flags: Flags.CORR_ID | Flags.ONEWAY },
      { ...m, serializerId: SerializerId.CBOR },
      { ...m, type: MsgType.CONNECTFAIL },
      { ...m, correlationId: null },
    ];
    for (const other of others) {
      const expected = Buffer.concat(encodeMessage(other, { version: 502 }));
      const k = encodeMessageInto({ ...other, frame: marked }, { version: 502 }, out, 0, out.length);
      expect(out.subarray(0, k).equals(expected)).toBe(true);
    }
    // a connection that compresses this payload encodes it as usual (compressed)
    const compressed = encodeMessageInto(
      { ...m, frame: marked },
      { version: 502, compressAbove: 10 },
      out,
      0,
      4096,
    );
    expect(
      Buffer.from(out.subarray(0, compressed)).equals(
        Buffer.concat(encodeMessage(m, { version: 502, compressAbove: 10 })),
      ),
    ).toBe(true);
  });

  it("keeps the connection's limits and the field checks", () => {
    const frame = made();
    const out = Buffer.alloc(4096, 0xaa);
    const untouched = Buffer.from(out);
    const m = { ...template, seq: 1, correlationId: Buffer.alloc(16), frame };
    expect(() => encodeMessageInto(m, { version: 502, maxMessageSize: 20 }, out, 0, out.length)).toThrow(
      MessageTooLargeError,
    );
    expect(encodeMessageInto(m, { version: 502 }, out, 0, frame.bytes.length - 1)).toBe(-1);
    expect(() => encodeMessageInto({ ...m, seq: 0x10000 }, { version: 502 }, out, 0, out.length)).toThrow(
      ProtocolError,
    );
    expect(() =>
      encodeMessageInto({ ...m, correlationId: Buffer.alloc(15) }, { version: 502 }, out, 0, out.length),
    ).toThrow(ProtocolError);
    expect(out.equals(untouched)).toBe(true);
    expect(() => encodeFrame502({ ...template, correlationId: null })).toThrow(ProtocolError);
  });
});
