// FrameReader over real vector streams in every chunking, and its contract: version detection,
// size limit from the header, poisoning, zero-copy views, callback errors.
import { deflateSync } from 'node:zlib';
import { ConfigError, MessageTooLargeError, ProtocolError, SecurityError } from '@cinder/core';
import { frameBytes, loadVectors, type VectorLine, vectorFiles } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  Flags,
  FrameReader,
  type Message,
  type ProtocolVersion,
} from '../src/index.js';
import { lineKey, lineName, message, plain, prng, randomSplit } from './helpers.js';

type Outcome = { messages: Record<string, unknown>[]; error: string | null };

/** What a stream must yield: decodeMessage of each frame, up to the first one that fails. */
function oracle(frames: Buffer[], version: ProtocolVersion, key: Buffer | undefined, max: number): Outcome {
  const messages: Record<string, unknown>[] = [];
  for (const frame of frames) {
    try {
      messages.push(plain(decodeMessage(frame, { versions: [version], hmacKey: key, maxMessageSize: max })));
    } catch (err) {
      return { messages, error: `${(err as Error).name}: ${(err as Error).message}` };
    }
  }
  return { messages, error: null };
}

function run(chunks: Buffer[], options: ConstructorParameters<typeof FrameReader>[0]): Outcome {
  const reader = new FrameReader(options);
  const messages: Record<string, unknown>[] = [];
  try {
    for (const chunk of chunks) reader.push(chunk, (m) => messages.push(plain(m)));
  } catch (err) {
    return { messages, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
  expect(reader.buffered).toBe(0);
  return { messages, error: null };
}

/**
 * The same through direct reads: every read lands in the buffer `readTarget` gives, as a socket
 * with `onread` would do it (at most what fits, here at most `maxRead` bytes and a random amount
 * less); now and then a read arrives in a buffer of its own instead (reads taken before the
 * connection had a handler).
 */
function runDirect(
  all: Buffer,
  maxRead: number,
  random: () => number,
  options: ConstructorParameters<typeof FrameReader>[0],
): Outcome {
  const reader = new FrameReader(options);
  const messages: Record<string, unknown>[] = [];
  let pos = 0;
  try {
    while (pos < all.length) {
      const size = 1 + Math.floor(random() * maxRead);
      if (random() < 0.05) {
        const own = Buffer.alloc(size + 3, 0xee);
        const n = all.copy(own, 0, pos, pos + size);
        pos += n;
        reader.commitRead(own, n, (m) => messages.push(plain(m)));
        continue;
      }
      const target = reader.readTarget();
      if (target.length === 0) throw new Error('readTarget gave no room');
      const n = all.copy(target, 0, pos, pos + Math.min(size, target.length));
      pos += n;
      reader.commitRead(target, n, (m) => messages.push(plain(m)));
    }
  } catch (err) {
    return { messages, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
  expect(reader.buffered).toBe(0);
  return { messages, error: null };
}

/** The byte streams of a file: frames of one scenario, connection and direction, in step order. */
function streams(lines: VectorLine[]): { name: string; lines: VectorLine[] }[] {
  const groups = new Map<string, VectorLine[]>();
  for (const line of lines) {
    if (line.frame_hex === null) continue;
    const key = `${line.scenario}/conn${line.conn}/${line.direction}`;
    const group = groups.get(key) ?? [];
    group.push(line);
    groups.set(key, group);
  }
  return [...groups].map(([name, group]) => ({ name: `${group[0]!.file}/${name}`, lines: group }));
}

const MAX = 1 << 20;

describe('FrameReader over every vector stream', () => {
  for (const file of vectorFiles) {
    if (file === 'broadcast') continue;
    it(`${file}: every stream, whole, frame by frame, byte by byte and in random splits`, () => {
      const random = prng(file.length * 7919);
      let count = 0;
      for (const stream of streams(loadVectors(file))) {
        const first = stream.lines[0]!;
        const version = first.protocol;
        const key = lineKey(first);
        const frames = stream.lines.map(frameBytes);
        const expected = oracle(frames, version, key, MAX);
        const all = Buffer.concat(frames);
        const chunkings: Buffer[][] = [
          [all],
          frames,
          [...all].map((b) => Buffer.of(b)),
          randomSplit(all, 7, random),
          randomSplit(all, 300, random),
        ];
        for (const versions of [[version], [502, 48]] as ProtocolVersion[][]) {
          const options = { maxMessageSize: MAX, versions, hmacKey: key };
          const outcomes = chunkings.map((chunks) => run(chunks, options));
          for (const maxRead of [7, 70_000]) outcomes.push(runDirect(all, maxRead, random, options));
          for (const got of outcomes) {
            // With both versions accepted the error texts follow Pyro5 for a bad prefix.
            if (versions.length === 2 && expected.error !== null) {
              expect(got.messages, stream.name).toEqual(expected.messages);
              expect(got.error, stream.name).not.toBeNull();
            } else {
              expect(got, stream.name).toEqual(expected);
            }
          }
        }
        count += expected.messages.length;
      }
      expect(count).toBeGreaterThan(90);
    });

    it(`${file}: all well-formed frames of the file as one stream in random splits`, () => {
      const random = prng(file.length * 104729);
      const lines = loadVectors(file).filter((l) => l.frame_hex !== null && l.malformed === undefined);
      const key = lineKey(lines.find((l) => l.hmac_key === 'secret') ?? lines[0]!);
      const usable = lines.filter((l) => lineKey(l)?.toString() === key?.toString());
      const frames = usable.map(frameBytes);
      const expected = oracle(frames, usable[0]!.protocol, key, MAX);
      expect(expected.error).toBeNull();
      const all = Buffer.concat(frames);
      const options = { maxMessageSize: MAX, versions: [502, 48] as ProtocolVersion[], hmacKey: key };
      for (const maxSize of [1, 16, 1024, 65536]) {
        expect(run(randomSplit(all, maxSize, random), options)).toEqual(expected);
        expect(runDirect(all, maxSize, random, options)).toEqual(expected);
      }
    });
  }
});

function frame(version: ProtocolVersion, m: Message = message(), compressAbove = 0): Buffer {
  return Buffer.concat(encodeMessage(m, { version, compressAbove }));
}

describe('FrameReader contract', () => {
  it('fixes the version when one is accepted and detects it from 6 bytes otherwise', () => {
    expect(new FrameReader({ maxMessageSize: MAX, versions: [48] }).version).toBe(48);
    expect(new FrameReader({ maxMessageSize: MAX, versions: [502] }).version).toBe(502);
    for (const version of [502, 48] as const) {
      const reader = new FrameReader({ maxMessageSize: MAX, versions: [502, 48] });
      const bytes = frame(version);
      reader.push(bytes.subarray(0, 5), () => {});
      expect(reader.version).toBeUndefined();
      reader.push(bytes.subarray(5, 6), () => {});
      expect(reader.version).toBe(version);
      expect(reader.buffered).toBe(6);
    }
  });

  it('refuses a second version once the stream has chosen one', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502, 48] });
    const got: Message[] = [];
    reader.push(frame(48), (m) => got.push(m));
    expect(got).toHaveLength(1);
    expect(() => reader.push(frame(502), () => {})).toThrow(
      new ProtocolError('invalid data or unsupported protocol version'),
    );
    const reader5 = new FrameReader({ maxMessageSize: MAX, versions: [502, 48] });
    reader5.push(frame(502), () => {});
    expect(() => reader5.push(frame(48), () => {})).toThrow(
      new ProtocolError('invalid protocol version: 48'),
    );
  });

  it('rejects an oversized frame from its header, before the body arrives', () => {
    for (const version of [502, 48] as const) {
      const big = frame(version, message({ payload: Buffer.alloc(5000, 0x61) }));
      const headerSize = version === 502 ? 40 : 24;
      const reader = new FrameReader({ maxMessageSize: 1000, versions: [version] });
      reader.push(big.subarray(0, headerSize - 1), () => {});
      expect(() => reader.push(big.subarray(headerSize - 1, headerSize), () => {})).toThrow(
        MessageTooLargeError,
      );
      expect(reader.buffered).toBe(headerSize);
    }
  });

  it('reports the size the way Pyro5 does (vector message_too_large_connect)', () => {
    const lines = loadVectors('pyro5-json').filter((l) => l.scenario === 'message_too_large_connect');
    const request = lines.find((l) => l.direction === 'c2s')!;
    const reply = lines.find((l) => l.direction === 's2c' && l.frame_hex !== null)!;
    const reader = new FrameReader({ maxMessageSize: 1000, versions: [502] });
    expect(() => reader.push(frameBytes(request), () => {})).toThrow(reply.payload_decoded as string);
  });

  it('announces a 4 GiB frame without allocating for it', () => {
    const header = frame(502).subarray(0, 40);
    header.writeUInt32BE(0xffffffff, 12);
    const reader = new FrameReader({ maxMessageSize: 64 * 1024, versions: [502] });
    expect(() => reader.push(header, () => {})).toThrow(new MessageTooLargeError(0xffffffff + 0, 64 * 1024));
  });

  it('stays poisoned after an error and throws the same error again', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const broken = frame(502);
    broken.writeUInt16BE(0x1234, 38);
    let first: unknown;
    try {
      reader.push(broken, () => {});
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(ProtocolError);
    expect(reader.error).toBe(first);
    let second: unknown;
    try {
      reader.push(frame(502), () => {});
    } catch (err) {
      second = err;
    }
    expect(second).toBe(first);
  });

  it('hands out views into the pushed chunk when a frame lies inside it', () => {
    const bytes = Buffer.concat([frame(502), frame(502, message({ seq: 2 }))]);
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    reader.push(bytes, (m) => got.push(m));
    expect(got.map((m) => m.seq)).toEqual([1, 2]);
    // A view, not a copy: changing the received bytes changes the payload.
    bytes.fill(0x21);
    for (const m of got) expect(Buffer.from(m.payload).toString()).toBe('!'.repeat(m.payload.length));
  });

  it('joins a frame split over chunks into one buffer of the frame size', () => {
    const bytes = frame(
      48,
      message({ correlationId: Buffer.alloc(16, 7), annotations: new Map([['XREQ', Buffer.from('hi')]]) }),
    );
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [48] });
    const got: Message[] = [];
    reader.push(bytes.subarray(0, 30), (m) => got.push(m));
    reader.push(bytes.subarray(30), (m) => got.push(m));
    expect(got).toHaveLength(1);
    const m = got[0]!;
    // Joined into a buffer of its own: the received chunks can be reused.
    bytes.fill(0);
    expect(Buffer.from(m.payload).equals(message().payload)).toBe(true);
    expect(Buffer.from(m.correlationId!).equals(Buffer.alloc(16, 7))).toBe(true);
    expect(m.flags & Flags.CORR_ID).toBe(Flags.CORR_ID);
    expect(Buffer.from(m.annotations!.get('XREQ')!).toString()).toBe('hi');
  });

  it('direct reads: a large frame is read straight into its own buffer, small ones into slabs', () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const bytes = Buffer.concat([
      frame(502, message({ seq: 1 })),
      frame(502, message({ seq: 2, payload: big })),
    ]);
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    const targets: Uint8Array[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const target = reader.readTarget();
      targets.push(target);
      // The kernel's reads: at most 64 KiB, as libuv's default would give.
      const n = bytes.copy(target, 0, pos, pos + Math.min(target.length, 65536));
      pos += n;
      reader.commitRead(target, n, (m) => got.push(m));
    }
    expect(got.map((m) => m.seq)).toEqual([1, 2]);
    const [small, large] = got as [Message, Message];
    expect(Buffer.from(large.payload).equals(big)).toBe(true);
    // The large payload lives in a buffer of exactly its frame's size, and the later reads were
    // made into that very buffer (no copy after the read).
    expect(large.payload.buffer.byteLength).toBe(bytes.length - frame(502, message({ seq: 1 })).length);
    const into = targets.filter((t) => t.buffer === large.payload.buffer);
    expect(into.length).toBeGreaterThan(2);
    // The first read (the small frame, the large one's header and its first bytes) went to the
    // small first slab (2 KiB, cut from Node's pool); every later one into the large frame.
    expect(small.payload.buffer).toBe(targets[0]!.buffer);
    expect(targets[0]!.length).toBe(2048);
    expect(into.length).toBe(targets.length - 1);
    // A read never has more room than the rest of the frame being gathered.
    for (const t of into) expect(t.byteOffset + t.length).toBe(large.payload.buffer.byteLength);
  });

  it('direct reads: the first reads land in a 2 KiB buffer from the pool while 1 KiB of it is left, later ones in 64 KiB slabs', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    const first = reader.readTarget();
    expect(first.length).toBe(2048);
    // cut from Node's shared pool, not an ArrayBuffer of its own (no external memory per connection)
    expect(first.buffer.byteLength).toBe(Buffer.poolSize);
    const one = frame(502, message({ seq: 1 }));
    const n = one.copy(first);
    reader.commitRead(first, n, (m) => got.push(m));
    // a handshake or a small call later: the rest of the same small buffer, not a 64 KiB slab
    const second = reader.readTarget();
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset + n);
    expect(second.length).toBe(2048 - n);
    const big = frame(502, message({ seq: 2, payload: Buffer.alloc(1024, 7) }));
    const m = big.copy(second);
    expect(m).toBe(big.length);
    reader.commitRead(second, m, (msg) => got.push(msg));
    // less than 1 KiB left: a slab of 64 KiB
    const third = reader.readTarget();
    expect(third.buffer.byteLength).toBe(64 * 1024);
    const k = frame(502, message({ seq: 3 })).copy(third);
    reader.commitRead(third, k, (msg) => got.push(msg));
    expect(got.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(got[1]!.payload.every((b) => b === 7)).toBe(true);
  });

  it('direct reads: a first read in a buffer of its own becomes the slab (decoded in place, its rest read into next); later ones are chunks', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    const own = Buffer.alloc(2048, 0xee);
    const n = frame(502, message({ seq: 1 })).copy(own);
    reader.commitRead(own, n, (m) => got.push(m));
    // decoded where it was read: the payload is a view of that buffer
    expect(got[0]!.payload.buffer).toBe(own.buffer);
    const next = reader.readTarget();
    expect(next.buffer).toBe(own.buffer);
    expect(next.byteOffset).toBe(own.byteOffset + n);
    expect(next.length).toBe(2048 - n);
    const m = frame(502, message({ seq: 2 })).copy(next);
    reader.commitRead(next, m, (msg) => got.push(msg));
    // another buffer of its own is a chunk: nothing is read into it
    const other = Buffer.alloc(1024, 0xee);
    const k = frame(502, message({ seq: 3 })).copy(other);
    reader.commitRead(other, k, (msg) => got.push(msg));
    const after = reader.readTarget();
    expect(after.buffer).toBe(own.buffer);
    expect(after.byteOffset).toBe(own.byteOffset + n + m);
    after.fill(0x5a);
    expect(got.map((x) => x.seq)).toEqual([1, 2, 3]);
    for (const x of got) expect(Buffer.from(x.payload).equals(message().payload)).toBe(true);
  });

  it('direct reads: bytes read into a slab are never handed out again', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    const bytes = Buffer.concat([1, 2, 3, 4].map((seq) => frame(502, message({ seq }))));
    for (let pos = 0; pos < bytes.length; ) {
      const target = reader.readTarget();
      const n = bytes.copy(target, 0, pos, pos + 7);
      pos += n;
      reader.commitRead(target, n, (m) => got.push(m));
      // What the next read gets starts after everything read so far.
      const next = reader.readTarget();
      if (next.buffer === target.buffer)
        expect(next.byteOffset).toBeGreaterThanOrEqual(target.byteOffset + n);
      next.fill(0x5a);
    }
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    for (const m of got) expect(Buffer.from(m.payload).equals(message().payload)).toBe(true);
  });

  it('direct reads: in-place views are right across slab replacements and a nested in-place decode', () => {
    // ~400 KiB of small frames, a few per read: the 64 KiB slabs are replaced several times, and
    // the handler of every 7th frame decodes a frame with a second reader (its own slab) before
    // the first reader goes on with the rest of its read.
    const msg = (seq: number) =>
      message({
        seq,
        correlationId: Buffer.alloc(16, seq & 0xff),
        annotations: new Map([['XREQ', Buffer.from([seq & 0xff, 1])]]),
        payload: Buffer.alloc(100 + (seq % 50), seq & 0xff),
      });
    const frames = Array.from({ length: 3000 }, (_, i) => frame(502, msg(i + 1)));
    const outer = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const inner = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: { m: Message; slab: ArrayBufferLike }[] = [];
    const nested: Message[] = [];
    let slab: ArrayBufferLike = new ArrayBuffer(0);
    let region: Uint8Array = new Uint8Array(0);
    const onMessage = (m: Message) => {
      got.push({ m, slab });
      if (m.seq % 5 === 0) {
        // a one-shot decode of another buffer from inside the delivery: views of its own memory
        const other = decodeMessage(frame(502, msg(m.seq)));
        expect(plain(other)).toEqual(plain(m));
        // (the read's buffer may be cut from Node's pool, as the frame copied here is: not the same bytes)
        const p = other.payload;
        const apart =
          p.buffer !== slab ||
          p.byteOffset >= region.byteOffset + region.length ||
          p.byteOffset + p.length <= region.byteOffset;
        expect(apart).toBe(true);
      }
      if (m.seq % 7 === 0) {
        const target = inner.readTarget();
        const n = frame(502, msg(60_000 + m.seq)).copy(target);
        inner.commitRead(target, n, (x) => {
          expect(x.payload.buffer).toBe(target.buffer);
          nested.push(x);
        });
      }
    };
    for (let i = 0; i < frames.length; ) {
      const target = outer.readTarget();
      slab = target.buffer;
      region = target;
      let n = 0;
      // 1-4 whole frames per read (room for at least one is always there: >= 1 KiB, then >= 16 KiB)
      for (
        let k = 1 + (i % 4);
        k > 0 && i < frames.length && n + frames[i]!.length <= target.length;
        k--, i++
      )
        n += frames[i]!.copy(target, n);
      outer.commitRead(target, n, onMessage);
    }
    expect(new Set(got.map((g) => g.slab)).size).toBeGreaterThan(4);
    expect(got.map((g) => g.m.seq)).toEqual(frames.map((_, i) => (i + 1) & 0xffff));
    for (const { m, slab: read } of got) {
      expect(plain(m)).toEqual(plain(decodeMessage(frame(502, msg(m.seq)))));
      for (const bytes of [m.payload, m.correlationId!, m.annotations!.get('XREQ')!]) {
        expect(Buffer.isBuffer(bytes)).toBe(true);
        expect(bytes.buffer).toBe(read);
      }
    }
    expect(nested.length).toBe(Math.floor(frames.length / 7));
    for (const m of nested) {
      expect(plain(m)).toEqual(plain(decodeMessage(frame(502, msg(m.seq)))));
    }
  });

  /** Reads `bytes` into the reader's own targets, `sizes[i]` bytes in read i (the rest in one). */
  function readInto(reader: FrameReader, bytes: Buffer, sizes: number[], onMessage: (m: Message) => void) {
    const targets: Uint8Array[] = [];
    let pos = 0;
    for (let i = 0; pos < bytes.length; i++) {
      const target = reader.readTarget();
      targets.push(target);
      const n = bytes.copy(target, 0, pos, pos + (sizes[i] ?? bytes.length));
      pos += n;
      reader.commitRead(target, n, onMessage);
    }
    return targets;
  }

  it('direct reads: frames that lie wholly in a read are decoded where they were read', () => {
    const annotated = (seq: number) =>
      message({
        seq,
        correlationId: Buffer.alloc(16, seq),
        annotations: new Map([['XREQ', Buffer.from([seq])]]),
      });
    const frames = [1, 2, 3, 4].map((seq) => frame(502, annotated(seq)));
    const size = frames[0]!.length;
    const bytes = Buffer.concat(frames);
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const got: Message[] = [];
    // three whole frames and part of the fourth, then the rest of the fourth
    const targets = readInto(reader, bytes, [size * 3 + 20], (m) => got.push(m));
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(reader.buffered).toBe(0);
    const t0 = targets[0]!;
    for (const [i, m] of got.slice(0, 3).entries()) {
      // views of the read target's memory, at the frame's place in it
      expect(m.payload.buffer).toBe(t0.buffer);
      expect(m.payload.byteOffset).toBe(t0.byteOffset + (i + 1) * size - m.payload.length);
      expect(m.correlationId!.buffer).toBe(t0.buffer);
      expect(m.annotations!.get('XREQ')!.buffer).toBe(t0.buffer);
    }
    for (const m of got) {
      expect(Buffer.from(m.payload).equals(message().payload)).toBe(true);
      expect(Buffer.from(m.correlationId!).equals(Buffer.alloc(16, m.seq))).toBe(true);
      expect([...m.annotations!.get('XREQ')!]).toEqual([m.seq]);
    }
  });

  it('decodes payloads, correlation ids and annotation values as Buffers on every path', () => {
    // Serializers hand views of the payload to user code (large byte strings), so its type is
    // what a method receiving binary data sees: a Buffer, whichever way the frame arrived.
    const one = frame(
      502,
      message({ correlationId: Buffer.alloc(16, 1), annotations: new Map([['XREQ', Buffer.from('a')]]) }),
    );
    const reader = () => new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const seen: Message[] = [decodeMessage(new Uint8Array(one))];
    reader().push(new Uint8Array(one), (m) => seen.push(m));
    // in place, split over two reads, and read into a buffer of its own
    readInto(reader(), one, [], (m) => seen.push(m));
    readInto(reader(), one, [10], (m) => seen.push(m));
    reader().commitRead(new Uint8Array(one), one.length, (m) => seen.push(m));
    expect(seen).toHaveLength(5);
    for (const m of seen) {
      expect(Buffer.isBuffer(m.payload)).toBe(true);
      expect(Buffer.isBuffer(m.correlationId)).toBe(true);
      expect(Buffer.isBuffer(m.annotations!.get('XREQ'))).toBe(true);
    }
  });

  it('direct reads: a callback error or a stop leaves the rest of the read for the next push', () => {
    const bytes = Buffer.concat([1, 2, 3].map((seq) => frame(502, message({ seq }))));
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const seen: number[] = [];
    expect(() =>
      readInto(reader, bytes, [], (m) => {
        seen.push(m.seq);
        if (m.seq === 1) throw new Error('handler failed');
      }),
    ).toThrow('handler failed');
    expect(reader.error).toBeUndefined();
    expect(reader.buffered).toBe((bytes.length / 3) * 2);
    let open = false;
    reader.push(
      new Uint8Array(0),
      (m) => seen.push(m.seq),
      () => open,
    );
    expect(seen).toEqual([1]);
    open = true;
    reader.push(
      new Uint8Array(0),
      (m) => seen.push(m.seq),
      () => open,
    );
    expect(seen).toEqual([1, 2, 3]);
    // flow control in the read itself: one frame, then stop
    const r2 = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const seen2: number[] = [];
    const target = r2.readTarget();
    r2.commitRead(
      target,
      bytes.copy(target),
      (m) => seen2.push(m.seq),
      () => seen2.length < 1,
    );
    expect(seen2).toEqual([1]);
    expect(r2.buffered).toBe((bytes.length / 3) * 2);
    r2.push(new Uint8Array(0), (m) => seen2.push(m.seq));
    expect(seen2).toEqual([1, 2, 3]);
  });

  it('direct reads: invalid bytes in a read poison the reader', () => {
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const good = frame(502, message({ seq: 1 }));
    const bad = Buffer.from(good);
    bad.write('XXXX', 0, 'latin1');
    const seen: number[] = [];
    let first: unknown;
    try {
      readInto(reader, Buffer.concat([good, bad, good]), [], (m) => seen.push(m.seq));
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(ProtocolError);
    expect(seen).toEqual([1]);
    expect(reader.error).toBe(first);
    expect(() => reader.commitRead(reader.readTarget(), 0, () => {})).toThrow(first as Error);
  });

  it('lets a callback error through and delivers the remaining frames on the next push', () => {
    const bytes = Buffer.concat([1, 2, 3].map((seq) => frame(502, message({ seq }))));
    const reader = new FrameReader({ maxMessageSize: MAX, versions: [502] });
    const seen: number[] = [];
    expect(() =>
      reader.push(bytes, (m) => {
        seen.push(m.seq);
        if (m.seq === 1) throw new Error('handler failed');
      }),
    ).toThrow('handler failed');
    expect(reader.error).toBeUndefined();
    reader.push(new Uint8Array(0), (m) => seen.push(m.seq));
    expect(seen).toEqual([1, 2, 3]);
    expect(reader.buffered).toBe(0);
  });

  it('stops a zlib bomb at the size limit', () => {
    for (const version of [502, 48] as const) {
      const bomb = deflateSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 });
      expect(bomb.length).toBeLessThan(64 * 1024);
      const bytes = frame(version, message({ payload: bomb }));
      // Mark the raw deflate stream as compressed; the 48 header checksum must follow.
      if (version === 502) bytes.writeUInt16BE(bytes.readUInt16BE(8) | 0x02, 8);
      else {
        bytes.writeUInt16BE(bytes.readUInt16BE(8) | 0x02, 8);
        bytes.writeUInt16BE((bytes.readUInt16BE(22) + 2) & 0xffff, 22);
      }
      const reader = new FrameReader({ maxMessageSize: 64 * 1024, versions: [version] });
      expect(() => reader.push(bytes, () => {})).toThrow(
        /inflates to more than the message size or inflate limit/,
      );
    }
  });

  it('stops inflating at maxInflatedSize, below the frame limit, in both versions', () => {
    for (const version of [502, 48] as const) {
      const bytes = frame(
        version,
        message({ payload: deflateSync(Buffer.alloc(1024 * 1024), { level: 9 }) }),
      );
      bytes.writeUInt16BE(bytes.readUInt16BE(8) | 0x02, 8);
      if (version === 48) bytes.writeUInt16BE((bytes.readUInt16BE(22) + 2) & 0xffff, 22);
      const limits = { maxMessageSize: 16 * 1024 * 1024, versions: [version] };
      const strict = new FrameReader({ ...limits, maxInflatedSize: 512 * 1024 });
      expect(() => strict.push(bytes, () => {})).toThrow(/inflate limit \(max=524288\)/);
      expect(() => decodeMessage(bytes, { ...limits, maxInflatedSize: 1024 * 1024 - 1 })).toThrow(
        ProtocolError,
      );
      const roomy = new FrameReader({ ...limits, maxInflatedSize: 1024 * 1024 });
      const got: number[] = [];
      roomy.push(bytes, (m) => got.push(m.payload.length));
      expect(got).toEqual([1024 * 1024]);
      expect(() => new FrameReader({ ...limits, maxInflatedSize: -1 })).toThrow(ConfigError);
    }
  });

  it('inflates compressed payloads within the limit', () => {
    const payload = Buffer.from('x'.repeat(3000));
    for (const version of [502, 48] as const) {
      const bytes = frame(version, message({ payload }), 100);
      expect(bytes.length).toBeLessThan(500);
      const got: Message[] = [];
      new FrameReader({ maxMessageSize: 4000, versions: [version] }).push(bytes, (m) => got.push(m));
      expect(Buffer.from(got[0]!.payload).equals(payload)).toBe(true);
      expect(got[0]!.flags & Flags.COMPRESSED).toBe(0);
      expect(() =>
        new FrameReader({ maxMessageSize: 2000, versions: [version] }).push(bytes, () => {}),
      ).toThrow(ProtocolError);
    }
  });

  it('verifies HMACs on a stream', () => {
    const key = Buffer.from('secret');
    const signed = Buffer.concat(encodeMessage(message(), { version: 48, hmacKey: key }));
    const got: Message[] = [];
    new FrameReader({ maxMessageSize: MAX, versions: [48], hmacKey: key }).push(signed, (m) => got.push(m));
    expect(got).toHaveLength(1);
    expect(got[0]!.annotations).toBeNull();
    expect(() => new FrameReader({ maxMessageSize: MAX, versions: [48] }).push(signed, () => {})).toThrow(
      SecurityError,
    );
  });

  it('refuses invalid configuration', () => {
    expect(() => new FrameReader({ maxMessageSize: -1, versions: [502] })).toThrow(ConfigError);
    expect(() => new FrameReader({ maxMessageSize: Number.NaN, versions: [502] })).toThrow(ConfigError);
    expect(() => new FrameReader({ maxMessageSize: 10, versions: [] })).toThrow(ConfigError);
    expect(() => new FrameReader({ maxMessageSize: 10, versions: [47 as ProtocolVersion] })).toThrow(
      ConfigError,
    );
    // an unknown version after known ones is refused too, with the list in the text
    expect(() => new FrameReader({ maxMessageSize: 10, versions: [502, 48, 47 as ProtocolVersion] })).toThrow(
      'versions must name 502 and/or 48, got [502, 48, 47]',
    );
  });

  it('fixes the version when one is accepted, and leaves it to the first frame when both are', () => {
    expect(new FrameReader({ maxMessageSize: 10, versions: [502] }).version).toBe(502);
    expect(new FrameReader({ maxMessageSize: 10, versions: [48] }).version).toBe(48);
    expect(new FrameReader({ maxMessageSize: 10, versions: [48, 48] }).version).toBe(48);
    expect(new FrameReader({ maxMessageSize: 10, versions: [48, 502] }).version).toBeUndefined();
    expect(new FrameReader({ maxMessageSize: 10, versions: [502, 48] }).version).toBeUndefined();
  });

  it('names the stream in failures', () => {
    expect(lineName(loadVectors('pyro5-json')[0]!)).toMatch(/^pyro5-json\//);
  });
});
