// Attack (or accident): the producer of a pushed stream freezes (SIGSTOP) while a consumer iterates
// it. No call is pending then — the consumer waits for the next item — so a heartbeat that ran only
// for pending calls left it waiting forever. The heartbeat now runs while a pushed stream is open,
// and the consumer fails within about twice `heartbeatMs`.
import { connect } from '@cinder/cinder';
import { describe, expect, it } from 'vitest';
import { appEnv, sleep } from './attack-helpers.js';
import { startServer } from './helpers.js';

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

describe('liveness: a frozen producer of a pushed stream', () => {
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
        config: { heartbeatMs: 300 },
      },
    );
    // connected first: a first call pipelined behind CONNECT is answered with a pull stream
    await bench.$bind();
    const stream = await bench.items(1_000_000);
    expect(stream.constructor.name).toBe('PushStream');
    const items = stream[Symbol.asyncIterator]();
    expect((await items.next()).value).toBe(0);
    // a consumer slower than the heartbeat is not mistaken for a dead producer
    await sleep(1000);
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
    expect(r.ms).toBeLessThan(3000);
  }, 30_000);
});
