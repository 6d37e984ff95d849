// Auto-clean against real daemons on loopback: a registration whose daemon stopped answering is
// removed once it has been unreachable long enough, live ones stay, a name registered again in the
// meantime is spared, and the `ping` probe also catches objects a live daemon no longer serves.
import { resolveConfig } from '@cinder/core';
import { Daemon, expose } from '@cinder/daemon';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoCleaner, MemoryStorage, startNameServer } from '../src/index.js';

@expose
class Thing {
  hello(): string {
    return 'hi';
  }
}

const config = resolveConfig({}, { useEnvironment: false });
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function daemonWithThing(): Promise<{ daemon: Daemon; uri: string }> {
  const daemon = await Daemon.start({ host: '127.0.0.1', port: 0, config });
  opened.push(daemon);
  return { daemon, uri: daemon.register(new Thing(), 'thing').toString() };
}

/** A PYRO uri at a port where nothing listens any more. */
async function deadUri(): Promise<string> {
  const d = await Daemon.start({ host: '127.0.0.1', port: 0, config });
  const uri = d.register(new Thing(), 'gone').toString();
  await d.close();
  return uri;
}

describe('AutoCleaner', () => {
  it('removes a registration only after it stayed unreachable for maxUnreachableMs', async () => {
    const storage = new MemoryStorage();
    const live = await daemonWithThing();
    const dead = await deadUri();
    storage.set('live', live.uri, []);
    storage.set('also.live', live.uri, []);
    storage.set('dead', dead, ['x']);
    storage.set('by.name', 'PYRONAME:elsewhere', []);
    storage.set('Pyro.NameServer', dead, []);
    const cleaner = new AutoCleaner(storage, config, { maxUnreachableMs: 400, intervalMs: 60_000 });
    opened.push(cleaner);

    const first = await cleaner.sweep();
    expect(first).toEqual({ checked: 3, unreachable: 1, removed: [] });
    expect(storage.has('dead')).toBe(true);
    await new Promise((r) => setTimeout(r, 450));
    const second = await cleaner.sweep();
    expect(second.removed).toEqual(['dead']);
    expect(storage.list().map((r) => r.name)).toEqual(['live', 'also.live', 'by.name', 'Pyro.NameServer']);
  });

  it('spares a name that was registered again with a live uri in the meantime', async () => {
    const storage = new MemoryStorage();
    const live = await daemonWithThing();
    storage.set('moving', await deadUri(), []);
    const cleaner = new AutoCleaner(storage, config, { maxUnreachableMs: 200, intervalMs: 60_000 });
    opened.push(cleaner);
    expect((await cleaner.sweep()).unreachable).toBe(1);
    storage.set('moving', live.uri, []);
    await new Promise((r) => setTimeout(r, 250));
    expect(await cleaner.sweep()).toEqual({ checked: 1, unreachable: 0, removed: [] });
    expect(storage.get('moving')?.uri).toBe(live.uri);
  });

  it('with the ping probe, removes objects a live daemon no longer serves', async () => {
    const storage = new MemoryStorage();
    const live = await daemonWithThing();
    const other = live.daemon.register(new Thing(), 'temporary').toString();
    storage.set('kept', live.uri, []);
    storage.set('unregistered', other, []);
    live.daemon.unregister('temporary');
    const cleaner = new AutoCleaner(storage, config, {
      maxUnreachableMs: 1,
      intervalMs: 60_000,
      probe: 'ping',
    });
    opened.push(cleaner);
    await cleaner.sweep();
    await new Promise((r) => setTimeout(r, 5));
    const result = await cleaner.sweep();
    expect(result.removed).toEqual(['unregistered']);
    expect(storage.has('kept')).toBe(true);
  });

  it('runs by itself in a name server and never blocks lookups', async () => {
    const ns = await startNameServer({
      host: '127.0.0.1',
      port: 0,
      noBroadcast: true,
      config,
      autoclean: { maxUnreachableMs: 150, intervalMs: 100 },
    });
    opened.push(ns);
    expect(ns.autoclean).not.toBeNull();
    await ns.nameServer.register('dead', await deadUri());
    const t0 = Date.now();
    while (ns.storage.has('dead') && Date.now() - t0 < 5000) {
      // Lookups keep answering while sweeps run.
      expect(String(ns.nameServer.lookup('Pyro.NameServer'))).toBe(ns.uri.toString());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ns.storage.has('dead')).toBe(false);
  });

  it('is off by default and on with config.nsAutocleanMs', async () => {
    const off = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true, config });
    opened.push(off);
    expect(off.autoclean).toBeNull();
    const on = await startNameServer({
      host: '127.0.0.1',
      port: 0,
      noBroadcast: true,
      config: resolveConfig({ nsAutocleanMs: 3000 }, { useEnvironment: false }),
    });
    opened.push(on);
    expect(on.autoclean?.maxUnreachableMs).toBe(3000);
    expect(on.autoclean?.intervalMs).toBe(1500);
  });
});
