// TCP over IPv4, IPv6 and a dual-stack `::` listener: the compliance suite plus what is specific to
// TCP (real port reporting, dual-stack on/off, address formats, address in use, connect stall).
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CommunicationError, Deadline, silentLogger, TimeoutError } from '@cinder/core';
import { startChild, withCallCounts } from '@cinder/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { KeepAliveLater } from '../src/keepalive-later.js';
import { SocketConnection } from '../src/socket-connection.js';
import type { Endpoint } from '../src/transport.js';
import { type ComplianceTarget, transportCompliance } from './compliance.js';
import {
  delay,
  encodedBytes,
  framing,
  loopbackTcpTimer,
  message,
  Recorder,
  Tracker,
  within,
} from './harness.js';

const stalledScript = fileURLToPath(new URL('./fixtures/stalled_listener.py', import.meta.url));

export function rawTcpConnect(endpoint: Endpoint, track: Tracker): Promise<Socket> {
  if (endpoint.kind !== 'tcp') throw new Error('tcp endpoint expected');
  const socket = track.socket(netConnect({ host: endpoint.host, port: endpoint.port }));
  return within(new Promise((resolve) => socket.once('connect', () => resolve(socket))), 5000, 'raw connect');
}

/**
 * A listener that never accepts, with its one-slot backlog already taken, so that connecting to it
 * stalls until the caller's timeout.
 */
export async function stalledTcpEndpoint(host: string, track: Tracker): Promise<Endpoint> {
  const child = startChild(stalledScript, [host], {
    command: '/usr/bin/python3',
  });
  track.onClose(() => child.stop('SIGKILL', 0).then(() => {}));
  const [line] = await child.waitForLine(/^\d+$/, 5000);
  const endpoint: Endpoint = { kind: 'tcp', host, port: Number(line) };
  await rawTcpConnect(endpoint, track);
  return endpoint;
}

function tcpTarget(listenHost: string, connectHost: string): ComplianceTarget {
  const transport = tcpTransport();
  return {
    server: transport,
    client: transport,
    listenEndpoint: () => ({ kind: 'tcp', host: listenHost, port: 0 }),
    connectEndpoint: (bound) => ({
      ...(bound as Extract<Endpoint, { kind: 'tcp' }>),
      host: connectHost,
    }),
    rawConnect: rawTcpConnect,
    stalled: (track) => stalledTcpEndpoint(connectHost, track),
  };
}

transportCompliance('tcp IPv4', () => tcpTarget('127.0.0.1', '127.0.0.1'));
transportCompliance('tcp IPv6', () => tcpTarget('::1', '::1'));
transportCompliance('tcp dual stack (IPv4 client, :: listener)', () => tcpTarget('::', '127.0.0.1'));

describe('tcp specifics', () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());
  const tcp = tcpTransport();

  async function echoListener(endpoint: Endpoint, extra: { dualStack?: boolean } = {}) {
    const serverRecs: Recorder[] = [];
    const remotes: string[] = [];
    const hosts: Array<string | undefined> = [];
    const listener = track.listener(
      await tcp.listen({ endpoint, framing: framing([502]), ...extra }, (conn) => {
        track.connection(conn);
        remotes.push(conn.remoteAddress);
        hosts.push(conn.remoteHost);
        const rec = new Recorder((m) => conn.send({ ...m, type: 5 }));
        serverRecs.push(rec);
        conn.setHandler(rec);
      }),
    );
    return { listener, serverRecs, remotes, hosts };
  }

  it("an accepted connection tells its peer's host at once, and its host:port also when first asked after the close", async () => {
    const accepted: Array<{
      conn: import('../src/transport.js').Connection;
      rec: Recorder;
    }> = [];
    const listener = track.listener(
      await tcp.listen(
        {
          endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 },
          framing: framing([502]),
        },
        (conn) => {
          const rec = new Recorder();
          accepted.push({ conn, rec });
          conn.setHandler(rec);
        },
      ),
    );
    const port = (listener.endpoint as { port: number }).port;
    const conn = await tcp.connect({
      endpoint: { kind: 'tcp', host: '127.0.0.1', port },
      framing: framing([502]),
    });
    const clientAddress = conn.localAddress;
    await within(
      (async () => {
        while (accepted.length === 0) await delay(5);
      })(),
      2000,
      'accept',
    );
    const server = accepted[0]!;
    track.connection(server.conn);
    expect(server.conn.remoteHost).toBe('127.0.0.1');
    conn.destroy();
    await server.rec.closed(2000);
    // nothing asked for it while the connection was open: written now, from what accept read
    expect(server.conn.remoteAddress).toBe(clientAddress);
    expect(server.conn.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('reports the real port when port 0 was asked for, and refuses a port in use', async () => {
    const { listener } = await echoListener({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
    });
    expect(listener.endpoint).toEqual({
      kind: 'tcp',
      host: '127.0.0.1',
      port: expect.any(Number),
    });
    const { port } = listener.endpoint as { port: number };
    expect(port).toBeGreaterThan(0);
    const err = await tcp
      .listen(
        {
          endpoint: { kind: 'tcp', host: '127.0.0.1', port },
          framing: framing([502]),
        },
        () => {},
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toContain(`address already in use: 127.0.0.1:${port}`);
  });

  // A dial remembers the last frozen endpoint (a uri's) it checked; one the caller may still change
  // is checked and read again every time.
  it('dials where an endpoint says at each connect: a changed one, a frozen one again', async () => {
    const first = await echoListener({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
    });
    const second = await echoListener({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
    });
    const port1 = (first.listener.endpoint as { port: number }).port;
    const port2 = (second.listener.endpoint as { port: number }).port;
    const frozen: Endpoint = Object.freeze({
      kind: 'tcp',
      host: '127.0.0.1',
      port: port1,
    });
    const mutable = { kind: 'tcp' as const, host: '127.0.0.1', port: port1 };
    const f = framing([502]);
    for (let i = 0; i < 2; i++) {
      const c = track.connection(await tcp.connect({ endpoint: frozen, framing: f }));
      expect(c.remoteAddress).toBe(`127.0.0.1:${port1}`);
    }
    const c1 = track.connection(await tcp.connect({ endpoint: mutable, framing: f }));
    expect(c1.remoteAddress).toBe(`127.0.0.1:${port1}`);
    mutable.port = port2;
    const c2 = track.connection(await tcp.connect({ endpoint: mutable, framing: f }));
    expect(c2.remoteAddress).toBe(`127.0.0.1:${port2}`);
    mutable.port = 0;
    await expect(tcp.connect({ endpoint: mutable, framing: f })).rejects.toThrow(/invalid TCP port 0/);
    expect(first.remotes).toHaveLength(3);
    await expect.poll(() => second.remotes.length).toBe(1);
  });

  it('a dual-stack listener shows IPv4 peers as IPv4, an IPv6-only one refuses them', async () => {
    const dual = await echoListener({ kind: 'tcp', host: '::', port: 0 });
    const dualPort = (dual.listener.endpoint as { port: number }).port;
    const conn = track.connection(
      await tcp.connect({
        endpoint: { kind: 'tcp', host: '127.0.0.1', port: dualPort },
        framing: framing([502]),
      }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    conn.send(message(1, 'v4'));
    await rec.messagesAtLeast(1);
    expect(dual.remotes).toEqual([conn.localAddress]);
    expect(dual.remotes[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    // the mapped form (::ffff:127.0.0.1) folded, as in remoteAddress
    expect(dual.hosts).toEqual(['127.0.0.1']);

    const v6only = await echoListener({ kind: 'tcp', host: '::', port: 0 }, { dualStack: false });
    const v6Port = (v6only.listener.endpoint as { port: number }).port;
    await expect(
      tcp.connect({
        endpoint: { kind: 'tcp', host: '127.0.0.1', port: v6Port },
        framing: framing([502]),
      }),
    ).rejects.toThrow(/connection refused/);
    const c6 = track.connection(
      await tcp.connect({
        endpoint: { kind: 'tcp', host: '::1', port: v6Port },
        framing: framing([502]),
      }),
    );
    expect(c6.remoteAddress).toBe(`[::1]:${v6Port}`);
    expect(c6.localAddress).toMatch(/^\[::1\]:\d+$/);
  });

  it("a connection's first frame is encoded once, into its small first slab", async () => {
    const { serverRecs, listener } = await echoListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const port = (listener.endpoint as { port: number }).port;
    const conn = track.connection(
      await tcp.connect({ endpoint: { kind: 'tcp', host: '127.0.0.1', port }, framing: framing([502]) }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    await withCallCounts(async (take) => {
      await take('encodeMessageInto');
      conn.send(message(1, 'first'));
      const afterFirst = await take('encodeMessageInto');
      conn.send(message(2, 'second'));
      const afterSecond = await take('encodeMessageInto');
      await rec.messagesAtLeast(2);
      expect(serverRecs[0]!.messages.length).toBe(2);
      // each take resets the counts: one encode per frame, the first one included
      expect(afterFirst).toBe(1);
      expect(afterSecond).toBe(1);
    });
  });

  it("a dial reads its deadline's clock once, and one passed already rejects it with no socket made", async () => {
    const { listener, serverRecs } = await echoListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const endpoint = listener.endpoint;
    await withCallCounts(async (take) => {
      await take('expired');
      const bound = Deadline.within(Deadline.NONE, 5000, true);
      track.connection(await tcp.connect({ endpoint, framing: framing([502]), deadline: bound }));
      // the dial's wait on it (its first listener) is the one check: none of its own before
      expect(await take('expired')).toBe(1);
    });
    const passed = Deadline.after(1);
    await delay(10);
    const err = await tcp
      .connect({ endpoint, framing: framing([502]), deadline: passed })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/^connecting to 127\.0\.0\.1:\d+ timed out after 1 ms$/);
    await delay(50);
    expect(serverRecs.length).toBe(1); // the first dial's only: the late one made no connection
  });

  it("a dial's deadline stays armed into what onConnect waits on with it: its timer is armed once", async () => {
    const { listener } = await echoListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const port = (listener.endpoint as { port: number }).port;
    await withCallCounts(async (take) => {
      await take('#arm');
      // a connect bound as a proxy makes it (coarse: the shared timer), waited on by the dial, then
      // by what onConnect starts (a handshake)
      const bound = Deadline.within(Deadline.NONE, 5000, true);
      let stop = (): void => {};
      track.connection(
        await tcp.connect({
          endpoint: { kind: 'tcp', host: '127.0.0.1', port },
          framing: framing([502]),
          deadline: bound,
          onConnect: () => {
            stop = bound.onExpire(() => {});
          },
        }),
      );
      const armed = await take('#arm');
      stop();
      // disarmed when the dial stopped watching and armed again by the wait onConnect started: 2
      expect(armed).toBe(1);
      expect(bound.expired()).toBeUndefined();
    });
  });

  it('connects by host name', async () => {
    const { listener } = await echoListener({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
    });
    const port = (listener.endpoint as { port: number }).port;
    const conn = track.connection(
      await tcp.connect({
        endpoint: { kind: 'tcp', host: 'localhost', port },
        framing: framing([502]),
      }),
    );
    expect(conn.remoteAddress).toBe(`127.0.0.1:${port}`);
  });
  // Linux: the options are set once on the listening socket and accepted sockets inherit them.
  // /proc/net/tcp shows a keepalive timer (tr 2) on an idle socket with SO_KEEPALIVE, none (tr 0)
  // without; the client's end here never sets it.
  it.runIf(process.platform === 'linux')(
    'accepted sockets have keepalive on, and off when tuned off',
    async () => {
      const timerOfAccepted = async (transport: ReturnType<typeof tcpTransport>) => {
        const listener = track.listener(
          await transport.listen(
            {
              endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 },
              framing: framing([502]),
            },
            (conn) => {
              track.connection(conn);
              conn.setHandler(new Recorder());
            },
          ),
        );
        const port = (listener.endpoint as { port: number }).port;
        const client = await rawTcpConnect(listener.endpoint, track);
        // the accepted socket: local port = the listener's, remote port = the client's
        const timer = () => loopbackTcpTimer(port, client.localPort!);
        await expect.poll(timer, { timeout: 2000 }).toBeDefined();
        return timer();
      };
      expect(await timerOfAccepted(tcpTransport())).toBe('02');
      expect(await timerOfAccepted(tcpTransport({ keepAlive: false }))).toBe('00');
    },
  );

  // A client's keepalive waits until its connection has lived a step (1-2 s; keepalive-later.ts)
  // when the delay is long, and is set at connect when it is short. Three connections at once, one
  // per tuning, read through /proc/net/tcp: the client's end (local port = its own).
  it.runIf(process.platform === 'linux')(
    'a client socket gets keepalive once its connection has lived a second or two; short delays at connect; none when off',
    async () => {
      const { listener } = await echoListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
      const port = (listener.endpoint as { port: number }).port;
      const open = async (transport: ReturnType<typeof tcpTransport>) => {
        const conn = track.connection(
          await transport.connect({ endpoint: listener.endpoint, framing: framing([502]) }),
        );
        const local = Number(conn.localAddress.split(':').pop());
        return () => loopbackTcpTimer(local, port);
      };
      const t0 = Date.now();
      const deferred = await open(tcpTransport());
      const short = await open(tcpTransport({ keepAliveInitialDelayMs: 5000 }));
      const off = await open(tcpTransport({ keepAlive: false }));
      expect(deferred()).toBe('00');
      expect(short()).toBe('02');
      expect(off()).toBe('00');
      await expect.poll(deferred, { timeout: 3500, interval: 50 }).toBe('02');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(short()).toBe('02');
      expect(off()).toBe('00');
    },
  );

  it('a client connection closed before it got keepalive leaves the waiting list', async () => {
    const { listener } = await echoListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const later = new KeepAliveLater(60_000);
    const socket = track.socket(netConnect((listener.endpoint as { port: number }).port, '127.0.0.1'));
    await new Promise((resolve) => socket.once('connect', resolve));
    const conn = new SocketConnection({
      socket,
      transport: 'tcp',
      framing: framing([502]),
      server: false,
      remoteAddress: 'peer',
      localAddress: 'local',
      logger: silentLogger,
      keepAliveLater: later,
    });
    conn.setHandler(new Recorder());
    expect(later.size).toBe(1);
    await conn.close();
    await expect.poll(() => socket.closed).toBe(true);
    expect(later.size).toBe(0);
  });
});

// The end of a connection the peer ended first: with nothing of ours queued, the socket closes at
// once (no shutdown of our side first, so no 'finish'); with output still queued, Node's end()
// flushes it first, and the peer gets every byte before our FIN.
describe("closing after the peer's FIN", () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());

  /** A raw server whose accepted sockets become SocketConnections, as a listener makes them. */
  async function serve(onConnection: (conn: SocketConnection, socket: Socket) => void): Promise<number> {
    const server = track.server(
      createServer({ allowHalfOpen: false }, (socket) => {
        const conn = new SocketConnection({
          socket,
          transport: 'tcp',
          framing: framing([502]),
          server: true,
          remoteAddress: 'peer',
          localAddress: 'local',
          logger: silentLogger,
          adoptReads: true,
        });
        track.connection(conn);
        onConnection(conn, socket);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('nothing queued: our socket closes without shutting down first, and the peer sees a clean end', async () => {
    let finished = false;
    const recorder = new Recorder();
    let serverSocket: Socket | undefined;
    const port = await serve((conn, socket) => {
      serverSocket = socket;
      socket.on('finish', () => (finished = true));
      conn.setHandler(recorder);
    });
    const client = track.socket(netConnect({ host: '127.0.0.1', port, allowHalfOpen: true }));
    await within(new Promise((resolve) => client.once('connect', resolve)), 5000, 'connect');
    client.write(encodedBytes(message(1), 502));
    await recorder.messagesAtLeast(1);
    const peerEnd = new Promise<string>((resolve) => {
      client.once('end', () => resolve('end'));
      client.once('error', (err) => resolve(`error ${err.message}`));
    });
    client.end();
    expect(await recorder.closed()).toBeUndefined();
    expect(await within(peerEnd, 5000, "the server's FIN")).toBe('end');
    expect(serverSocket?.destroyed).toBe(true);
    expect(finished).toBe(false);
  });

  it("listens for 'drain' from the first refused write, and drained() resolves once the peer reads", async () => {
    let serverConn: SocketConnection | undefined;
    let serverSocket: Socket | undefined;
    const recorder = new Recorder();
    const port = await serve((conn, socket) => {
      serverConn = conn;
      serverSocket = socket;
      conn.setHandler(recorder);
    });
    const client = track.socket(netConnect({ host: '127.0.0.1', port }));
    await within(new Promise((resolve) => client.once('connect', resolve)), 5000, 'connect');
    client.pause(); // our replies wait in the server's output until the client reads
    client.write(encodedBytes(message(1), 502));
    await recorder.messagesAtLeast(1);
    const conn = serverConn!;
    const socket = serverSocket!;
    // a small reply: the socket takes it, no 'drain' can come, none is listened for
    expect(conn.send(message(1, 'small'))).toBe(true);
    await delay(20);
    expect(socket.listenerCount('drain')).toBe(0);
    await expect(conn.drained()).resolves.toBeUndefined();
    // replies until the socket refuses one (the client does not read)
    let refused = false;
    for (let i = 2; i < 4096 && !refused; i++) {
      conn.send(message(i, Buffer.alloc(64 * 1024, 7)));
      await delay(0);
      refused = socket.writableNeedDrain;
    }
    expect(refused).toBe(true);
    expect(socket.listenerCount('drain')).toBe(1);
    let drained = false;
    const waiting = conn.drained().then(() => {
      drained = true;
    });
    await delay(50);
    expect(drained).toBe(false);
    client.resume();
    await within(waiting, 10_000, 'drained once the client reads');
    expect(socket.listenerCount('drain')).toBe(1);
  });

  it('output still queued: it is all delivered before our FIN', async () => {
    const big = message(2, 'x'.repeat(8 * 1024 * 1024));
    const expected = encodedBytes(big, 502).length;
    const recorder = new Recorder();
    const port = await serve((conn) => {
      conn.setHandler(recorder);
      recorder.onMessageHook = () => conn.send(big);
    });
    const client = track.socket(netConnect({ host: '127.0.0.1', port, allowHalfOpen: true }));
    await within(new Promise((resolve) => client.once('connect', resolve)), 5000, 'connect');
    client.pause(); // the reply waits in the server's output until the client reads
    client.write(encodedBytes(message(1), 502));
    await recorder.messagesAtLeast(1);
    client.end();
    await delay(50);
    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    client.resume();
    await within(ended, 10_000, 'all of the reply, then the end');
    expect(received).toBe(expected);
    expect(await recorder.closed()).toBeUndefined();
  });
});
