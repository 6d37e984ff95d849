// Attack (or accident): one end of a pushed stream freezes (SIGSTOP). No call is pending then — the
// consumer waits for the next item, the producer for the consumer's credit — so a heartbeat that
// ran only for pending calls left the other end waiting forever (and a producer holding its
// generator). The heartbeat now runs while a pushed stream is open, either way, and the waiting end
// fails within about twice `heartbeatMs`.
import { fileURLToPath } from 'node:url';
import { connect, Daemon } from '@cinder/cinder';
import { startChild } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import { appEnv, attackerSession, sleep } from './attack-helpers.js';
import { Workbench } from './fixtures/objects.js';
import { startServer } from './helpers.js';

const consumerScript = fileURLToPath(new URL('./fixtures/stream-consumer.ts', import.meta.url));

/** How long `p` took to settle, and how. */
async function settle(p: Promise<unknown>): Promise<{ ms: number; value: unknown; error: unknown }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ms: performance.now() - t0, value, error: undefined };
  } catch (error) {
    return { ms: performance.now() - t0, value: undefined, error };
  }
}

/**
 * 1 s, not less: while the peer is alive every PING must be answered within the interval, which a
 * loaded CI machine did not always manage with 300 ms. Failure comes within ~2 intervals (the next
 * tick's PING, unanswered for one more), plus slack for the load.
 */
const HEARTBEAT_MS = 1000;
const SLOWER_MS = 2500;
const WITHIN_MS = 2 * HEARTBEAT_MS + 2500;

describe('liveness: a frozen end of a pushed stream', () => {
  it('a consumer iterating a pushed stream from a SIGSTOPped server fails within about 2 × heartbeatMs', async ({
    onTestFinished: fin,
  }) => {
    const server = await startServer(['tcp'], appEnv() as Record<string, string>);
    fin(async () => {
      server.child.child.kill('SIGCONT');
      await server.child.stop('SIGKILL', 0);
    });
    const benchUri = server.uri.replace('test.calc', 'test.bench');
    await using bench = connect<{ items(n: number): AsyncIterable<number>; $bind(): Promise<void> }>(
      benchUri,
      {
        config: { heartbeatMs: HEARTBEAT_MS },
      },
    );
    // connected first (a first call pipelined behind CONNECT gets a pushed stream as well)
    await bench.$bind();
    const stream = await bench.items(1_000_000);
    expect(stream.constructor.name).toBe('PushStream');
    const items = stream[Symbol.asyncIterator]();
    expect((await items.next()).value).toBe(0);
    // a consumer slower than the heartbeat is not mistaken for a dead producer
    await sleep(SLOWER_MS);
    expect((await items.next()).value).toBe(1);
    server.child.child.kill('SIGSTOP');
    const drain = (async () => {
      for (;;) if ((await items.next()).done) return 'the stream ended';
    })();
    const r = await settle(Promise.race([drain, sleep(10_000).then(() => 'still waiting after 10 s')]));
    console.log(
      `pushed-stream consumer of a frozen producer: ${r.error ? `failed after ${r.ms.toFixed(0)} ms: ${String(r.error)}` : String(r.value)}`,
    );
    expect(r.error, `the consumer must fail, not: ${String(r.value)}`).toBeInstanceOf(Error);
    expect(String((r.error as Error).message)).toMatch(/heartbeat/);
    expect(r.ms).toBeLessThan(WITHIN_MS);
  }, 30_000);

  it('a producer pushing to a SIGSTOPped consumer is released (its generator closed) within about 2 × heartbeatMs', async ({
    onTestFinished: fin,
  }) => {
    const daemon = await Daemon.start({
      host: '127.0.0.1',
      port: 0,
      useEnvironment: false,
      config: { heartbeatMs: HEARTBEAT_MS },
    });
    fin(() => daemon.close({ graceMs: 0 }));
    const bench = new Workbench();
    const uri = String(daemon.register(bench, 'test.bench'));
    const consumer = startChild(consumerScript, [uri], { env: appEnv() });
    fin(async () => {
      consumer.child.kill('SIGCONT');
      await consumer.stop('SIGKILL', 0);
    });
    await consumer.waitForLine(/^CONSUMING$/, 20_000);
    // a consumer that reads nothing but is alive keeps its stream: the producer waits for credit
    await sleep(SLOWER_MS);
    expect(bench.streamState().closed).toBe(false);
    consumer.child.kill('SIGSTOP');
    const t0 = performance.now();
    while (!bench.streamState().closed && performance.now() - t0 < 10_000) await sleep(25);
    const ms = performance.now() - t0;
    console.log(
      `producer of a frozen consumer: ${bench.streamState().closed ? `released after ${ms.toFixed(0)} ms` : 'still held after 10 s'}`,
    );
    expect(bench.streamState().closed, 'the producer must be released').toBe(true);
    expect(ms).toBeLessThan(WITHIN_MS);
  }, 40_000);
});

describe('slots: a connection with an open pushed stream is not idle', () => {
  it('when slots run out, the daemon reclaims an idle connection, not one it pushes a stream to', async ({
    onTestFinished: fin,
  }) => {
    const daemon = await Daemon.start({
      host: '127.0.0.1',
      port: 0,
      useEnvironment: false,
      config: { maxConnections: 2, heartbeatMs: 0 },
    });
    fin(() => daemon.close({ graceMs: 0 }));
    const uri = String(daemon.register(new Workbench(), 'test.bench'));
    type Bench = { items(n: number): AsyncIterable<number>; $bind(): Promise<void> };
    // the older connection from 127.0.0.1 consumes a pushed stream (slowly: the producer waits for credit)
    await using consumer = connect<Bench>(uri, { useEnvironment: false });
    await consumer.$bind();
    const items = (await consumer.items(1_000_000))[Symbol.asyncIterator]();
    expect((await items.next()).value).toBe(0);
    // the newer one is idle
    await using idle = connect<Bench>(uri, { useEnvironment: false });
    await idle.$bind();
    await sleep(200);
    // a client from another address needs a slot: the address holding the most gives up an idle one
    const newcomer = await attackerSession(
      { host: '127.0.0.1', port: Number(uri.split(':').pop()), localAddress: '127.0.0.2' },
      'test.bench',
    );
    fin(() => newcomer.destroy());
    await sleep(200);
    expect(consumer.$connected, 'the consumer of a pushed stream keeps its connection').toBe(true);
    expect(idle.$connected, 'the idle connection gave up its slot').toBe(false);
    // and its stream goes on, past what was pushed ahead of the consumer
    const next: number[] = [];
    for (let i = 0; i < 500; i++) next.push((await items.next()).value as number);
    expect(next).toEqual([...Array(500).keys()].map((i) => i + 1));
  }, 30_000);
});
