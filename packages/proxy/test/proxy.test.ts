// The proxy against servers made of the engine alone (engine-server.ts) over the memory transport,
// and against silent loopback sockets where a peer must never answer: lazy connect, $bind/$release/$reconnect, timeouts
// (per call and per proxy), AbortSignal, pending calls rejected on disconnect with the method's
// name, remote exceptions, automatic reconnection with backoff (PYRONAME re-resolving: proxy-pyroname.test.ts),
// and which calls are retried after a connection loss (only undelivered or idempotent ones).
import { createServer, type Server } from 'node:net';
import {
  AbortedError,
  CommunicationError,
  ConnectionClosedError,
  RemoteError,
  TimeoutError,
} from '@cinder/core';
import { currentContext, expose } from '@cinder/rpc';
import { MemoryNetwork, memoryTransport } from '@cinder/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as connectProxy, type ProxyOptions } from '../src/index.js';
import { type EngineServer, type EngineServerOptions, startEngineServer } from './engine-server.js';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every server of this file listens in one memory network, so a new one can take a closed one's port. */
const network = new MemoryNetwork();
const transport = memoryTransport({ network });
const serve = (objects: Record<string, object>, options: EngineServerOptions = {}): Promise<EngineServer> =>
  startEngineServer(objects, { network, ...options });
/** A proxy over the memory network. */
const connect = <T extends object>(uri: string, options: ProxyOptions = {}) =>
  connectProxy<T>(uri, { transport, ...options });

class Detailed extends Error {
  override name = 'Detailed';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const runs = new Map<string, number>();
const aborted: string[] = [];

@expose
class Service {
  constructor(readonly label = 'service') {}

  where(): string {
    return this.label;
  }

  add(a: number, b: number): number {
    return a + b;
  }

  async sleep(ms: number, tag: string): Promise<string> {
    runs.set(tag, (runs.get(tag) ?? 0) + 1);
    const signal = currentContext()?.signal;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        aborted.push(tag);
        reject(signal.reason as Error);
      });
    });
    return tag;
  }

  /** Same as sleep; the proxies in these tests mark this one idempotent. */
  async idem(ms: number, tag: string): Promise<string> {
    return this.sleep(ms, tag);
  }

  range(msg: string): never {
    throw new RangeError(msg);
  }

  detailed(): never {
    throw new Detailed('with details', 7);
  }
}

describe('connecting', () => {
  let daemon: EngineServer;
  beforeAll(async () => {
    daemon = await serve({ svc: new Service() });
  });
  afterAll(() => daemon?.close());

  it('connects lazily, on the first call or on $bind', async () => {
    const p = connect<Service>(daemon.uri('svc'));
    await delay(50);
    expect(daemon.connectionCount).toBe(0);
    expect(p.$connected).toBe(false);
    expect(p.$metadata).toBeUndefined();
    expect(await p.add(1, 2)).toBe(3);
    expect(daemon.connectionCount).toBe(1);
    expect(p.$connected).toBe(true);
    const q = connect<Service>(daemon.uri('svc'));
    await q.$bind();
    expect(daemon.connectionCount).toBe(2);
    expect(q.$metadata?.methods).toContain('add');
    expect(q.$resolvedUri?.toString()).toBe(daemon.uri('svc'));
    await p.$release();
    await q.$release();
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(0);
  });

  it('$release keeps the proxy usable; $reconnect opens a new connection', async () => {
    await using p = connect<Service>(daemon.uri('svc'));
    expect(await p.add(1, 1)).toBe(2);
    await p.$release();
    expect(p.$connected).toBe(false);
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(0);
    expect(await p.add(2, 2)).toBe(4);
    expect(daemon.connectionCount).toBe(1);
    await p.$reconnect();
    expect(p.$connected).toBe(true);
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(1);
    expect(await p.add(3, 3)).toBe(6);
    await p.$release();
    await p.$release();
  });

  it('many concurrent first calls share one connection', async () => {
    await using p = connect<Service>(daemon.uri('svc'));
    const sums = await Promise.all(Array.from({ length: 50 }, (_, i) => p.add(i, i)));
    expect(sums).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
    expect(daemon.connectionCount).toBe(1);
  });
});

describe('timeouts and cancellation', () => {
  let daemon: EngineServer;
  beforeAll(async () => {
    daemon = await serve({ svc: new Service() });
  });
  afterAll(() => daemon?.close());

  it('per-call timeout: TimeoutError naming the call; the server sees the cancellation', async () => {
    await using p = connect<Service>(daemon.uri('svc'));
    // connected first: under a loaded full test run, connecting alone can take more than 150 ms,
    // and the timeout would then be the connect's ("connect to … timed out"), not the call's
    await p.$bind();
    const t0 = performance.now();
    const err = await p
      .$with({ timeoutMs: 150 })
      .sleep(5000, 'call-timeout')
      .catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/call sleep timed out after 150 ms/);
    await expect.poll(() => aborted.includes('call-timeout'), { timeout: 2000 }).toBe(true);
    // multiplexed: the connection survives a timed-out call
    expect(await p.add(1, 2)).toBe(3);
    expect(daemon.connectionCount).toBe(1);
  });

  it('per-proxy timeout applies to every call; $call options override it', async () => {
    await using p = connect<Service>(daemon.uri('svc'), { timeoutMs: 100 });
    await expect(p.sleep(3000, 'proxy-timeout')).rejects.toBeInstanceOf(TimeoutError);
    expect(await p.$call('sleep', [300, 'longer allowed'], { timeoutMs: 2000 })).toBe('longer allowed');
  });

  it('without multiplexing a timed-out call drops the connection (like Pyro), and the next call reconnects', async () => {
    await using p = connect<Service>(daemon.uri('svc'), { multiplex: false });
    await expect(p.$with({ timeoutMs: 100 }).sleep(3000, 'plain-timeout')).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(await p.add(5, 5)).toBe(10);
  });

  it('without multiplexing, calls queued behind a timed-out call are never sent on the dropped connection', async () => {
    runs.delete('behind-timeout');
    runs.delete('behind-timeout-2');
    await using p = connect<Service>(daemon.uri('svc'), { multiplex: false });
    await p.$bind();
    const first = p.$with({ timeoutMs: 150 }).sleep(3000, 'first-times-out');
    const queued = p.sleep(10, 'behind-timeout').catch((e: unknown) => e);
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    const err = await queued;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toMatch(/call sleep/);
    await delay(200);
    expect(runs.get('behind-timeout')).toBeUndefined();
    // with reconnection, such a call is retried (it provably never went out) and runs once
    await using r = connect<Service>(daemon.uri('svc'), {
      multiplex: false,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxWaitMs: 3000 },
    });
    await r.$bind();
    const again = r.$with({ timeoutMs: 150 }).sleep(3000, 'first-times-out');
    const retried = r.sleep(10, 'behind-timeout-2');
    await expect(again).rejects.toBeInstanceOf(TimeoutError);
    expect(await retried).toBe('behind-timeout-2');
    await delay(100);
    expect(runs.get('behind-timeout-2')).toBe(1);
  });

  it('AbortSignal: aborts a call in progress, and refuses an already aborted signal at once', async () => {
    await using p = connect<Service>(daemon.uri('svc'));
    const ac = new AbortController();
    const pending = p.$with({ signal: ac.signal }).sleep(5000, 'abort-me');
    setTimeout(() => ac.abort(new Error('user pressed stop')), 100);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).message).toMatch(/call sleep was aborted/);
    await expect.poll(() => aborted.includes('abort-me'), { timeout: 2000 }).toBe(true);
    const before = runs.get('never-sent') ?? 0;
    await expect(
      p.$call('sleep', [10, 'never-sent'], { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortedError);
    await delay(100);
    expect(runs.get('never-sent') ?? 0).toBe(before);
    expect(await p.add(1, 1)).toBe(2);
  });

  it('connect timeout against a port that accepts but never answers', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    try {
      await using p = connectProxy<Service>(`PYRO:svc@127.0.0.1:${port}`, { connectTimeoutMs: 200 });
      const t0 = performance.now();
      const err = await p.add(1, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });
});

describe('a call never hangs', () => {
  it.each([true, false])(
    'every pending call rejects with ConnectionClosedError naming its method (multiplex %s)',
    async (multiplex) => {
      const daemon = await serve({ svc: new Service() });
      const p = connect<Service>(daemon.uri('svc'), { multiplex });
      await p.$bind();
      const pending = [
        p.sleep(10_000, 'a').catch((e: unknown) => e),
        p.idem(10_000, 'b').catch((e: unknown) => e),
        p.add(1, 2).then(
          (v) => (multiplex ? v : new Error('queued call should not have run')),
          (e: unknown) => e,
        ),
        p.sleep(10_000, 'c').catch((e: unknown) => e),
      ];
      await delay(100);
      const t0 = performance.now();
      await daemon.close();
      const results = await Promise.all(pending);
      expect(performance.now() - t0).toBeLessThan(2000);
      const expected = multiplex ? ['sleep', 'idem', null, 'sleep'] : ['sleep', 'idem', 'add', 'sleep'];
      results.forEach((r, i) => {
        const method = expected[i];
        if (method === null) {
          expect(r).toBe(3);
          return;
        }
        expect(r).toBeInstanceOf(ConnectionClosedError);
        expect((r as Error).message).toMatch(new RegExp(`call ${method}\\b`));
      });
      await expect(p.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
      await p.$release();
    },
  );
});

describe('remote exceptions', () => {
  let daemon: EngineServer;
  beforeAll(async () => {
    daemon = await serve({ svc: new Service() });
  });
  afterAll(() => daemon?.close());

  it('come back as their own class (built-ins) or RemoteError, with the remote stack', async () => {
    await using p = connect<Service>(daemon.uri('svc'));
    const range = (await p.range('out of range').catch((e: unknown) => e)) as RangeError & {
      remoteTraceback?: string[];
    };
    expect(range).toBeInstanceOf(RangeError);
    expect(range.message).toBe('out of range');
    expect(range.remoteTraceback?.join('')).toMatch(/range/);
    const detailed = (await p.detailed().catch((e: unknown) => e)) as RemoteError;
    expect(detailed).toBeInstanceOf(RemoteError);
    expect(detailed.remoteMessage).toBe('with details');
    expect(detailed.attributes.code).toBe(7);
    expect(detailed.remoteStack).toMatch(/detailed/);
    // the connection is not harmed by remote exceptions
    expect(await p.add(1, 1)).toBe(2);
  });
});

describe('automatic reconnection', () => {
  it('retries the connect with backoff (not a tight loop) until the daemon is there', async () => {
    let attempts = 0;
    // a listener that drops every connection at once
    const flaky = await transport.listen(
      {
        endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 },
        framing: { versions: [502], maxMessageSize: 1 << 20 },
      },
      (connection) => {
        attempts++;
        connection.destroy();
      },
    );
    const { port } = flaky.endpoint as { port: number };
    const p = connect<Service>(`PYRO:svc@127.0.0.1:${port}`, {
      reconnect: { initialDelayMs: 40, maxDelayMs: 200, maxWaitMs: 5000 },
    });
    const call = p.add(20, 22);
    await delay(1000);
    await flaky.close();
    // roughly 40, 80, 160, 200, 200… ms apart: a handful of attempts per second, not hundreds
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(15);
    const daemon = await serve({ svc: new Service() }, { port });
    expect(await call).toBe(42);
    await p.$release();
    await daemon.close();
  });

  it('gives up after maxWaitMs with a CommunicationError', async () => {
    const unused = await serve({});
    const port = unused.port;
    await unused.close();
    const p = connect<Service>(`PYRO:svc@127.0.0.1:${port}`, {
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxWaitMs: 300 },
    });
    const t0 = performance.now();
    await expect(p.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('retrying calls after a connection loss', () => {
  it('a non-idempotent call in flight is NOT retried; an idempotent one is', async () => {
    const first = await serve({ svc: new Service('first') });
    const port = first.port;
    const p = connect<Service>(first.uri('svc'), {
      reconnect: { initialDelayMs: 30, maxDelayMs: 100, maxWaitMs: 5000 },
      idempotent: ['idem'],
    });
    await p.$bind();
    runs.delete('once');
    runs.delete('twice');
    const plain = p.sleep(600, 'once').catch((e: unknown) => e);
    const idem = p.idem(600, 'twice');
    await expect.poll(() => runs.get('once') === 1 && runs.get('twice') === 1, { timeout: 2000 }).toBe(true);
    await first.close();
    const second = await serve({ svc: new Service('second') }, { port });
    try {
      const err = await plain;
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect((err as Error).message).toMatch(/call sleep/);
      expect(await idem).toBe('twice');
      expect(runs.get('twice')).toBe(2);
      await delay(100);
      expect(runs.get('once')).toBe(1);
      expect(await p.where()).toBe('second');
    } finally {
      await p.$release();
      await second.close();
    }
  });

  it('calls not yet sent when the connection drops are retried on the new connection', async () => {
    const first = await serve({ svc: new Service('first') });
    const port = first.port;
    const p = connect<Service>(first.uri('svc'), {
      multiplex: false,
      reconnect: { initialDelayMs: 30, maxDelayMs: 100, maxWaitMs: 5000 },
    });
    await p.$bind();
    runs.delete('in-flight');
    runs.delete('queued');
    const inflight = p.sleep(600, 'in-flight').catch((e: unknown) => e);
    // queued behind the call in flight: provably never delivered
    const queued = p.sleep(10, 'queued');
    const queuedAdd = p.add(2, 3);
    await expect.poll(() => runs.get('in-flight'), { timeout: 2000 }).toBe(1);
    await first.close();
    const second = await serve({ svc: new Service('second') }, { port });
    try {
      expect(await inflight).toBeInstanceOf(ConnectionClosedError);
      expect(await queued).toBe('queued');
      expect(await queuedAdd).toBe(5);
      expect(runs.get('queued')).toBe(1);
      expect(runs.get('in-flight')).toBe(1);
    } finally {
      await p.$release();
      await second.close();
    }
  });

  it('a call made while the daemon is down waits for the reconnect', async () => {
    const first = await serve({ svc: new Service('first') });
    const port = first.port;
    const p = connect<Service>(first.uri('svc'), {
      reconnect: { initialDelayMs: 30, maxDelayMs: 100, maxWaitMs: 5000 },
    });
    expect(await p.where()).toBe('first');
    await first.close();
    await expect.poll(() => p.$connected, { timeout: 2000 }).toBe(false);
    const call = p.where();
    await delay(300);
    const second = await serve({ svc: new Service('second') }, { port });
    try {
      expect(await call).toBe('second');
    } finally {
      await p.$release();
      await second.close();
    }
  });

  it('without reconnect nothing is retried', async () => {
    const first = await serve({ svc: new Service() });
    const p = connect<Service>(first.uri('svc'), { idempotent: ['idem'] });
    await p.$bind();
    const idem = p.idem(5000, 'no-retry').catch((e: unknown) => e);
    await delay(100);
    await first.close();
    expect(await idem).toBeInstanceOf(ConnectionClosedError);
    await p.$release();
  });
});
