// End to end in one process: a proxy calling a daemon over loopback TCP (with a rough figure of
// sequential calls per second in the log), and over the memory transport, chosen at both ends by
// the `transport` option with the URI unchanged. (Moved from packages/daemon/test: the daemon's own
// tests use a client made of the engine alone, so the daemon does not depend on the proxy.)

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { Daemon, expose } from '@cinder/daemon';
import { connect } from '@cinder/proxy';
import { MemoryNetwork, memoryTransport } from '@cinder/transport';
import { afterAll, describe, expect, it } from 'vitest';

@expose
class Calc {
  add(a: number, b: number): number {
    return a + b;
  }
}

describe('smoke', () => {
  let daemon: Daemon;
  afterAll(async () => {
    await daemon?.close();
  });
  it('calls a method end to end', async () => {
    daemon = await Daemon.start();
    const uri = daemon.register(new Calc(), 'calc');
    const p = connect<Calc>(uri);
    expect(await p.add(1, 2)).toBe(3);
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) await p.add(i, 1);
    const dt = performance.now() - t0;
    console.log(
      `sequential in-process: ${((2000 / dt) * 1000).toFixed(0)} calls/s, multiplexed=${p.$multiplexed}`,
    );
    await p.$release();
  });

  it("$release closes the socket at once (Pyro's release), the end before the next dial", async () => {
    const local = await Daemon.start();
    const sockets: Socket[] = [];
    const seen = ({ socket }: { socket: Socket }) => sockets.push(socket);
    subscribe('net.client.socket', seen as (message: unknown) => void);
    try {
      const uri = local.register(new Calc(), 'calc');
      const p = connect<Calc>(uri);
      expect(await p.add(1, 2)).toBe(3);
      await p.$release();
      // closed now, not half-closed until the daemon's end comes back a round trip later
      expect(sockets).toHaveLength(1);
      expect(sockets[0]!.destroyed).toBe(true);
      await p.$bind(); // a new connection after the old one's end has left
      expect(sockets).toHaveLength(2);
      expect(await p.add(2, 3)).toBe(5);
      await p.$release();
      expect(sockets[1]!.destroyed).toBe(true);
    } finally {
      unsubscribe('net.client.socket', seen as (message: unknown) => void);
      await local.close();
    }
  });

  it('serves over the memory transport: same URI form, the transport chosen by option', async () => {
    const transport = memoryTransport({ network: new MemoryNetwork() });
    const inMemory = await Daemon.start({ transport });
    try {
      const uri = inMemory.register(new Calc(), 'calc');
      expect(String(uri)).toMatch(/^PYRO:calc@127\.0\.0\.1:\d+$/);
      const p = connect<Calc>(uri, { transport });
      expect(await p.add(2, 3)).toBe(5);
      await p.$release();
    } finally {
      await inMemory.close();
    }
  });
});
