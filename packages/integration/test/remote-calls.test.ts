// Remote calls across processes: a fixture daemon in its own process, called over TCP IPv4, TCP
// IPv6, a Unix socket and TLS, for every behaviour of the remote-calls issue.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  AbortedError,
  CommunicationError,
  connect,
  expose,
  type ProxyOptions,
  type Remote,
  RemoteError,
  TimeoutError,
} from '@cinder/cinder';
import { generateTestPki, scratchDir, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Calculator, PartlyExposed } from './fixtures/objects.js';
import { type RunningServer, startServer } from './helpers.js';

const tmp = scratchDir('int');

interface Variant {
  name: string;
  start(): Promise<RunningServer>;
  options(): Promise<ProxyOptions>;
  clientPattern: RegExp;
}

const variants: Variant[] = [
  {
    name: 'tcp ipv4',
    start: () => startServer(['tcp', '127.0.0.1']),
    options: async () => ({}),
    clientPattern: /^127\.0\.0\.1:\d+$/,
  },
  {
    name: 'tcp ipv6',
    start: () => startServer(['tcp', '::1']),
    options: async () => ({}),
    clientPattern: /^\[::1\]:\d+$/,
  },
  {
    name: 'unix socket',
    start: () => startServer(['unix', join(tmp, 'daemon.sock')]),
    options: async () => ({}),
    clientPattern: /.*/,
  },
  {
    name: 'tls',
    start: async () => {
      const pki = await generateTestPki();
      return startServer(['tls'], {
        TEST_TLS_OPTIONS: JSON.stringify({ cert: pki.server.cert, key: pki.server.key }),
      });
    },
    options: async () => ({ tls: { ca: (await generateTestPki()).ca.cert } }),
    clientPattern: /^127\.0\.0\.1:\d+$/,
  },
];

afterAll(async () => {
  await stopAllChildren();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(variants)('remote calls over $name', (variant) => {
  let server: RunningServer;
  let options: ProxyOptions;
  let calc: Remote<Calculator>;

  beforeAll(async () => {
    server = await variant.start();
    options = await variant.options();
    calc = connect<Calculator>(server.uri, options);
  });

  afterAll(async () => {
    await calc?.$release();
    await server?.child.stop();
  });

  it('calls methods and returns values of every kind', async () => {
    expect(await calc.add(1, 2)).toBe(3);
    expect(calc.$connected).toBe(true);
    expect(calc.$multiplexed).toBe(true);
    const value = {
      n: 1.5,
      big: 2n ** 70n,
      s: 'héllo ✓',
      list: [1, [2, null]],
      bytes: new Uint8Array([1, 2, 3]),
    };
    const back = (await calc.echo(value)) as typeof value;
    expect(back.n).toBe(1.5);
    expect(back.big).toBe(2n ** 70n);
    expect(back.s).toBe('héllo ✓');
    expect(back.list).toEqual([1, [2, null]]);
    expect(Buffer.from(back.bytes)).toEqual(Buffer.from([1, 2, 3]));
    expect(await calc.echo(new Map([[1, 'one']]))).toEqual(new Map([[1, 'one']]));
    expect(await calc.client()).toMatch(variant.clientPattern);
  });

  it('re-throws remote exceptions with type, message and remote stack', async () => {
    const err = (await calc.fail('boom').catch((e: unknown) => e)) as Error & { remoteTraceback?: string[] };
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe('boom');
    expect(err.remoteTraceback?.join('')).toContain('fail');
    const custom = (await calc.failCustom().catch((e: unknown) => e)) as RemoteError;
    expect(custom).toBeInstanceOf(RemoteError);
    expect(custom.message).toContain('custom failure');
    expect(custom.attributes.detail).toBe(42);
  });

  it('sends oneway calls without waiting and runs them', async () => {
    const t0 = performance.now();
    await calc.notify(`hello ${variant.name}`);
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect.poll(() => calc.events(), { timeout: 3000 }).toContain(`hello ${variant.name}`);
  });

  it('reads and writes remote attributes and maps keyword arguments', async () => {
    await calc.$set('value', 41);
    expect(await calc.value).toBe(41);
    expect(await calc.$get('value')).toBe(41);
    expect(await calc.$call('kw', [1], { kwargs: { b: 2, c: 3 } })).toEqual({ a: 1, b: 2, rest: { c: 3 } });
  });

  it('refuses private, unexposed and unknown names', async () => {
    await expect(calc.$call('_private')).rejects.toThrow(/no exposed attribute or method '_private'/);
    await expect((calc as unknown as Record<string, () => Promise<unknown>>).nothing!()).rejects.toThrow(
      /no exposed attribute or method 'nothing'/,
    );
    const partly = connect<PartlyExposed>(server.partlyUri, options);
    expect(await partly.visible()).toBe('visible');
    expect(partly.$metadata?.methods).toEqual(['visible']);
    await expect(partly.$call('hidden')).rejects.toThrow(/no exposed attribute or method 'hidden'/);
    await partly.$release();
    const unknown = connect(server.uri.replace('test.calc', 'no.such.object'), options);
    await expect(unknown.$bind()).rejects.toThrow(/rejected: unknown object/);
  });

  it('streams a generator result', async () => {
    const items: number[] = [];
    for await (const n of await calc.count(5)) items.push(n);
    expect(items).toEqual([1, 2, 3, 4, 5]);
    const early: number[] = [];
    for await (const n of await calc.count(1000)) {
      early.push(n);
      if (n === 3) break;
    }
    expect(early).toEqual([1, 2, 3]);
  });

  it('calls back client functions and objects over the same connection', async () => {
    const seen: number[] = [];
    const sum = await calc.repeat(200, async (i: number) => {
      seen.push(i);
      return i * 2;
    });
    expect(sum).toBe(2 * ((199 * 200) / 2));
    expect(seen.length).toBe(200);
    @expose
    class Listener {
      onEvent(name: string): string {
        return `event ${name}`;
      }
    }
    expect(await calc.notifyListener(new Listener(), 'x')).toBe('server got event x');
  });

  it('moves binary data both ways', async () => {
    const big = new Uint8Array(4 * 1024 * 1024).fill(1);
    expect(await calc.length(big)).toBe(big.length);
    const got = await calc.bytes(1024 * 1024);
    expect(got.length).toBe(1024 * 1024);
    expect(got[12345]).toBe(7);
  });

  it('times out and aborts calls, and keeps working afterwards', async () => {
    await expect(calc.$with({ timeoutMs: 100 }).slow(3000, 'late')).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const pending = calc.$with({ signal: ac.signal }).slow(3000, 'aborted');
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    expect(await calc.add(2, 2)).toBe(4);
  });

  it('pipelines calls: a slow call does not delay fast ones', async () => {
    const order: string[] = [];
    const slow = calc.slow(800, 'slow').then((v) => order.push(v));
    const fast = Array.from({ length: 100 }, (_, i) => calc.add(i, 1).then(() => order.push('fast')));
    await Promise.all([slow, ...fast]);
    expect(order.indexOf('slow')).toBe(100);
  });
});

describe('a daemon that goes away', () => {
  it('rejects pending calls promptly, and reconnects when it is back', async () => {
    const first = await startServer(['tcp', '127.0.0.1', '0']);
    const port = Number(first.uri.split(':').pop());
    const calc = connect<Calculator>(first.uri, {
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxWaitMs: 15_000 },
    });
    expect(await calc.add(1, 1)).toBe(2);
    const pending = calc.slow(10_000, 'never').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await first.child.stop('SIGKILL');
    const err = (await pending) as Error;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(CommunicationError);
    expect(err.message).toMatch(/call slow: connection closed/);
    const second = await startServer(['tcp', '127.0.0.1', String(port)]);
    expect(await calc.add(20, 22)).toBe(42);
    await calc.$release();
    await second.child.stop();
  });
});
