// One daemon listening on TCP and WebSocket at once: the same objects over both, URIs per
// listener, connection slots shared, autoproxies naming the listener the caller came in on, the
// name server holding the PYRO (TCP) URI, and close() stopping every listener.
import {
  CommunicationError,
  connect,
  Daemon,
  DaemonError,
  expose,
  locateNS,
  type Remote,
  startNameServer,
  URI,
  webSocketTransport,
} from '@cinder/cinder';
import { tcpTransport } from '@cinder/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { Calculator, Workbench } from './fixtures/objects.js';

@expose
class Counter {
  n = 0;
  bump(): number {
    return ++this.n;
  }
}

@expose
class Registry {
  constructor(readonly counter: Counter) {}
  get(): Counter {
    return this.counter;
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startDual(options: { maxConnections?: number; wsFirst?: boolean } = {}): Promise<Daemon> {
  const tcp = { host: '127.0.0.1', port: 0 };
  const ws = { host: '127.0.0.1', port: 0, transport: webSocketTransport({ path: '/cinder' }) };
  const daemon = await Daemon.start({
    listen: options.wsFirst ? [ws, tcp] : [tcp, ws],
    ...(options.maxConnections !== undefined ? { config: { maxConnections: options.maxConnections } } : {}),
  });
  cleanups.push(() => daemon.close({ graceMs: 0 }));
  return daemon;
}

function use<T>(proxy: Remote<T>): Remote<T> {
  cleanups.push(() => proxy.$release());
  return proxy;
}

describe('a daemon listening on TCP and WebSocket', () => {
  it('serves the same object over both, with a URI for each listener', async () => {
    const daemon = await startDual();
    expect(daemon.listeners.map((l) => l.kind)).toEqual(['tcp', 'ws']);
    const [tcpAt, wsAt] = daemon.listeners.map((l) => l.endpoint as { host: string; port: number });
    expect(tcpAt!.port).not.toBe(wsAt!.port);
    const counter = new Counter();
    const uri = daemon.register(counter, 'counter');
    expect(uri.toString()).toBe(`PYRO:counter@127.0.0.1:${tcpAt!.port}`);
    expect(daemon.uriFor(counter, { transport: 'tcp' }).toString()).toBe(uri.toString());
    const wsUri = daemon.uriFor(counter, { transport: 'ws' });
    expect(wsUri).toBe(`ws://127.0.0.1:${wsAt!.port}/cinder#counter`);
    expect(() => daemon.uriFor(counter, { transport: 'tls' })).toThrow(DaemonError);

    const overTcp = use(connect<Counter>(uri));
    const overWs = use(connect<Counter>(wsUri));
    expect(await overTcp.bump()).toBe(1);
    expect(await overWs.bump()).toBe(2);
    expect(await overTcp.bump()).toBe(3);
    expect(counter.n).toBe(3);
    expect(daemon.connectionCount).toBe(2);
  });

  it('PYRO URIs name the TCP listener even when the WebSocket one comes first; the name server holds that one', async () => {
    const ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
    cleanups.push(() => ns.close());
    const daemon = await startDual({ wsFirst: true });
    const tcpPort = (daemon.listeners[1]!.endpoint as { port: number }).port;
    const uri = daemon.register(new Workbench(), 'bench');
    expect(uri.port).toBe(tcpPort);
    expect(daemon.uri.port).toBe(tcpPort);
    const nsClient = await locateNS({ host: '127.0.0.1', port: ns.uri.port!, broadcast: false });
    cleanups.push(() => nsClient.close());
    await nsClient.register('test.bench', uri);
    const found = await nsClient.lookup('test.bench');
    expect(found).toBeInstanceOf(URI);
    expect(found.toString()).toBe(`PYRO:bench@127.0.0.1:${tcpPort}`);
    const byName = use(connect<Workbench>(`PYRONAME:test.bench@127.0.0.1:${ns.uri.port}`));
    expect(await byName.add(20, 22)).toBe(42);
    const overWs = use(connect<Workbench>(daemon.uriFor('bench', { transport: 'ws' })));
    expect(await overWs.add(1, 2)).toBe(3);
  });

  it('an object returned over WebSocket comes back as a proxy through the WebSocket listener', async () => {
    const daemon = await startDual();
    const counter = new Counter();
    daemon.register(counter, 'counter');
    daemon.register(new Registry(counter), 'registry');
    const wsPort = (daemon.listeners[1]!.endpoint as { port: number }).port;
    const tcpPort = (daemon.listeners[0]!.endpoint as { port: number }).port;

    const viaWs = use(connect<Registry>(daemon.uriFor('registry', { transport: 'ws' })));
    const fromWs = use((await viaWs.get()) as unknown as Remote<Counter>);
    expect(URI.parse(String(fromWs.$uri)).port).toBe(wsPort);
    expect(await fromWs.bump()).toBe(1);

    const viaTcp = use(connect<Registry>(daemon.uriFor('registry')));
    const fromTcp = use((await viaTcp.get()) as unknown as Remote<Counter>);
    expect(URI.parse(String(fromTcp.$uri)).port).toBe(tcpPort);
    expect(await fromTcp.bump()).toBe(2);
  });

  it('connection slots are shared: with maxConnections 2, a third client over either listener is refused', async () => {
    const daemon = await startDual({ maxConnections: 2 });
    daemon.register(new Workbench(), 'bench');
    const tcp = use(connect<Workbench>(daemon.uriFor('bench')));
    const ws = use(connect<Workbench>(daemon.uriFor('bench', { transport: 'ws' })));
    expect(await tcp.add(1, 1)).toBe(2);
    expect(await ws.add(1, 1)).toBe(2);
    const thirdWs = use(
      connect<Workbench>(daemon.uriFor('bench', { transport: 'ws' }), { connectTimeoutMs: 5000 }),
    );
    await expect(thirdWs.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
    const thirdTcp = use(connect<Workbench>(daemon.uriFor('bench'), { connectTimeoutMs: 5000 }));
    await expect(thirdTcp.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
    // the two admitted clients keep working
    expect(await tcp.add(2, 2)).toBe(4);
    expect(await ws.add(2, 2)).toBe(4);
  });

  it('listen() adds a listener to a started daemon; close() stops them all', async () => {
    const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await daemon.close({ graceMs: 0 });
    });
    daemon.register(new Workbench(), 'bench');
    const added = await daemon.listen({ host: '127.0.0.1', transport: webSocketTransport({ path: '/x' }) });
    expect(added.kind).toBe('ws');
    expect(added.path).toBe('/x');
    const wsUri = daemon.uriFor('bench', { transport: 'ws' });
    const tcpUri = daemon.uriFor('bench');
    const ws = connect<Workbench>(wsUri);
    const tcp = connect<Workbench>(tcpUri);
    expect(await ws.add(3, 4)).toBe(7);
    expect(await tcp.add(3, 4)).toBe(7);
    await daemon.close({ graceMs: 0 });
    closed = true;
    await ws.$release();
    await tcp.$release();
    for (const uri of [wsUri, tcpUri]) {
      await using again = connect<Workbench>(uri, { connectTimeoutMs: 3000 });
      await expect(again.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
    }
    await expect(daemon.listen({ host: '127.0.0.1' })).rejects.toBeInstanceOf(DaemonError);
  });

  it('with compression on, the TCP listener compresses and the WebSocket one does not (browsers cannot inflate)', async () => {
    const framings: Record<string, unknown> = {};
    const spy = <T extends { kind: string; listen: (...a: never[]) => unknown }>(t: T): T => {
      const listen = t.listen.bind(t) as (o: { framing: unknown }, cb: unknown) => unknown;
      return {
        ...t,
        listen: (o: { framing: unknown }, cb: unknown) => {
          framings[t.kind] = o.framing;
          return listen(o, cb);
        },
      };
    };
    const daemon = await Daemon.start({
      config: { compression: true },
      listen: [
        { host: '127.0.0.1', port: 0, transport: spy(tcpTransport()) },
        { host: '127.0.0.1', port: 0, transport: spy(webSocketTransport({ path: '/z' })) },
      ],
    });
    cleanups.push(() => daemon.close({ graceMs: 0 }));
    expect(framings.tcp).toMatchObject({ compressAbove: 100 });
    expect(framings.ws).not.toHaveProperty('compressAbove');
    daemon.register(Calculator, 'calc');
    const big = 'x'.repeat(10_000);
    const overWs = use(
      connect<Calculator>(daemon.uriFor('calc', { transport: 'ws' }), { config: { compression: true } }),
    );
    expect(await overWs.echo(big)).toBe(big);
  });

  it('listen and a top-level listener option together are refused', async () => {
    const daemon = new Daemon({ port: 0, listen: [{ port: 0 }] });
    await expect(daemon.start()).rejects.toThrow(/either listen or port/);
    await expect(new Daemon({ listen: [] }).start()).rejects.toBeInstanceOf(DaemonError);
  });
});
