// PYRONAME proxies: the name is resolved through the name server over the proxy's own transport
// (here the memory transport: no name server on any socket), and again on every reconnect, so a
// proxy keeps working when its object moves to another server. The name server is a fake one: an
// engine-only server whose object is named Pyro.NameServer, with a settable lookup table.
import { NAMESERVER_NAME, NamingError } from '@cinder/core';
import { expose } from '@cinder/rpc';
import { MemoryNetwork, memoryTransport } from '@cinder/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Service {
  constructor(readonly label = 'service') {}

  where(): string {
    return this.label;
  }
}

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

const network = new MemoryNetwork();
const transport = memoryTransport({ network });
const servers: EngineServer[] = [];

async function serve(objects: Record<string, object>): Promise<EngineServer> {
  const server = await startEngineServer(objects, { network });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('PYRONAME proxies', () => {
  it("reach the name server over the proxy's own transport", async () => {
    const names = new Names();
    const ns = await serve({ [NAMESERVER_NAME]: names });
    const server = await serve({ svc: new Service('memory') });
    names.table.set('my.service', server.uri('svc'));
    await using p = connect<Service>(`PYRONAME:my.service@127.0.0.1:${ns.port}`, { transport });
    expect(await p.where()).toBe('memory');
    expect(p.$resolvedUri?.toString()).toBe(server.uri('svc'));
    expect(names.lookups).toBe(1);
  });

  it('fail with a NamingError when the name is unknown there', async () => {
    const ns = await serve({ [NAMESERVER_NAME]: new Names() });
    await using p = connect<Service>(`PYRONAME:no.such.name@127.0.0.1:${ns.port}`, {
      transport,
      config: { nsLookupDelayMs: 0 },
    });
    const err = await p.where().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NamingError);
    expect((err as Error).message).toMatch(/cannot resolve .*unknown name no\.such\.name/);
  });

  it('re-resolve the name on every reconnect (the object moved)', async () => {
    const names = new Names();
    const ns = await serve({ [NAMESERVER_NAME]: names });
    const first = await serve({ svc: new Service('first') });
    names.table.set('my.service', first.uri('svc'));
    await using p = connect<Service>(`PYRONAME:my.service@127.0.0.1:${ns.port}`, {
      transport,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100, maxWaitMs: 5000 },
    });
    expect(await p.where()).toBe('first');
    expect(p.$resolvedUri?.toString()).toBe(first.uri('svc'));
    expect(names.lookups).toBe(1);
    const second = await serve({ svc: new Service('second') });
    names.table.set('my.service', second.uri('svc'));
    await first.close();
    // the call after the loss must find the connection gone (one sent on it could not be retried)
    await expect.poll(() => p.$connected, { timeout: 2000 }).toBe(false);
    expect(await p.where()).toBe('second');
    expect(p.$resolvedUri?.toString()).toBe(second.uri('svc'));
    expect(names.lookups).toBeGreaterThanOrEqual(2);
  });

  it('ask the new server for the object under its new id (the CONNECT is not reused across ids)', async () => {
    const names = new Names();
    const ns = await serve({ [NAMESERVER_NAME]: names });
    const first = await serve({ svc: new Service('first') });
    names.table.set('my.service', first.uri('svc'));
    await using p = connect<Service>(`PYRONAME:my.service@127.0.0.1:${ns.port}`, { transport });
    expect(await p.where()).toBe('first');
    await p.$release();
    expect(await p.where()).toBe('first'); // again on a new connection, with the same CONNECT
    const second = await serve({ 'svc.renamed': new Service('second') });
    names.table.set('my.service', second.uri('svc.renamed'));
    await p.$release();
    expect(await p.where()).toBe('second');
    expect(p.$resolvedUri?.toString()).toBe(second.uri('svc.renamed'));
  });
});
