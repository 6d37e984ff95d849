// One deadline from connect<T>() to the socket (#13): a call's timeoutMs and signal bound every
// phase of a call that has to connect first — resolving a PYRONAME, dialing, the handshake, the
// wire — as one budget, and a connecting attempt that every waiting call gave up on is stopped (its
// socket closed), not left running until the connection timeout. The connection timeout
// (connectTimeoutMs) stays a bound of its own: the earlier of the two wins. Against silent loopback
// sockets (a hung name server or daemon) and a server made of the engine alone on the memory
// transport whose handshake answers late (engine-server.ts).
import { createServer, type Server, type Socket } from 'node:net';
import { AbortedError, TimeoutError } from '@cinder/core';
import { expose } from '@cinder/rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type ProxyOptions } from '../src/index.js';
import { startEngineServer } from './engine-server.js';

@expose
class Sleeper {
  async sleep(ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }

  quick(): string {
    return 'quick';
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface SilentServer {
  port: number;
  /** Sockets accepted so far. */
  accepted: number;
  /** Resolves when every accepted socket has been closed by the client. */
  allClosed(): Promise<void>;
  open(): number;
}

/** A TCP server that accepts connections and never says a word (a hung name server or daemon). */
async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const waiters: (() => void)[] = [];
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.resume(); // reads (and drops) what comes, so the client's close is seen
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as { port: number }).port,
    get accepted() {
      return accepted;
    },
    open: () => sockets.size,
    allClosed: () =>
      sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

/** Ms until `promise` settles, and its rejection (or undefined). */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await promise;
    return { ms: performance.now() - t0, err: undefined };
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
}

/** Resolves within `ms` or fails the test. */
async function within(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A server whose handshake answers `delayHandshakeMs` late; `over` reaches it. */
async function startServer(delayHandshakeMs: number): Promise<{ uri: string; over: ProxyOptions }> {
  const server = await startEngineServer(
    { 'deadline.sleeper': new Sleeper() },
    {
      validateHandshake: () =>
        new Promise((resolve) => setTimeout(() => resolve('late hello'), delayHandshakeMs)),
    },
  );
  cleanups.push(() => server.close());
  return { uri: server.uri('deadline.sleeper'), over: { transport: server.transport } };
}

describe("a call's deadline bounds connecting", () => {
  it('a PYRONAME call with timeoutMs 300, name server silent: TimeoutError in ~300 ms, lookup socket closed', async () => {
    const ns = await silentServer();
    const p = connect<Sleeper>(`PYRONAME:some.object@127.0.0.1:${ns.port}`, { timeoutMs: 300 });
    cleanups.push(() => p.$release());
    const { ms, err } = await timed(p.quick());
    expect(err).toBeInstanceOf(TimeoutError);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(1500); // the name server's own connect bound is 3 s
    // nobody waits for the lookup any more: its connection is not left to the 3 s bound
    expect(ns.accepted).toBeGreaterThanOrEqual(1);
    await within(ns.allClosed(), 1000, 'the name server connection closed');
  });

  it('the same with a per-call timeout ($with) and with an aborted signal', async () => {
    const ns = await silentServer();
    const p = connect<Sleeper>(`PYRONAME:some.object@127.0.0.1:${ns.port}`);
    cleanups.push(() => p.$release());
    const timedOut = await timed(p.$with({ timeoutMs: 300 }).quick());
    expect(timedOut.err).toBeInstanceOf(TimeoutError);
    expect(timedOut.ms).toBeLessThan(1500);
    await within(ns.allClosed(), 1000, 'the name server connection closed after the timeout');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 100);
    const aborted = await timed(p.$with({ signal: controller.signal }).quick());
    expect(aborted.err).toBeInstanceOf(AbortedError);
    expect(aborted.ms).toBeLessThan(1000);
    await within(ns.allClosed(), 1000, 'the name server connection closed after the abort');
  });

  it.each([
    ['the dial (a TLS handshake that never completes)', true],
    ['the Pyro handshake', false],
  ])('abort during %s: AbortedError, socket closed', async (_phase, tls) => {
    const server = await silentServer();
    const p = connect<Sleeper>(`PYRO:x@127.0.0.1:${server.port}`, {
      ...(tls ? { tls: { rejectUnauthorized: false } } : {}),
      connectTimeoutMs: 10_000,
    });
    cleanups.push(() => p.$release());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { ms, err } = await timed(p.$with({ signal: controller.signal }).quick());
    expect(err).toBeInstanceOf(AbortedError);
    expect(ms).toBeLessThan(1500);
    await within(server.allClosed(), 1000, 'the socket closed');
  });

  it('timeoutMs covers connecting and the call together, not each afresh', async () => {
    const { uri, over } = await startServer(300);
    const p = connect<Sleeper>(uri, over);
    cleanups.push(() => p.$release());
    // 300 ms of handshake + 300 ms of call: within 450 ms only if the budget restarted after connecting
    const { ms, err } = await timed(p.$with({ timeoutMs: 450 }).sleep(300));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(ms).toBeLessThan(600 + 500);
    expect(ms).toBeGreaterThanOrEqual(400);
    // with room for both it works, on the connection made for the first call
    expect(await p.$with({ timeoutMs: 2000 }).sleep(50)).toBe(50);
  });

  it('with no deadline on the call, the connection timeout still bounds connecting', async () => {
    const server = await silentServer();
    const p = connect<Sleeper>(`PYRO:x@127.0.0.1:${server.port}`, { connectTimeoutMs: 250 });
    cleanups.push(() => p.$release());
    const { ms, err } = await timed(p.quick());
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/handshake with 127\.0\.0\.1:\d+ timed out after 250 ms/);
    expect(ms).toBeLessThan(1500);
    await within(server.allClosed(), 1000, 'the socket closed');
  });

  it('a TLS dial that never completes: connectTimeoutMs alone bounds it (the transport watches the bound)', async () => {
    const server = await silentServer();
    const p = connect<Sleeper>(`PYRO:x@127.0.0.1:${server.port}`, {
      tls: { rejectUnauthorized: false },
      connectTimeoutMs: 250,
    });
    cleanups.push(() => p.$release());
    const { ms, err } = await timed(p.quick());
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/connecting to 127\.0\.0\.1:\d+ timed out after 250 ms/);
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(ms).toBeLessThan(1500);
    await within(server.allClosed(), 1000, 'the socket closed');
  });

  it('the earlier bound wins: connectTimeoutMs 250 under a call timeout of 5 s, and the reverse', async () => {
    const server = await silentServer();
    const short = connect<Sleeper>(`PYRO:x@127.0.0.1:${server.port}`, { connectTimeoutMs: 250 });
    cleanups.push(() => short.$release());
    const a = await timed(short.$with({ timeoutMs: 5000 }).quick());
    expect(a.err).toBeInstanceOf(TimeoutError);
    expect(a.ms).toBeLessThan(1500);
    const long = connect<Sleeper>(`PYRO:x@127.0.0.1:${server.port}`, { connectTimeoutMs: 5000 });
    cleanups.push(() => long.$release());
    const b = await timed(long.$with({ timeoutMs: 250 }).quick());
    expect(b.err).toBeInstanceOf(TimeoutError);
    expect(b.ms).toBeLessThan(1500);
  });

  it('calls waiting for one attempt each keep their own deadline; the attempt lives while one waits', async () => {
    const { uri, over } = await startServer(400);
    const p = connect<Sleeper>(uri, over);
    cleanups.push(() => p.$release());
    const impatient = timed(p.$with({ timeoutMs: 150 }).quick());
    const patient = p.quick();
    const first = await impatient;
    expect(first.err).toBeInstanceOf(TimeoutError);
    expect(first.ms).toBeLessThan(390);
    expect(await patient).toBe('quick');
    expect(p.$connected).toBe(true);
  });

  it('an attempt started by a call without a deadline lives on when a later call with one gives up', async () => {
    const { uri, over } = await startServer(400);
    const p = connect<Sleeper>(uri, over);
    cleanups.push(() => p.$release());
    const patient = p.quick();
    const impatient = await timed(p.$with({ timeoutMs: 150 }).quick());
    expect(impatient.err).toBeInstanceOf(TimeoutError);
    expect(impatient.ms).toBeLessThan(390);
    expect(await patient).toBe('quick');
    expect(p.$connected).toBe(true);
    expect(await p.$with({ timeoutMs: 1000 }).quick()).toBe('quick');
  });
});
