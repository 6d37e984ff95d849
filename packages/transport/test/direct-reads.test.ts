// Direct reads: TCP and Unix connections, client and server side, read into buffers the frame
// reader chooses, so a large frame is read by the kernel straight into its own buffer; TLS keeps
// Node's 'data' chunks. The compliance suite runs every other behaviour over the same sockets.

import { rmSync } from 'node:fs';
import { connect, createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { encodeMessage, FrameReader } from '@cinder/protocol';
import { scratchDir } from '@cinder/test-utils';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { adoptReadsInto } from '../src/direct-reads.js';
import { tcpTransport, unixTransport } from '../src/index.js';
import type { Connection, Endpoint, Transport } from '../src/transport.js';
import { framing, MiB, message, Recorder, Tracker, within } from './harness.js';

const dir = scratchDir('direct');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cases: Array<{ name: string; transport: Transport; endpoint: () => Endpoint }> = [
  { name: 'tcp', transport: tcpTransport(), endpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }) },
  {
    name: 'unix',
    transport: unixTransport(),
    endpoint: () => ({ kind: 'unix', path: join(dir, `s${Math.random().toString(36).slice(2)}.sock`) }),
  },
];

describe.each(cases)('direct reads over $name', ({ transport, endpoint }) => {
  const track = new Tracker();
  afterEach(async () => {
    vi.restoreAllMocks();
    await track.closeAll();
  });

  it('a large frame is read into its own buffer, both ways, with no copy after the read', async () => {
    const targets = new Set<ArrayBufferLike>();
    const original = FrameReader.prototype.readTarget;
    vi.spyOn(FrameReader.prototype, 'readTarget').mockImplementation(function (this: FrameReader) {
      const target = original.call(this);
      targets.add(target.buffer);
      return target;
    });
    const size = 3 * MiB + 17;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) payload[i] = (i / 4096) & 0xff;
    const listener = track.listener(
      await transport.listen({ endpoint: endpoint(), framing: framing([502]) }, (conn) => {
        track.connection(conn);
        conn.setHandler(new Recorder((m) => conn.send({ ...m, type: 5 })));
      }),
    );
    const conn = track.connection(
      await transport.connect({ endpoint: listener.endpoint, framing: framing([502]) }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    conn.send(message(1, payload));
    conn.send(message(2, 'small after large'));
    await rec.messagesAtLeast(2, 15_000);
    const [echoed, small] = rec.messages as [(typeof rec.messages)[0], (typeof rec.messages)[0]];
    expect(Buffer.from(echoed.payload).equals(payload)).toBe(true);
    expect(Buffer.from(small.payload).toString()).toBe('small after large');
    // The echo (server read, then client read) arrived in a buffer the client's reader handed
    // to the socket, one that holds exactly this frame.
    expect(targets.has(echoed.payload.buffer)).toBe(true);
    expect(echoed.payload.buffer.byteLength).toBeLessThan(size + 100);
    expect(targets.has(small.payload.buffer)).toBe(true);
  }, 30_000);

  it("an accepted socket reads its first frame into the frame reader's own buffer (no early buffer, no chunk queue)", async () => {
    const targets: Uint8Array[] = [];
    const original = FrameReader.prototype.readTarget;
    vi.spyOn(FrameReader.prototype, 'readTarget').mockImplementation(function (this: FrameReader) {
      const target = original.call(this);
      targets.push(target);
      return target;
    });
    const push = vi.spyOn(FrameReader.prototype, 'push');
    const rec = new Recorder();
    const listener = track.listener(
      await transport.listen({ endpoint: endpoint(), framing: framing([502]) }, (conn) => {
        track.connection(conn);
        conn.setHandler(rec);
      }),
    );
    // a plain socket as the peer: only the accepted side has a frame reader
    const ep = listener.endpoint;
    const peer = connect(ep.kind === 'tcp' ? { host: ep.host, port: ep.port } : { path: ep.path });
    try {
      for (const chunk of encodeMessage(message(1, 'first'), { version: 502, maxMessageSize: MiB }))
        peer.write(chunk);
      await rec.messagesAtLeast(1, 5000);
      const payload = rec.messages[0]!.payload;
      expect(Buffer.from(payload).toString()).toBe('first');
      // it lies in the first buffer the reader handed out, and was decoded there
      const first = targets[0]!;
      expect(payload.buffer).toBe(first.buffer);
      expect(payload.byteOffset).toBeGreaterThanOrEqual(first.byteOffset);
      expect(payload.byteOffset + payload.length).toBeLessThanOrEqual(first.byteOffset + first.length);
      expect(push.mock.calls.filter(([chunk]) => chunk.length > 0)).toEqual([]);
    } finally {
      peer.destroy();
    }
  });

  it('an accepted socket reading directly is not resumed (its Readable does not flow), and still sees the peer end and flow control', async () => {
    const resume = vi.spyOn(Socket.prototype, 'resume');
    let server: Connection | undefined;
    const rec = new Recorder();
    const listener = track.listener(
      await transport.listen({ endpoint: endpoint(), framing: framing([502]) }, (conn) => {
        server = track.connection(conn);
        conn.setHandler(rec);
      }),
    );
    const ep = listener.endpoint;
    const peer = connect(ep.kind === 'tcp' ? { host: ep.host, port: ep.port } : { path: ep.path });
    const frameOf = (seq: number) =>
      Buffer.concat(encodeMessage(message(seq, 'x'), { version: 502, maxMessageSize: MiB }));
    try {
      peer.write(frameOf(1));
      await rec.messagesAtLeast(1, 5000);
      expect(resume).not.toHaveBeenCalled();
      // held: what comes meanwhile waits; resumed: it is delivered (the handle reads again)
      server!.pause();
      peer.write(frameOf(2));
      await new Promise((r) => setTimeout(r, 50));
      expect(rec.messages.length).toBe(1);
      server!.resume();
      await rec.messagesAtLeast(2, 5000);
      peer.write(frameOf(3));
      await rec.messagesAtLeast(3, 5000);
      peer.end();
      await rec.closed();
      expect(rec.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    } finally {
      peer.destroy();
    }
  });

  it('a peer that writes more than the early-read bound before the handler exists loses nothing', async () => {
    const pending: Array<{ conn: import('../src/transport.js').Connection }> = [];
    const listener = track.listener(
      await transport.listen({ endpoint: endpoint(), framing: framing([502]) }, (conn) => {
        track.connection(conn);
        pending.push({ conn });
      }),
    );
    const conn = track.connection(
      await transport.connect({ endpoint: listener.endpoint, framing: framing([502]) }),
    );
    conn.setHandler(new Recorder());
    // 2 MiB in 64 KiB frames: more than the early-read bound, so the server stops reading and
    // back-pressure reaches the sender; nothing is lost when the handler arrives.
    const frames = 32;
    for (let i = 0; i < frames; i++) conn.send(message(i, Buffer.alloc(64 * 1024, i)));
    await within(
      (async () => {
        while (pending.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'accept',
    );
    await new Promise((r) => setTimeout(r, 100));
    const server = pending[0]!.conn;
    const rec = new Recorder();
    server.setHandler(rec);
    await rec.messagesAtLeast(frames, 15_000);
    expect(rec.messages.map((m) => m.seq)).toEqual([...Array(frames).keys()]);
    for (const m of rec.messages) expect(m.payload.every((b) => b === m.seq)).toBe(true);
  }, 30_000);
});

describe('adoptReadsInto', () => {
  it("makes an accepted socket read into its sink's buffers and report each read to it, no DirectReads between", async () => {
    const server = createServer();
    const sockets: Socket[] = [];
    const given: Uint8Array[] = [];
    const reads: Array<{ n: number; same: boolean; bytes: string }> = [];
    let adopted: boolean[] = [];
    server.on('connection', (socket) => {
      sockets.push(socket);
      const sink = {
        target: () => {
          const b = new Uint8Array(64);
          given.push(b);
          return b;
        },
        read: (n: number, buffer: Uint8Array) => {
          reads.push({
            n,
            same: buffer === given[0],
            bytes: Buffer.from(buffer.subarray(0, n)).toString(),
          });
        },
      };
      adopted = [adoptReadsInto(socket, sink), adoptReadsInto(socket, sink)];
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = connect({ port, host: '127.0.0.1' });
    try {
      await within(new Promise((resolve) => client.once('connect', resolve)), 5000, 'connect');
      client.write('hello');
      await within(
        (async () => {
          while (reads.length < 1) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        'the read',
      );
      // once adopted the slots are taken: a second adoption does not take them
      expect(adopted).toEqual([true, false]);
      // the read landed in the first buffer the sink gave; the next one was asked for after it
      expect(reads).toEqual([{ n: 5, same: true, bytes: 'hello' }]);
      expect(given.length).toBe(2);
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
