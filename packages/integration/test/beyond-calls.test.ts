// Beyond single calls, across processes: batches of 40,000 calls, bursts of 10,000 oneway calls, a
// slow oneway next to normal replies, 10,000 callbacks over one connection (functions and exposed
// objects), a cancelled call the server sees aborted, correlation ids through nested calls across
// two daemon processes, and annotations both ways. The daemons run in their own processes.
import { AbortedError, ConnectionClosedError, connect, expose, type Remote } from '@cinder/cinder';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workbench } from './fixtures/objects.js';
import { type RunningServer, startServer } from './helpers.js';

let server: RunningServer;
let second: RunningServer;
let bench: Remote<Workbench>;
const benchUri = (s: RunningServer) => s.uri.replace('test.calc', 'test.bench');

beforeAll(async () => {
  [server, second] = await Promise.all([
    startServer(['tcp', '127.0.0.1']),
    startServer(['tcp', '127.0.0.1']),
  ]);
  bench = connect<Workbench>(benchUri(server));
  await bench.$bind();
}, 40_000);

afterAll(async () => {
  await bench?.$release();
  await stopAllChildren();
});

describe('batches', () => {
  it('runs 40,000 calls in one message, results in order', async () => {
    await bench.reset();
    const batch = bench.$batch();
    for (let i = 0; i < 40_000; i++) batch.add(i, 1);
    expect(batch.$size).toBe(40_000);
    const t0 = performance.now();
    const results = await batch.$run();
    const ms = performance.now() - t0;
    expect(results.length).toBe(40_000);
    for (let i = 0; i < 40_000; i++) if (results[i] !== i + 1) expect(results[i]).toBe(i + 1);
    expect(await bench.added()).toBe(40_000);
    console.log(`batch of 40,000 calls: ${ms.toFixed(0)} ms (${((40_000 / ms) * 1000).toFixed(0)} calls/s)`);
    // the batch proxy was emptied by the run and is reusable
    expect(batch.$size).toBe(0);
    batch.add(20, 22);
    batch.$queue('add', [1, 1]);
    expect(await batch.$run()).toEqual([42, 2]);
  });

  it('$results yields in order and raises the first remote exception when reached; the rest never run', async () => {
    await bench.reset();
    const batch = bench.$batch();
    for (let i = 0; i < 1000; i++) batch.add(i, 0);
    batch.fail('stop here');
    for (let i = 0; i < 1000; i++) batch.add(i, 0);
    const seen: unknown[] = [];
    let error: unknown;
    try {
      for await (const r of batch.$results()) seen.push(r);
    } catch (e) {
      error = e;
    }
    expect(seen.length).toBe(1000);
    expect(seen[999]).toBe(999);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe('stop here');
    expect(await bench.added()).toBe(1000);
    // $run raises it too, and the same batch proxy goes on working
    batch.add(1, 1);
    batch.fail('again');
    batch.add(2, 2);
    await expect(batch.$run()).rejects.toThrow('again');
    batch.add(3, 3);
    expect(await batch.$run()).toEqual([6]);
  });

  it('a oneway batch of 40,000 resolves once sent, and all of it runs', async () => {
    await bench.reset();
    const batch = bench.$batch();
    for (let i = 0; i < 40_000; i++) batch.tick();
    await batch.$oneway();
    await expect.poll(() => bench.ticks(), { timeout: 10_000, interval: 50 }).toBe(40_000);
  });
});

describe('oneway calls', () => {
  it('a burst of 10,000 resolves fast, and every one runs on the server', async () => {
    await bench.reset();
    const t0 = performance.now();
    const sent = await Promise.all(Array.from({ length: 10_000 }, () => bench.tick()));
    const ms = performance.now() - t0;
    expect(sent.every((v) => v === undefined)).toBe(true);
    expect(ms).toBeLessThan(5000);
    console.log(`10,000 oneway calls sent in ${ms.toFixed(0)} ms`);
    await expect.poll(() => bench.ticks(), { timeout: 10_000, interval: 50 }).toBe(10_000);
  });

  it.each([true, false])(
    'a slow oneway does not hold up replies to other calls (multiplex %s)',
    async (multiplex) => {
      await using p = connect<Workbench>(benchUri(server), { multiplex });
      await p.reset();
      await p.slowTick(1500);
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) expect(await p.add(i, i)).toBe(2 * i);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(await p.ticks()).toBe(0);
      await expect.poll(() => p.ticks(), { timeout: 5000 }).toBe(1);
    },
  );
});

describe('callbacks over the same connection', () => {
  it('a function argument called back 10,000 times', async () => {
    let calls = 0;
    const t0 = performance.now();
    const sum = await bench.callFunction(10_000, async (i: number) => {
      calls++;
      return i;
    });
    const ms = performance.now() - t0;
    expect(calls).toBe(10_000);
    expect(sum).toBe((9_999 * 10_000) / 2);
    console.log(`10,000 callbacks (function): ${ms.toFixed(0)} ms`);
  });

  it('an exposed object argument called back 10,000 times', async () => {
    @expose
    class Listener {
      events = 0;
      onEvent(i: number): number {
        this.events++;
        return i;
      }
    }
    const listener = new Listener();
    expect(await bench.callObject(10_000, listener)).toBe(10_000);
    expect(listener.events).toBe(10_000);
  });
});

describe('cancellation', () => {
  it('a cancelled long-running call is seen as aborted by the server', async () => {
    const ac = new AbortController();
    const pending = bench.$with({ signal: ac.signal }).longTask(30_000, 'cancel-me');
    await new Promise((r) => setTimeout(r, 200));
    expect(await bench.wasCancelled('cancel-me')).toBe(false);
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await expect.poll(() => bench.wasCancelled('cancel-me'), { timeout: 3000 }).toBe(true);
    // a timeout cancels too
    await expect(bench.$with({ timeoutMs: 200 }).longTask(30_000, 'time-me-out')).rejects.toThrow(
      /timed out/,
    );
    await expect.poll(() => bench.wasCancelled('time-me-out'), { timeout: 3000 }).toBe(true);
    // and the connection is still good
    expect(await bench.add(1, 2)).toBe(3);
  });

  it('a client that disconnects aborts its calls on the server', async () => {
    const p = connect<Workbench>(benchUri(server));
    const pending = p.longTask(30_000, 'disconnect-me').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await p.$release();
    expect(await pending).toBeInstanceOf(ConnectionClosedError);
    await expect.poll(() => bench.wasCancelled('disconnect-me'), { timeout: 3000 }).toBe(true);
  });
});

describe('correlation ids and annotations', () => {
  it('a correlation id follows a nested call into a second daemon process', async () => {
    const [outer, inner] = await bench.nested(benchUri(second));
    expect(outer).toMatch(/^[0-9a-f]{32}$/);
    expect(inner).toBe(outer);
    const chosen = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const [o2, i2] = (await bench.$call('nested', [benchUri(second)], { correlationId: chosen })) as string[];
    expect(o2).toBe(chosen.toString('hex'));
    expect(i2).toBe(chosen.toString('hex'));
    expect(await bench.correlation()).not.toBe(outer);
  });

  it('annotations travel both ways', async () => {
    const replies: Map<string, Uint8Array>[] = [];
    const text = await bench.$call('annotate', ['TRCE'], {
      annotations: new Map([['TRCE', Buffer.from('trace-42')]]),
      onReplyAnnotations: (a) => replies.push(a),
    });
    expect(text).toBe('trace-42');
    expect(Buffer.from(replies[0]!.get('ECHO')!).toString()).toBe('trace-42');
    const none: Map<string, Uint8Array>[] = [];
    expect(await bench.$call('annotate', ['TRCE'], { onReplyAnnotations: (a) => none.push(a) })).toBe(null);
    expect(none.every((a) => !a.has('ECHO'))).toBe(true);
  });
});
