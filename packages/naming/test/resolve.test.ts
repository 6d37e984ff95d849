// Name resolution end to end: PYRONAME and PYROMETA proxies resolve through a name server on every
// (re)connect, so a proxy keeps working when its object moves to another daemon and port; a
// lookup retries for nsLookupDelayMs; unresolvable names fail with a NamingError.
import { NamingError, resolveConfig, URI } from '@cinder/core';
import { Daemon, expose } from '@cinder/daemon';
import { connect } from '@cinder/proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  followName,
  locateNS,
  type NameServerClient,
  type RunningNameServer,
  resolveUri,
  startNameServer,
} from '../src/index.js';

@expose
class Calc {
  constructor(readonly where = 'first') {}

  add(a: number, b: number): number {
    return a + b;
  }

  whoami(): string {
    return this.where;
  }
}

const config = resolveConfig({}, { useEnvironment: false });

describe('PYRONAME / PYROMETA resolution', () => {
  let ns: RunningNameServer;
  let client: NameServerClient;
  const daemons: Daemon[] = [];
  const startDaemon = async () => {
    const d = await Daemon.start({ host: '127.0.0.1', port: 0, config });
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true, config });
    client = await locateNS({ host: '127.0.0.1', port: ns.uri.port, config });
  });
  afterAll(async () => {
    await client?.close();
    for (const d of daemons) await d.close({ graceMs: 0 });
    await ns?.close();
  });

  it('refuses to start a name server on a list of hosts without its own host', async () => {
    await expect(
      startNameServer({
        port: 0,
        noBroadcast: true,
        config: { ...config, nsHost: '127.0.0.1:1,127.0.0.1:2' },
      }),
    ).rejects.toThrow(/give this name server its own host/);
  });

  it('watches a name: its registration now, every new one, then null when it is removed', async () => {
    const stream = await client.watch('test.watched');
    expect((await stream.next()).value).toBeNull(); // not registered yet
    await client.register('test.watched', 'PYRO:a@127.0.0.1:1');
    expect(String((await stream.next()).value)).toBe('PYRO:a@127.0.0.1:1');
    await client.register('test.watched', 'PYRO:b@127.0.0.1:2');
    expect(String((await stream.next()).value)).toBe('PYRO:b@127.0.0.1:2');
    await client.remove({ name: 'test.watched' });
    expect((await stream.next()).value).toBeNull();
    await client.register('test.watched', 'PYRO:c@127.0.0.1:3');
    await client.register('test.watched', 'PYRO:d@127.0.0.1:4');
    expect(String((await stream.next()).value)).toBe('PYRO:c@127.0.0.1:3');
    expect(String((await stream.next()).value)).toBe('PYRO:d@127.0.0.1:4');
    await stream.return(undefined);
  });

  it('moves a PYRONAME proxy that follows its name to the new daemon while the old one still serves', async () => {
    const first = await startDaemon();
    await client.register('test.follow', first.register(new Calc('first'), 'calc'));
    const proxy = connect<Calc>(`PYRONAME:test.follow@127.0.0.1:${ns.uri.port}`, { config });
    const follow = await followName(proxy, { config });
    try {
      expect(await proxy.whoami()).toBe('first');
      const second = await startDaemon();
      await client.register('test.follow', second.register(new Calc('second'), 'calc'));
      let answer = await proxy.whoami();
      for (let i = 0; i < 50 && answer !== 'second'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        answer = await proxy.whoami();
      }
      expect(answer).toBe('second');
    } finally {
      await follow.stop();
      await proxy.$release();
    }
  });

  it('keeps a PYRONAME proxy working when its object moves to another daemon and port', async () => {
    const first = await startDaemon();
    await client.register('test.calc', first.register(new Calc('first'), 'calc'));
    const proxy = connect<Calc>(`PYRONAME:test.calc@127.0.0.1:${ns.uri.port}`, {
      config,
      reconnect: { maxWaitMs: 5000 },
    });
    try {
      expect(await proxy.add(1, 2)).toBe(3);
      expect(await proxy.whoami()).toBe('first');
      const firstPort = proxy.$resolvedUri!.port;

      await first.close({ graceMs: 0 });
      const second = await startDaemon();
      await client.register('test.calc', second.register(new Calc('second'), 'calc2'));
      expect(second.endpoint).not.toEqual(first.endpoint);

      // The connection is gone: the next call reconnects, which resolves the name again.
      let answer: string | undefined;
      for (let i = 0; i < 20 && answer === undefined; i++) {
        answer = await proxy.whoami().catch(() => undefined);
      }
      expect(answer).toBe('second');
      expect(proxy.$resolvedUri!.port).not.toBe(firstPort);
      expect(proxy.$resolvedUri!.object).toBe('calc2');
      expect(await proxy.add(2, 3)).toBe(5);
    } finally {
      await proxy.$release();
    }
  });

  it('resolves PYROMETA to a registration carrying every tag', async () => {
    const d = await startDaemon();
    await client.register('meta.one', d.register(new Calc('one'), 'one'), { metadata: ['calc', 'red'] });
    await client.register('meta.two', d.register(new Calc('two'), 'two'), { metadata: ['calc', 'blue'] });
    const proxy = connect<Calc>(`PYROMETA:calc,blue@127.0.0.1:${ns.uri.port}`, { config });
    try {
      expect(await proxy.whoami()).toBe('two');
    } finally {
      await proxy.$release();
    }
    const target = await resolveUri(URI.parse(`PYROMETA:calc,red@127.0.0.1:${ns.uri.port}`), { config });
    expect(target.object).toBe('one');
    await expect(
      resolveUri(URI.parse(`PYROMETA:calc,green@127.0.0.1:${ns.uri.port}`), { config }),
    ).rejects.toThrow(/no registrations available with desired metadata/);
  });

  it('fails an unknown name at once, or waits up to nsLookupDelayMs for it to appear', async () => {
    const uri = URI.parse(`PYRONAME:late.name@127.0.0.1:${ns.uri.port}`);
    const t0 = Date.now();
    await expect(resolveUri(uri, { config })).rejects.toThrow(new NamingError('unknown name: late.name'));
    expect(Date.now() - t0).toBeLessThan(2000);

    const d = await startDaemon();
    const target = d.register(new Calc('late'), 'late');
    let registered: Promise<void> | undefined;
    setTimeout(() => {
      registered = client.register('late.name', target);
    }, 300);
    const patient = resolveConfig({ nsLookupDelayMs: 3000 }, { useEnvironment: false });
    const proxy = connect<Calc>(uri, { config: patient });
    try {
      expect(await proxy.whoami()).toBe('late');
      await registered;
    } finally {
      await proxy.$release();
    }
  });

  it('says when no name server answers', async () => {
    const closed = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true, config });
    const port = closed.uri.port!;
    await closed.close();
    await expect(resolveUri(URI.parse(`PYRONAME:x@127.0.0.1:${port}`), { config })).rejects.toThrow(
      `failed to locate the nameserver at 127.0.0.1:${port}`,
    );
    await expect(locateNS({ host: '127.0.0.1', port, config })).rejects.toThrow(NamingError);
  });

  it('serves and resolves over a Unix socket', async () => {
    const path = `\0cinder-ns-test-${process.pid}`;
    const unixNs = await startNameServer({ unixSocket: path, config });
    try {
      expect(unixNs.broadcast).toBeNull();
      const c = await locateNS({ unixSocket: path, config });
      const d = await startDaemon();
      await c.register('unix.calc', d.register(new Calc('unix'), 'u'));
      await c.close();
      const proxy = connect<Calc>(`PYRONAME:unix.calc@./u:${path}`, { config });
      try {
        expect(await proxy.whoami()).toBe('unix');
      } finally {
        await proxy.$release();
      }
    } finally {
      await unixNs.close();
    }
  });
});
