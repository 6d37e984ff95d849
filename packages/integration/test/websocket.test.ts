// Cinder peers over WebSockets (`ws:` and `wss:` on loopback): calls, oneway, batches, a pushed
// stream under flow control, callbacks into the client, cancellation, the shared-key handshake and
// TLS, with the proxy addressed by a `ws://host:port/path#object` uri.
import {
  AbortedError,
  connect,
  Daemon,
  expose,
  type Remote,
  SecurityError,
  webSocketTransport,
  webSocketUri,
} from '@cinder/cinder';
import { generateTestPki } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workbench } from './fixtures/objects.js';

const KEY = 'a shared secret for the websocket test';

interface Served {
  daemon: Daemon;
  uri: string;
}

async function serveOver(
  transport: ReturnType<typeof webSocketTransport>,
  secure: boolean,
  extra: { hmacKey?: string } = {},
): Promise<Served> {
  const daemon = await Daemon.start({ host: '127.0.0.1', port: 0, transport, ...extra });
  daemon.register(new Workbench(), 'bench');
  const at = daemon.endpoint as { host: string; port: number };
  return {
    daemon,
    uri: webSocketUri('bench', { host: at.host, port: at.port, secure, path: transport.path }),
  };
}

describe('Cinder over ws:', () => {
  let served: Served;
  let bench: Remote<Workbench>;

  beforeAll(async () => {
    served = await serveOver(webSocketTransport({ path: '/cinder' }), false);
    bench = connect<Workbench>(served.uri);
    await bench.$bind();
  });
  afterAll(async () => {
    await bench?.$release();
    await served?.daemon.close();
  });

  it('names the object with a ws:// uri and calls it', async () => {
    expect(served.uri).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/cinder#bench$/);
    expect(await bench.add(40, 2)).toBe(42);
    await expect(bench.fail('no')).rejects.toThrow(RangeError);
    const many = await Promise.all(Array.from({ length: 128 }, (_, i) => bench.add(i, 1)));
    expect(many).toEqual(Array.from({ length: 128 }, (_, i) => i + 1));
  });

  it('oneway calls and batches', async () => {
    await bench.reset();
    for (let i = 0; i < 100; i++) await bench.tick();
    await expect.poll(() => bench.ticks(), { timeout: 3000 }).toBe(100);
    const batch = bench.$batch();
    for (let i = 0; i < 1000; i++) batch.add(i, 1);
    const results = await batch.$run();
    expect(results.length).toBe(1000);
    expect(results[999]).toBe(1000);
  });

  it('a pushed stream of 20,000 items arrives in order, and closing it early stops the producer', async () => {
    const items = await bench.items(20_000);
    let n = 0;
    for await (const item of items as AsyncIterable<number>) {
      if (item !== n) expect(item).toBe(n);
      n++;
    }
    expect(n).toBe(20_000);
    const again = await bench.items(1_000_000);
    let seen = 0;
    for await (const _ of again as AsyncIterable<number>) if (++seen === 10) break;
    await expect.poll(async () => (await bench.streamState()).closed, { timeout: 3000 }).toBe(true);
    // Flow control: the producer stopped near what the client let it push ahead.
    expect((await bench.streamState()).produced).toBeLessThan(10_000);
  });

  it('calls back into the client over the same WebSocket', async () => {
    let calls = 0;
    const fn = async (i: number) => {
      calls++;
      return i;
    };
    expect(await bench.callFunction(1000, fn)).toBe((999 * 1000) / 2);
    expect(calls).toBe(1000);
    @expose
    class Listener {
      events = 0;
      onEvent(i: number): number {
        this.events++;
        return i;
      }
    }
    const listener = new Listener();
    expect(await bench.callObject(100, listener)).toBe(100);
    expect(listener.events).toBe(100);
  });

  it('a cancelled call is seen aborted by the server; the connection stays usable', async () => {
    const ac = new AbortController();
    const pending = bench.$with({ signal: ac.signal }).longTask(30_000, 'ws-cancel');
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await expect.poll(() => bench.wasCancelled('ws-cancel'), { timeout: 3000 }).toBe(true);
    expect(await bench.add(1, 2)).toBe(3);
  });
});

describe('Cinder over ws: with a shared key, and over wss:', () => {
  it('the shared-key handshake admits the right key and refuses another', async () => {
    const served = await serveOver(webSocketTransport(), false, { hmacKey: KEY });
    try {
      await using good = connect<Workbench>(served.uri, { hmacKey: KEY });
      expect(await good.add(1, 1)).toBe(2);
      await using bad = connect<Workbench>(served.uri, { hmacKey: 'another key of some length' });
      await expect(bad.add(1, 1)).rejects.toBeInstanceOf(SecurityError);
      await using none = connect<Workbench>(served.uri);
      await expect(none.add(1, 1)).rejects.toThrow();
    } finally {
      await served.daemon.close();
    }
  });

  it('wss: serves with a certificate; a client trusting the CA calls, one that does not is refused', async () => {
    const pki = await generateTestPki();
    const served = await serveOver(
      webSocketTransport({ server: { cert: pki.server.cert, key: pki.server.key } }),
      true,
    );
    try {
      expect(served.uri).toMatch(/^wss:\/\//);
      await using trusted = connect<Workbench>(served.uri, { tls: { ca: pki.ca.cert } });
      expect(await trusted.add(2, 3)).toBe(5);
      await using untrusted = connect<Workbench>(served.uri, { connectTimeoutMs: 5000 });
      await expect(untrusted.add(2, 3)).rejects.toBeInstanceOf(SecurityError);
    } finally {
      await served.daemon.close();
    }
  });
});
