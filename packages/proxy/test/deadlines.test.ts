// A call's deadline counts from the moment the call is made (#12 item 7): on a connection without
// pipelining (every Pyro peer; here `multiplex: false`) a call queued behind a slow one times out or
// is aborted while it waits, without waiting for its turn and without costing the call on the
// wire its connection; `$ping` honours its signal; an aborted connect rejects with AbortedError.
// Both over a Pyro-style connection and a pipelined Cinder one, against a server made of the
// engine alone over the memory transport (engine-server.ts).
import { createServer, type Server, type Socket } from 'node:net';
import { AbortedError, TimeoutError } from '@cinder/core';
import { expose } from '@cinder/rpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ProxyOptions } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Slow {
  async sleep(ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }

  quick(): string {
    return 'quick';
  }
}

let server: EngineServer;
let uri: string;
let over: ProxyOptions;

beforeAll(async () => {
  server = await startEngineServer({ 'deadline.slow': new Slow() });
  uri = server.uri('deadline.slow');
  over = { transport: server.transport };
});

afterAll(async () => {
  await server?.close();
});

const SLOW_MS = 1500;

describe.each([
  ['a Pyro-style connection (multiplex: false)', false],
  ['a pipelined Cinder connection', true],
])('over %s', (_label, multiplex) => {
  it('a call with timeoutMs 200 made while another call runs fails after ~200 ms, not after it', async () => {
    const p = connect<Slow>(uri, { ...over, multiplex });
    try {
      await p.$bind();
      const slow = p.sleep(SLOW_MS);
      const t0 = performance.now();
      const err = await p
        .$with({ timeoutMs: 200 })
        .sleep(5000)
        .catch((e: unknown) => e);
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(TimeoutError);
      expect(ms).toBeLessThan(SLOW_MS - 300);
      expect(ms).toBeGreaterThanOrEqual(150);
      // the call on the wire was not disturbed by the one that gave up while waiting
      expect(await slow).toBe(SLOW_MS);
      expect(await p.quick()).toBe('quick');
    } finally {
      await p.$release();
    }
  });

  it('a call aborted at 100 ms while another call runs rejects with AbortedError at once', async () => {
    const p = connect<Slow>(uri, { ...over, multiplex });
    try {
      await p.$bind();
      const slow = p.sleep(SLOW_MS);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('changed my mind')), 100);
      const t0 = performance.now();
      const err = await p
        .$with({ signal: controller.signal })
        .sleep(5000)
        .catch((e: unknown) => e);
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(AbortedError);
      expect(ms).toBeLessThan(SLOW_MS - 300);
      expect(await slow).toBe(SLOW_MS);
    } finally {
      await p.$release();
    }
  });

  it('$ping honours its signal, also while waiting behind a call', async () => {
    const p = connect<Slow>(uri, { ...over, multiplex });
    try {
      await p.$bind();
      const pre = new AbortController();
      pre.abort();
      await expect(p.$ping({ signal: pre.signal })).rejects.toBeInstanceOf(AbortedError);
      const slow = p.sleep(SLOW_MS);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const t0 = performance.now();
      const pinged = p.$ping({ signal: controller.signal }).then(
        () => 'answered',
        (e: unknown) => e,
      );
      const result = await pinged;
      if (multiplex) {
        // a pipelined peer answers the ping at once, before the abort
        expect(result).toBe('answered');
      } else {
        expect(result).toBeInstanceOf(AbortedError);
        expect(performance.now() - t0).toBeLessThan(SLOW_MS - 300);
      }
      expect(await slow).toBe(SLOW_MS);
    } finally {
      await p.$release();
    }
  });
});

describe('connecting', () => {
  let silent: Server;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  });

  it('an aborted handshake (a peer that accepts and never answers) rejects with AbortedError', async () => {
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const p = connect<Slow>(`PYRO:deadline.slow@127.0.0.1:${port}`, { connectTimeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const t0 = performance.now();
    const err = await p
      .$with({ signal: controller.signal })
      .quick()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(performance.now() - t0).toBeLessThan(5000);
    await p.$release();
  });
});
