// The memory transport: the compliance suite over in-process connections (host:port and path
// addresses), plus what is specific to it (networks, port allocation, back-pressure between the
// two ends, a vanished peer). The tests of how the kernel reads a socket (reads per tick, measured
// by a worker on a real listener) and of connects that stall in the network do not apply: a
// memory connect completes in one turn of the event loop.
import type { Socket } from 'node:net';
import { CommunicationError, ConfigError, ConnectionClosedError } from '@cinder/core';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, memoryTransport } from '../src/index.js';
import { MemorySocket } from '../src/memory-socket.js';
import type { Endpoint } from '../src/transport.js';
import { type ComplianceTarget, transportCompliance } from './compliance.js';
import {
  delay,
  encodedBytes,
  framing,
  message,
  Recorder,
  settlesWithin,
  Tracker,
  within,
} from './harness.js';

function memoryTarget(endpoint: () => Endpoint): ComplianceTarget {
  const network = new MemoryNetwork();
  const transport = memoryTransport({ network });
  return {
    server: transport,
    client: transport,
    listenEndpoint: endpoint,
    // A raw byte stream into the listener, as a raw socket is for the socket transports.
    rawConnect: async (target, track) => {
      const listener = network.lookup(target);
      if (!listener) throw new Error(`no memory listener at ${JSON.stringify(target)}`);
      const [raw, server] = MemorySocket.pair();
      listener.accept(server, 'raw');
      track.socket(raw as unknown as Socket);
      return raw as unknown as Socket;
    },
    kernelReads: false,
    anyEndpointKind: true,
  };
}

let counter = 0;
transportCompliance('memory host:port', () =>
  memoryTarget(() => ({ kind: 'tcp', host: '127.0.0.1', port: 0 })),
);
transportCompliance('memory path', () => memoryTarget(() => ({ kind: 'unix', path: `/mem/s${++counter}` })));

describe('memory specifics', () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());

  async function echoListener(transport: ReturnType<typeof memoryTransport>, endpoint: Endpoint) {
    return track.listener(
      await transport.listen({ endpoint, framing: framing([502]) }, (conn) => {
        track.connection(conn);
        conn.setHandler(new Recorder((m) => conn.send({ ...m, type: 5 })));
      }),
    );
  }

  it('networks are separate address spaces; ports are allocated per host', async () => {
    const a = memoryTransport({ network: new MemoryNetwork() });
    const b = memoryTransport({ network: new MemoryNetwork() });
    const first = await echoListener(a, { kind: 'tcp', host: 'localhost', port: 0 });
    const second = await echoListener(a, { kind: 'tcp', host: 'localhost', port: 0 });
    expect(first.endpoint).not.toEqual(second.endpoint);
    await expect(a.listen({ endpoint: first.endpoint, framing: framing([502]) }, () => {})).rejects.toThrow(
      /already in use/,
    );
    await expect(b.connect({ endpoint: first.endpoint, framing: framing([502]) })).rejects.toBeInstanceOf(
      CommunicationError,
    );
    const conn = track.connection(await a.connect({ endpoint: first.endpoint, framing: framing([502]) }));
    const rec = new Recorder();
    conn.setHandler(rec);
    conn.send(message(1, 'x'));
    await rec.messagesAtLeast(1);
    // an abstract name and a path spelled like its display form are different addresses
    await echoListener(a, { kind: 'unix', path: '\0same' });
    await echoListener(a, { kind: 'unix', path: '@same' });
  });

  it('refuses socketMode and bad buffer sizes with ConfigError', async () => {
    const t = memoryTransport({ network: new MemoryNetwork() });
    await expect(
      t.listen(
        { endpoint: { kind: 'unix', path: '/x' }, framing: framing([502]), socketMode: 0o600 },
        () => {},
      ),
    ).rejects.toBeInstanceOf(ConfigError);
    expect(() => memoryTransport({ bufferSize: 0 })).toThrow(ConfigError);
  });

  it('the reading end holds at most its buffer size; the rest waits in the writer', async () => {
    const [a, b] = MemorySocket.pair(32 * 1024);
    b.pause();
    const chunk = Buffer.alloc(8 * 1024, 1);
    let writes = 0;
    while (a.write(chunk)) writes++;
    // keep writing past the high-water mark: the bytes must queue at the writer, not at the reader
    for (let i = 0; i < 20; i++) a.write(chunk);
    await delay(50);
    expect(b.readableLength).toBeLessThanOrEqual(32 * 1024 + 8 * 1024);
    expect(a.writableLength).toBeGreaterThan(100 * 1024);
    expect(writes).toBeGreaterThan(0);
    let got = 0;
    b.on('data', (d: Buffer) => {
      got += d.length;
    });
    b.resume();
    await within(new Promise<void>((resolve) => a.once('drain', () => resolve())), 5000, 'drain');
    await delay(20);
    expect(got).toBe((writes + 1 + 20) * chunk.length);
    a.destroy();
    b.destroy();
  });

  it('a peer that goes away fails the writer waiting on it, as a reset does', async () => {
    const network = new MemoryNetwork();
    const t = memoryTransport({ network, bufferSize: 16 * 1024 });
    const endpoint: Endpoint = { kind: 'unix', path: '/mem/reset' };
    let server: import('../src/transport.js').Connection | undefined;
    track.listener(
      await t.listen({ endpoint, framing: framing([502]) }, (c) => {
        server = track.connection(c);
        c.pause();
        c.setHandler(new Recorder());
      }),
    );
    const conn = track.connection(await t.connect({ endpoint, framing: framing([502]) }));
    const rec = new Recorder();
    conn.setHandler(rec);
    const big = Buffer.alloc(64 * 1024, 2);
    conn.send(message(1, big));
    conn.send(message(2, big));
    expect(await settlesWithin(conn.drained(), 200)).toBe(false);
    expect(conn.bufferedBytes).toBeGreaterThan(encodedBytes(message(1, big), 502).length);
    const drained = conn.drained();
    server!.destroy();
    await expect(drained).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(await rec.closed()).toBeInstanceOf(ConnectionClosedError);
  });
});
