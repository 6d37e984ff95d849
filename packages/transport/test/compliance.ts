// The transport compliance suite: every transport (TCP over IPv4, IPv6 and dual stack, Unix paths
// and abstract names, TLS and mutual TLS) runs these same tests on real sockets. Transport-specific
// behaviour (file permissions, certificates, dual-stack details) lives in the per-transport files.
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import {
  AbortedError,
  CommunicationError,
  ConfigError,
  ConnectionClosedError,
  MessageTooLargeError,
  ProtocolError,
  SecurityError,
  TimeoutError,
} from '@cinder/core';
import type { ProtocolVersion } from '@cinder/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { formatEndpoint } from '../src/address.js';
import type {
  Connection,
  ConnectOptions,
  Endpoint,
  FramingOptions,
  ListenOptions,
  Transport,
} from '../src/transport.js';
import {
  delay,
  encodedBytes,
  framing,
  MiB,
  message,
  pyro5Header,
  Recorder,
  settlesWithin,
  Tracker,
  within,
} from './harness.js';

export interface ComplianceTarget {
  /** Transport the listeners use. */
  server: Transport;
  /** Transport the clients use. */
  client: Transport;
  /** A fresh endpoint to listen on (port 0, or a unique socket path). */
  listenEndpoint(): Endpoint;
  /** Where a client connects to reach a listener bound at `bound` (default: `bound` itself). */
  connectEndpoint?(bound: Endpoint): Endpoint;
  /** A raw client socket, connected (and for TLS, past the handshake) to `endpoint`. */
  rawConnect(endpoint: Endpoint, track: Tracker): Promise<Socket>;
  /** For TLS: certificate and key the read-counting worker serves with. */
  workerTls?: { cert: string; key: string };
  /** An endpoint where connecting never completes, for connect timeout and abort tests. */
  stalled?(track: Tracker): Promise<Endpoint>;
  /**
   * A message transport (WebSocket): the tests about how a byte stream is read and written (reads
   * per tick, zero-copy writes to the socket) do not apply.
   */
  streamOnly?: boolean;
  /**
   * False for a transport with no kernel socket under it (memory): the test of how a socket's bytes
   * are read (reads per tick, counted by a worker on a real listener) does not apply.
   */
  kernelReads?: boolean;
  /** The transport accepts both endpoint kinds (TLS, memory): no ConfigError for the other kind. */
  anyEndpointKind?: boolean;
}

interface Accepted {
  conn: Connection;
  rec: Recorder;
}

const RESULT = 5;

export function transportCompliance(
  name: string,
  setup: () => ComplianceTarget | Promise<ComplianceTarget>,
): void {
  describe(`transport compliance: ${name}`, () => {
    const track = new Tracker();
    afterEach(() => track.closeAll());

    let target: ComplianceTarget | undefined;
    async function t(): Promise<ComplianceTarget> {
      target ??= await setup();
      return target;
    }

    interface ListenSpec {
      versions?: readonly ProtocolVersion[];
      maxMessageSize?: number;
      framingExtra?: Partial<FramingOptions>;
      extra?: Partial<ListenOptions>;
      /** Sets up each accepted connection; default: echo every message back as a RESULT. */
      accept?: (conn: Connection) => Recorder;
    }

    function echo(conn: Connection): Recorder {
      const rec = new Recorder((m) => {
        if (!conn.closed) conn.send({ ...m, type: RESULT });
      });
      conn.setHandler(rec);
      return rec;
    }

    async function listen(spec: ListenSpec = {}) {
      const tt = await t();
      const accepted: Accepted[] = [];
      const waiting: Array<(a: Accepted) => void> = [];
      const listener = track.listener(
        await tt.server.listen(
          {
            endpoint: tt.listenEndpoint(),
            framing: { ...framing(spec.versions ?? [502, 48], spec.maxMessageSize), ...spec.framingExtra },
            ...spec.extra,
          },
          (conn) => {
            track.connection(conn);
            const rec = (spec.accept ?? echo)(conn);
            const a = { conn, rec };
            accepted.push(a);
            waiting.shift()?.(a);
          },
        ),
      );
      const endpoint = tt.connectEndpoint ? tt.connectEndpoint(listener.endpoint) : listener.endpoint;
      let next = 0;
      /** The n-th accepted connection (in accept order), waiting for it if needed. */
      const accept = (): Promise<Accepted> => {
        const i = next++;
        const have = accepted[i];
        if (have) return Promise.resolve(have);
        return within(new Promise<Accepted>((resolve) => waiting.push(resolve)), 5000, 'accept');
      };
      return { listener, endpoint, accepted, accept };
    }

    async function connect(
      endpoint: Endpoint,
      version: ProtocolVersion = 502,
      extra: Partial<ConnectOptions> = {},
    ) {
      const tt = await t();
      const conn = track.connection(
        await tt.client.connect({ endpoint, framing: framing([version]), timeoutMs: 5000, ...extra }),
      );
      const rec = new Recorder();
      conn.setHandler(rec);
      return { conn, rec };
    }

    it('listens, connects and reports kind, ids and addresses', async () => {
      const tt = await t();
      const { listener, endpoint, accept } = await listen();
      expect(listener.endpoint.kind).toBe(tt.listenEndpoint().kind);
      if (listener.endpoint.kind === 'tcp') expect(listener.endpoint.port).toBeGreaterThan(0);
      const { conn } = await connect(endpoint);
      const server = await accept();
      expect(conn.transport).toBe(tt.client.kind);
      expect(server.conn.transport).toBe(tt.server.kind);
      expect(conn.id).not.toBe(server.conn.id);
      expect(conn.closed).toBe(false);
      expect(conn.protocolVersion).toBe(502);
      expect([...listener.connections]).toEqual([server.conn]);
      expect(conn.remoteAddress).toBe(formatEndpoint(endpoint));
      if (endpoint.kind === 'tcp') {
        expect(server.conn.remoteAddress).toBe(conn.localAddress);
        expect(server.conn.localAddress).toBe(conn.remoteAddress);
        expect(conn.localAddress).toMatch(
          endpoint.host.includes(':') ? /^\[[0-9a-f:]+\]:\d+$/ : /^[\d.]+:\d+$/,
        );
      } else {
        expect(server.conn.remoteAddress).toBe(formatEndpoint(listener.endpoint));
        expect(conn.localAddress).toBe(conn.remoteAddress);
      }
      if (tt.client.kind !== 'tls' && tt.client.kind !== 'wss') {
        expect(conn.peerCertificate()).toBeNull();
        expect(server.conn.peerCertificate()).toBeNull();
      }
    });

    it.each([502, 48] as const)('carries messages both ways with protocol %i', async (version) => {
      const { endpoint, accept } = await listen({ versions: [502, 48] });
      const { conn, rec } = await connect(endpoint, version);
      const server = await accept();
      expect(server.conn.protocolVersion).toBeUndefined();
      const correlationId = version === 502 ? Buffer.alloc(16, 7) : null;
      const sent = message(7, `hello ${version}`, { serializerId: 1, correlationId });
      conn.send(sent);
      await rec.messagesAtLeast(1);
      expect(server.conn.protocolVersion).toBe(version);
      const got = server.rec.messages[0]!;
      expect(got.type).toBe(4);
      expect(got.seq).toBe(7);
      expect(got.serializerId).toBe(1);
      expect(Buffer.from(got.payload).toString()).toBe(`hello ${version}`);
      const reply = rec.messages[0]!;
      expect(reply.type).toBe(RESULT);
      expect(reply.seq).toBe(7);
      expect(Buffer.from(reply.payload).toString()).toBe(`hello ${version}`);
      if (correlationId) expect(Buffer.from(reply.correlationId!)).toEqual(correlationId);
    });

    it('reports a protocol version the server does not accept through onError', async () => {
      const { endpoint, accept } = await listen({ versions: [48] });
      const { conn } = await connect(endpoint, 502);
      conn.send(message(1, 'x'));
      const server = await accept();
      const err = await server.rec.errored();
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err.message).toMatch(/version/);
      expect(server.rec.messages).toHaveLength(0);
    });

    it('delivers 1,000 pipelined messages in order, both ways', async () => {
      const { endpoint, accept } = await listen();
      const { conn, rec } = await connect(endpoint);
      for (let i = 0; i < 1000; i++) conn.send(message(i, `m${i}`));
      await rec.messagesAtLeast(1000);
      const server = await accept();
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(1000).keys()]);
      expect(rec.messages.map((m) => Buffer.from(m.payload).toString())).toEqual(
        [...Array(1000).keys()].map((i) => `m${i}`),
      );
    });

    it('sends a 50 MB payload without copying it on the sending side', async (ctx) => {
      if ((await t()).streamOnly) ctx.skip(); // a WebSocket client must mask (copy) what it sends
      const { endpoint, accept } = await listen({ accept: (c) => withRecorder(c) });
      const { conn } = await connect(endpoint);
      const size = 50 * MiB;
      const payload = Buffer.alloc(size, 0x11);
      conn.send(message(1, payload));
      // Writes leave at the end of the tick. Had send() copied the payload, these changes would
      // not reach the peer: seeing them proves the socket was handed the caller's buffer.
      payload.fill(0x22, 0, 4096);
      payload[size - 1] = 0x33;
      const server = await accept();
      await server.rec.messagesAtLeast(1, 15_000);
      const got = server.rec.messages[0]!.payload;
      expect(got.length).toBe(size);
      expect(got[0]).toBe(0x22);
      expect(got[4095]).toBe(0x22);
      expect(got[4096]).toBe(0x11);
      expect(got[size - 2]).toBe(0x11);
      expect(got[size - 1]).toBe(0x33);
    }, 30_000);

    it('coalesces 1,000 frames sent in one tick into a handful of reads', async (ctx) => {
      const tt = await t();
      if (tt.streamOnly || tt.kernelReads === false) ctx.skip();
      const frames = [...Array(1000).keys()].map((i) => message(i, 'x'.repeat(20)));
      const expectedBytes = frames.reduce((n, m) => n + encodedBytes(m, 502).length, 0);
      const listenEndpoint = tt.listenEndpoint();
      const worker = track.worker(
        new Worker(new URL('./read-counter.worker.mjs', import.meta.url), {
          workerData: { endpoint: listenEndpoint, tlsOptions: tt.workerTls, expectedBytes },
        }),
      );
      const next = workerMessages(worker);
      const listening = (await next()) as { listening: { port?: number; path?: string } };
      const bound: Endpoint =
        listenEndpoint.kind === 'tcp'
          ? { ...listenEndpoint, port: listening.listening.port as number }
          : listenEndpoint;
      const { conn } = await connect(tt.connectEndpoint ? tt.connectEndpoint(bound) : bound);
      for (const frame of frames) conn.send(frame);
      const report = (await within(next(), 5000, 'worker report')) as { reads: number; bytes: number };
      expect(report.bytes).toBe(expectedBytes);
      expect(report.reads).toBeLessThanOrEqual(16);
    });

    it('reports backpressure and keeps the writer bounded while the reader is paused', async () => {
      let serverConn: Connection | undefined;
      const { endpoint, accept } = await listen({
        accept: (c) => {
          serverConn = c;
          c.pause();
          return withRecorder(c);
        },
      });
      const { conn } = await connect(endpoint);
      const chunk = Buffer.alloc(64 * 1024, 1);
      const frameSize = encodedBytes(message(0, chunk), 502).length;
      let sent = 0;
      let blocked = false;
      let maxBuffered = 0;
      // Honour send()'s answer: on false, wait for drained(). With the reader paused, the kernel
      // buffers fill up and drained() stops resolving: the writer must then be stuck, not growing.
      while (sent < 4096) {
        const ok = conn.send(message(sent, chunk));
        sent++;
        maxBuffered = Math.max(maxBuffered, conn.bufferedBytes);
        if (!ok && !(await settlesWithin(conn.drained(), 300))) {
          blocked = true;
          break;
        }
      }
      expect(blocked).toBe(true);
      expect(sent).toBeLessThan(4096);
      // Never more than the high-water mark (16 KiB default) plus the frame that crossed it.
      expect(maxBuffered).toBeLessThanOrEqual(16 * 1024 + frameSize);
      expect(conn.bufferedBytes).toBeLessThanOrEqual(16 * 1024 + frameSize);
      const server = await accept();
      serverConn!.resume();
      await within(conn.drained(), 5000, 'drained after resume');
      await server.rec.messagesAtLeast(sent, 10_000);
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(sent).keys()]);
    }, 30_000);

    it('pause() holds messages until resume(), in order', async () => {
      const { endpoint, accept } = await listen({ accept: pauseAfterFirst });
      const { conn } = await connect(endpoint);
      for (let i = 0; i < 10; i++) conn.send(message(i, `p${i}`));
      const server = await accept();
      await server.rec.messagesAtLeast(1);
      await delay(100);
      expect(server.rec.messages).toHaveLength(1);
      conn.send(message(10, 'after pause'));
      await delay(50);
      expect(server.rec.messages).toHaveLength(1);
      server.conn.resume();
      await server.rec.messagesAtLeast(11);
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(11).keys()]);
    });

    it('a paused connection holds what it read as bytes, never what they inflate to', async () => {
      // 12 frames of 8 MiB zeros, each a few KiB compressed, read in the same chunk (or message) as
      // the frame whose handler pauses: a connection that decoded them while paused would hold
      // 96 MiB of payloads; one that stops decoding holds the ~100 KiB it read.
      const { endpoint, accept } = await listen({ accept: pauseAfterFirst });
      const tt = await t();
      const conn = track.connection(
        await tt.client.connect({
          endpoint,
          framing: { ...framing([502]), compressAbove: 1024 },
          timeoutMs: 5000,
        }),
      );
      conn.setHandler(new Recorder());
      const zeros = Buffer.alloc(8 * MiB);
      const before = process.memoryUsage().arrayBuffers;
      conn.send(message(0, 'first'));
      for (let i = 1; i <= 12; i++) conn.send(message(i, zeros));
      const server = await accept();
      await server.rec.messagesAtLeast(1);
      await delay(300);
      const held = process.memoryUsage().arrayBuffers - before;
      expect(server.rec.messages).toHaveLength(1);
      expect(held).toBeLessThan(48 * MiB);
      server.conn.resume();
      await server.rec.messagesAtLeast(13, 10_000);
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(13).keys()]);
      expect(server.rec.messages[12]!.payload.length).toBe(8 * MiB);
    }, 30_000);

    it('drops a peer that reads none of its queued output within drainTimeoutMs', async () => {
      const { endpoint, accept } = await listen({
        framingExtra: { maxBufferedOutput: 256 * 1024, drainTimeoutMs: 300 },
        accept: withRecorder,
      });
      const { conn } = await connect(endpoint);
      conn.pause();
      conn.send(message(0, 'hello'));
      const server = await accept();
      await server.rec.messagesAtLeast(1);
      const chunk = Buffer.alloc(64 * 1024, 7);
      // The peer reads nothing: once the kernel's buffers are full the output queues here (send's
      // false is ignored on purpose).
      for (let i = 0; i < 4096 && !server.conn.closed && server.conn.bufferedBytes < MiB; i++) {
        server.conn.send(message(i, chunk));
        if (i % 16 === 15) await delay(1);
      }
      expect(server.conn.bufferedBytes).toBeGreaterThanOrEqual(MiB);
      const started = Date.now();
      const error = await server.rec.closed(10_000);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error?.message).toMatch(/read none of/);
      expect(Date.now() - started).toBeLessThan(5000);
    }, 20_000);

    it('reads nothing before setHandler, and loses nothing either', async () => {
      const pending: Connection[] = [];
      const { endpoint } = await listen({
        accept: (c) => {
          pending.push(c);
          return new Recorder();
        },
      });
      const { conn } = await connect(endpoint);
      for (let i = 0; i < 5; i++) conn.send(message(i, `early ${i}`));
      await within(
        (async () => {
          while (pending.length === 0) await delay(5);
        })(),
        5000,
        'accept',
      );
      await delay(50);
      const rec = new Recorder();
      pending[0]!.setHandler(rec);
      await rec.messagesAtLeast(5);
      expect(rec.messages.map((m) => m.seq)).toEqual([0, 1, 2, 3, 4]);
    });

    it('a handler replaced, or paused and resumed, from inside a handler: the next frame waits until it returned', async () => {
      // What a server handshake does: the CONNECT's handler hands the connection to a session and
      // then sets the session up; the call read in the same chunk behind the CONNECT must reach the
      // session only after that (it used to be delivered from inside setHandler, re-entrantly).
      const events: string[] = [];
      const next = new Recorder((m) => events.push(`next ${m.seq}`));
      const { endpoint, accept } = await listen({
        accept: (c) => {
          const first = new Recorder((m) => {
            events.push(`first ${m.seq}`);
            c.pause();
            c.resume();
            events.push('first resumed');
            c.setHandler(next);
            events.push('first returns');
          });
          c.setHandler(first);
          return first;
        },
      });
      const { conn } = await connect(endpoint);
      for (let i = 0; i < 5; i++) conn.send(message(i, `m${i}`)); // one tick: one chunk (or message)
      const { rec: first } = await accept();
      const delivered = () => first.messages.length + next.messages.length;
      await within(
        (async () => {
          while (delivered() < 5) await delay(5);
        })(),
        5000,
        'five messages delivered',
      );
      expect(events).toEqual([
        'first 0',
        'first resumed',
        'first returns',
        'next 1',
        'next 2',
        'next 3',
        'next 4',
      ]);
      // reading goes on after the loop that swapped the handler
      conn.send(message(5, 'later'));
      await next.messagesAtLeast(5);
      expect(next.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    });

    it('reports a framing error once; the server can still answer and close', async () => {
      const tt = await t();
      const { endpoint, accept } = await listen({ accept: (c) => withRecorder(c) });
      const raw = await tt.rawConnect(endpoint, track);
      const received: Buffer[] = [];
      raw.on('data', (d: Buffer) => received.push(d));
      const ended = new Promise<void>((resolve) => raw.once('end', () => resolve()));
      raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const server = await accept();
      const err = await server.rec.errored();
      expect(err).toBeInstanceOf(ProtocolError);
      // Bytes after the error are dropped: no second error, no message.
      raw.write(encodedBytes(message(1, 'late'), 502));
      raw.write(Buffer.from('more garbage'));
      await delay(50);
      expect(server.rec.errors).toHaveLength(1);
      expect(server.rec.messages).toHaveLength(0);
      expect(server.conn.closed).toBe(false);
      const last = message(0, 'goodbye', { type: 3 });
      server.conn.send(last);
      await within(server.conn.close(), 5000, 'server close');
      await within(ended, 5000, 'raw client sees the end');
      expect(Buffer.concat(received)).toEqual(encodedBytes(last, 502));
      expect(server.rec.closes).toEqual([undefined]);
    });

    it('refuses an oversize header with MessageTooLargeError before the payload arrives', async () => {
      const tt = await t();
      const { endpoint, accept } = await listen({ maxMessageSize: MiB, accept: (c) => withRecorder(c) });
      const raw = await tt.rawConnect(endpoint, track);
      // Only the 40-byte header is sent: the error can only come from the header's length fields.
      raw.write(pyro5Header(0x7fff_0000));
      const server = await accept();
      const err = await server.rec.errored();
      expect(err).toBeInstanceOf(MessageTooLargeError);
      expect((err as MessageTooLargeError).limit).toBe(MiB);
      expect((err as MessageTooLargeError).size).toBe(0x7fff_0000);
    });

    it('refuses to send a message over the limit, and stays usable', async () => {
      const { endpoint, accept } = await listen();
      const tt = await t();
      const conn = track.connection(
        await tt.client.connect({ endpoint, framing: framing([502], 1024), timeoutMs: 5000 }),
      );
      const rec = new Recorder();
      conn.setHandler(rec);
      expect(() => conn.send(message(1, Buffer.alloc(2048)))).toThrow(MessageTooLargeError);
      conn.send(message(2, 'small'));
      await rec.messagesAtLeast(1);
      expect(rec.messages[0]!.seq).toBe(2);
      const server = await accept();
      expect(server.rec.messages.map((m) => m.seq)).toEqual([2]);
    });

    it('close() flushes what was queued; onClose fires once on both sides', async () => {
      const { endpoint, accept } = await listen({ accept: (c) => withRecorder(c) });
      const { conn, rec } = await connect(endpoint);
      for (let i = 0; i < 100; i++) conn.send(message(i, Buffer.alloc(1000, i)));
      const closing = conn.close();
      expect(conn.closed).toBe(true);
      expect(() => conn.send(message(100))).toThrow(ConnectionClosedError);
      await within(closing, 5000, 'close');
      const server = await accept();
      expect(await server.rec.closed()).toBeUndefined();
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(100).keys()]);
      expect(await rec.closed()).toBeUndefined();
      await conn.close();
      await delay(20);
      expect(rec.closes).toHaveLength(1);
      expect(server.rec.closes).toHaveLength(1);
      expect(server.conn.closed).toBe(true);
      await expect(conn.drained()).rejects.toThrow(ConnectionClosedError);
    });

    it('onConnect gets the connection inside its connect event (TCP, Unix, TLS); what it sends arrives', async () => {
      const { endpoint, accept } = await listen({ accept: (c) => withRecorder(c) });
      const tt = await t();
      const order: string[] = [];
      let made: Connection | undefined;
      const rec = new Recorder();
      const connecting = tt.client
        .connect({
          endpoint,
          framing: framing([502]),
          timeoutMs: 5000,
          onConnect: (conn) => {
            order.push('onConnect');
            made = conn;
            conn.setHandler(rec);
            conn.send(message(7, 'first'));
          },
        })
        .then((conn) => {
          order.push('resolved');
          return track.connection(conn);
        });
      const conn = await within(connecting, 5000, 'connect');
      if (['tcp', 'unix', 'tls'].includes(tt.client.kind)) {
        expect(order).toEqual(['onConnect', 'resolved']);
        expect(made).toBe(conn);
      } else {
        // other transports ignore it: the caller sends once connect() resolves
        expect(order).toEqual(['resolved']);
        conn.setHandler(rec);
        conn.send(message(7, 'first'));
      }
      const server = await accept();
      await server.rec.messagesAtLeast(1);
      expect(server.rec.messages.map((m) => m.seq)).toEqual([7]);
    });

    it('close({ waitForPeer: false }) does not wait for the peer, which still reads all of it', async () => {
      const { endpoint, accept } = await listen({ accept: (c) => withRecorder(c) });
      const { conn, rec } = await connect(endpoint, 502);
      const server = await accept();
      // a peer that reads nothing (paused) never sees the end, so it never ends its own side
      server.conn.pause();
      await delay(20);
      for (let i = 0; i < 10; i++) conn.send(message(i, Buffer.alloc(100, i)));
      const kind = (await t()).client.kind;
      if (kind === 'tcp' || kind === 'unix') {
        // the socket closes as soon as its output is with the OS (a proxy's release)
        await within(conn.close({ waitForPeer: false, timeoutMs: 0 }), 2000, 'close without the peer');
        expect(await rec.closed()).toBeUndefined();
        server.conn.resume();
      } else {
        // TLS (close_notify), memory and WebSocket connections close as with the default
        const closing = conn.close({ waitForPeer: false });
        server.conn.resume();
        await within(closing, 5000, 'close');
      }
      expect(await server.rec.closed()).toBeUndefined();
      expect(server.rec.messages.map((m) => m.seq)).toEqual([...Array(10).keys()]);
    });

    it('destroy() closes at once and passes its error to onClose', async () => {
      const { endpoint, accept, listener } = await listen({ accept: (c) => withRecorder(c) });
      const { conn, rec } = await connect(endpoint);
      const server = await accept();
      const reason = new Error('local reason');
      conn.destroy(reason);
      expect(conn.closed).toBe(true);
      expect(() => conn.send(message(1))).toThrow(ConnectionClosedError);
      expect(await rec.closed()).toBe(reason);
      await server.rec.closed();
      conn.destroy();
      await delay(20);
      expect(rec.closes).toHaveLength(1);
      expect(server.rec.closes).toHaveLength(1);
      expect(listener.connections.size).toBe(0);
    });

    it('a peer close marks the connection closed', async () => {
      const { endpoint, accept } = await listen();
      const { conn, rec } = await connect(endpoint);
      const server = await accept();
      await server.conn.close();
      expect(await rec.closed()).toBeUndefined();
      expect(conn.closed).toBe(true);
      expect(() => conn.send(message(1))).toThrow(ConnectionClosedError);
    });

    it('onClose reaches a handler installed after the close', async () => {
      const { endpoint, accept } = await listen({ accept: () => new Recorder() });
      const tt = await t();
      const conn = track.connection(await tt.client.connect({ endpoint, framing: framing([502]) }));
      const server = await accept();
      server.conn.destroy();
      await within(
        (async () => {
          while (!conn.closed) await delay(5);
        })(),
        5000,
        'client notices',
      );
      await delay(20);
      const rec = new Recorder();
      conn.setHandler(rec);
      expect(rec.closes).toHaveLength(1);
    });

    it('listener.close() destroys connections; stopAccepting() keeps them', async () => {
      const tt = await t();
      const first = await listen();
      const a = await connect(first.endpoint);
      await first.accept();
      await first.listener.stopAccepting();
      await expect(tt.client.connect({ endpoint: first.endpoint, framing: framing([502]) })).rejects.toThrow(
        CommunicationError,
      );
      a.conn.send(message(1, 'still here'));
      await a.rec.messagesAtLeast(1);
      expect(first.listener.connections.size).toBe(1);
      await within(first.listener.close(), 5000, 'listener close');
      expect(first.listener.connections.size).toBe(0);
      await a.rec.closed();
      expect(a.conn.closed).toBe(true);
    });

    it('connection refused is a CommunicationError naming the address', async () => {
      const tt = await t();
      const { listener, endpoint } = await listen();
      await listener.close();
      const err = await tt.client.connect({ endpoint, framing: framing([502]), timeoutMs: 5000 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CommunicationError);
      expect((err as Error).message).toContain(formatEndpoint(endpoint));
    });

    it('an aborted signal rejects connect with AbortedError', async () => {
      const tt = await t();
      const { endpoint } = await listen();
      const controller = new AbortController();
      controller.abort();
      await expect(
        tt.client.connect({ endpoint, framing: framing([502]), signal: controller.signal }),
      ).rejects.toBeInstanceOf(AbortedError);
    });

    it('a connect that never completes times out, or aborts, with typed errors', async (ctx) => {
      const tt = await t();
      if (!tt.stalled) {
        ctx.skip();
        return;
      }
      const endpoint = await tt.stalled(track);
      const started = Date.now();
      const timedOut = await tt.client.connect({ endpoint, framing: framing([502]), timeoutMs: 150 }).then(
        (c) => c,
        (e: unknown) => e,
      );
      expect(timedOut).toBeInstanceOf(TimeoutError);
      expect(Date.now() - started).toBeLessThan(2000);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const aborted = await tt.client
        .connect({ endpoint, framing: framing([502]), signal: controller.signal, timeoutMs: 5000 })
        .then(
          (c) => c,
          (e: unknown) => e,
        );
      expect(aborted).toBeInstanceOf(AbortedError);
    });

    it('idle timeout closes a silent connection with TimeoutError; traffic keeps it open', async () => {
      const { endpoint, accept } = await listen({ extra: { idleTimeoutMs: 400 } });
      const busy = await connect(endpoint);
      const busyServer = await accept();
      const idle = await connect(endpoint);
      const idleServer = await accept();
      for (let i = 0; i < 7; i++) {
        busy.conn.send(message(i, 'ping'));
        await delay(50);
      }
      expect(busyServer.conn.closed).toBe(false);
      expect(await idleServer.rec.closed(3000)).toBeInstanceOf(TimeoutError);
      await idle.rec.closed(3000);
      expect(busy.conn.closed).toBe(false);
      expect(busy.rec.messages).toHaveLength(7);
    });

    it('passes hmacKey and compressAbove to the codec', async () => {
      const hmacKey = Buffer.from('shared secret');
      const { endpoint, accept } = await listen({ versions: [502, 48], framingExtra: { hmacKey } });
      const tt = await t();
      const signed = track.connection(
        await tt.client.connect({
          endpoint,
          framing: { ...framing([48]), hmacKey, compressAbove: 100 },
          timeoutMs: 5000,
        }),
      );
      const rec = new Recorder();
      signed.setHandler(rec);
      const big = Buffer.alloc(5000, 'a');
      signed.send(message(1, big));
      await rec.messagesAtLeast(1);
      expect(Buffer.from(rec.messages[0]!.payload)).toEqual(big);
      await accept();

      const { conn: unsigned } = await connect(endpoint, 48);
      unsigned.send(message(1, 'no hmac'));
      const server = await accept();
      const err = await server.rec.errored();
      expect(err).toBeInstanceOf(SecurityError);
      expect(server.rec.messages).toHaveLength(0);
    });

    it('a handler that throws destroys its connection with that error', async () => {
      const boom = new Error('handler bug');
      const closes: Array<Error | undefined> = [];
      const { endpoint } = await listen({
        accept: (c) => {
          const rec = new Recorder();
          c.setHandler({
            onMessage: () => {
              throw boom;
            },
            onError: (e) => rec.onError(e),
            onClose: (e) => {
              closes.push(e);
              rec.onClose(e);
            },
          });
          return rec;
        },
      });
      const { conn, rec } = await connect(endpoint);
      conn.send(message(1, 'x'));
      await rec.closed();
      await within(
        (async () => {
          while (closes.length === 0) await delay(5);
        })(),
        5000,
        'server close',
      );
      expect(closes).toEqual([boom]);
    });

    it('rejects bad options with ConfigError', async () => {
      const tt = await t();
      const { endpoint } = await listen();
      await expect(tt.client.connect({ endpoint, framing: framing([502, 48]) })).rejects.toBeInstanceOf(
        ConfigError,
      );
      await expect(tt.client.connect({ endpoint, framing: framing([]) })).rejects.toBeInstanceOf(ConfigError);
      await expect(tt.client.connect({ endpoint, framing: framing([502], 0) })).rejects.toBeInstanceOf(
        ConfigError,
      );
      const other: Endpoint =
        endpoint.kind === 'tcp'
          ? { kind: 'unix', path: '/tmp/x' }
          : { kind: 'tcp', host: '127.0.0.1', port: 1 };
      if (tt.client.kind !== 'tls' && !tt.anyEndpointKind) {
        await expect(tt.client.connect({ endpoint: other, framing: framing([502]) })).rejects.toBeInstanceOf(
          ConfigError,
        );
      }
    });
  });
}

/** Installs a fresh recording handler and returns it. */
/** Records what arrives and pauses the connection after its first message. */
function pauseAfterFirst(conn: Connection): Recorder {
  let paused = false;
  const rec = new Recorder(() => {
    if (!paused) {
      paused = true;
      conn.pause();
    }
  });
  conn.setHandler(rec);
  return rec;
}

function withRecorder(conn: Connection): Recorder {
  const rec = new Recorder();
  conn.setHandler(rec);
  return rec;
}

/** Sequential access to a worker's messages. */
function workerMessages(worker: Worker): () => Promise<unknown> {
  const queue: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  worker.on('message', (m: unknown) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return () => {
    if (queue.length) return Promise.resolve(queue.shift());
    return within(new Promise((resolve) => waiting.push(resolve)), 5000, 'worker message');
  };
}
