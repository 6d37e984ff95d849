// Streamed results across processes: a generator of 1,000,000 items served by a daemon in its own
// process. The client reads most of it fast, then slowly for a few thousand items; the daemon must
// only produce what the client's credit allows, so its memory stays flat however far behind the
// client falls. Breaking out of the loop must close the generator on the server (its `finally`).
import { connect, type Remote } from '@cinder/cinder';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workbench } from './fixtures/objects.js';
import { type RunningServer, startServer } from './helpers.js';

const TOTAL = 1_000_000;
const SLOW_FROM = 500_000;
const SLOW_ITEMS = 3000;
const MB = 1024 * 1024;

let server: RunningServer;
let stream: Remote<Workbench>;
let probe: Remote<Workbench>;

beforeAll(async () => {
  server = await startServer(['tcp', '127.0.0.1']);
  const uri = server.uri.replace('test.calc', 'test.bench');
  stream = connect<Workbench>(uri);
  probe = connect<Workbench>(uri);
  await Promise.all([stream.$bind(), probe.$bind()]);
}, 30_000);

afterAll(async () => {
  await stream?.$release();
  await probe?.$release();
  await stopAllChildren();
});

describe('a stream of 1,000,000 items', () => {
  it('keeps the server memory flat while the client is slow, and delivers every item in order', async () => {
    const t0 = performance.now();
    const items = await stream.items(TOTAL);
    let expected = 0;
    let baseline = 0;
    const rssDuringSlow: number[] = [];
    let maxAhead = 0;
    for await (const n of items) {
      if (n !== expected) expect(n).toBe(expected);
      expected++;
      if (n === 20_000) baseline = await probe.rss();
      if (n >= SLOW_FROM && n < SLOW_FROM + SLOW_ITEMS) {
        // the slow phase: a consumer that lags; the producer must wait for it
        if (n % 100 === 0) {
          await new Promise((r) => setTimeout(r, 5));
          const state = await probe.streamState();
          maxAhead = Math.max(maxAhead, state.produced - (n + 1));
        }
        if (n % 1000 === 0) rssDuringSlow.push(await probe.rss());
      }
    }
    const ms = performance.now() - t0;
    expect(expected).toBe(TOTAL);
    const end = await probe.rss();
    const state = await probe.streamState();
    expect(state).toEqual({ produced: TOTAL, closed: true, finished: true });
    const growth = Math.max(end, ...rssDuringSlow) - baseline;
    console.log(
      `1,000,000 items in ${(ms / 1000).toFixed(1)} s (${((TOTAL / ms) * 1000).toFixed(0)} items/s); server RSS at 20k items ${(baseline / MB).toFixed(1)} MB, max growth ${(growth / MB).toFixed(1)} MB; producer at most ${maxAhead} items ahead of the consumer`,
    );
    // credit-based flow control: the producer is never more than a window ahead of the reader
    expect(maxAhead).toBeLessThanOrEqual(256);
    expect(growth).toBeLessThan(50 * MB);
  }, 60_000);

  it('breaking out of the loop closes the generator on the server', async () => {
    const items = await stream.items(TOTAL);
    const got: number[] = [];
    for await (const n of items) {
      got.push(n);
      if (n === 999) break;
    }
    expect(got.length).toBe(1000);
    await expect
      .poll(() => probe.streamState(), { timeout: 3000 })
      .toMatchObject({ closed: true, finished: false });
    const state = await probe.streamState();
    expect(state.produced).toBeLessThan(2000);
    // the connection goes on serving calls
    expect(await stream.add(1, 2)).toBe(3);
  });

  it('closing the stream explicitly does the same', async () => {
    const items = await stream.items(TOTAL);
    const iterator = items[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(0);
    await items.close();
    await expect
      .poll(() => probe.streamState(), { timeout: 3000 })
      .toMatchObject({ closed: true, finished: false });
  });
});
