// PYRONAME proxies re-resolve through the name server on every reconnect: a proxy keeps working when
// its object moves to another daemon and port. Here with real daemons on loopback TCP (a fake name
// server: a daemon object named Pyro.NameServer), because the proxy resolves a name over the default
// transports, not over a `transport` option (the rest of the proxy's tests are in packages/proxy/test,
// against engine-only servers on the memory transport). Here, not in packages/daemon/test, because
// the daemon does not depend on the proxy.
import { NAMESERVER_NAME } from '@cinder/core';
import { Daemon, expose } from '@cinder/daemon';
import { connect } from '@cinder/proxy';
import { describe, expect, it } from 'vitest';

@expose
class Service {
  constructor(readonly label = 'service') {}

  where(): string {
    return this.label;
  }
}

/** A fake name server: a daemon object named Pyro.NameServer with a settable lookup table. */
@expose
class Names {
  readonly table = new Map<string, string>();
  lookups = 0;
  lookup(name: string): string {
    this.lookups++;
    const uri = this.table.get(name);
    if (!uri) throw new Error(`unknown name ${name}`);
    return uri;
  }
}

function tcpPort(d: Daemon): number {
  const ep = d.endpoint;
  if (ep.kind !== 'tcp') throw new Error('tcp expected');
  return ep.port;
}

describe('automatic reconnection of a PYRONAME proxy', () => {
  it('re-resolves a PYRONAME uri on every reconnect (the object moved)', async () => {
    const names = new Names();
    const ns = await Daemon.start();
    ns.register(names, NAMESERVER_NAME);
    const first = await Daemon.start();
    first.register(new Service('first'), 'svc');
    names.table.set('my.service', first.uriFor('svc').toString());
    const p = connect<Service>(`PYRONAME:my.service@127.0.0.1:${tcpPort(ns)}`, {
      reconnect: { initialDelayMs: 20, maxDelayMs: 100, maxWaitMs: 5000 },
    });
    try {
      expect(await p.where()).toBe('first');
      expect(p.$resolvedUri?.toString()).toBe(first.uriFor('svc').toString());
      expect(names.lookups).toBe(1);
      const second = await Daemon.start();
      second.register(new Service('second'), 'svc');
      names.table.set('my.service', second.uriFor('svc').toString());
      await first.close({ graceMs: 0 });
      expect(await p.where()).toBe('second');
      expect(p.$resolvedUri?.toString()).toBe(second.uriFor('svc').toString());
      expect(names.lookups).toBeGreaterThanOrEqual(2);
      await p.$release();
      await second.close({ graceMs: 0 });
    } finally {
      await p.$release();
      await ns.close({ graceMs: 0 });
      await first.close({ graceMs: 0 });
    }
  });
});
