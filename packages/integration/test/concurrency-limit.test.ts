// maxConcurrentCalls: calls beyond the limit wait their turn, and waiting calls never block the
// replies the running ones depend on (a served call that calls back into the client).
import { connect, Daemon, expose } from '@cinder/cinder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

@expose
class Limited {
  running = 0;
  peak = 0;

  async viaCallback(n: number, fn: (n: number) => Promise<number>): Promise<number> {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      await new Promise((r) => setTimeout(r, 5));
      return await fn(n);
    } finally {
      this.running--;
    }
  }

  getPeak(): number {
    return this.peak;
  }
}

describe('maxConcurrentCalls', () => {
  let daemon: Daemon;
  let uri: string;

  beforeAll(async () => {
    daemon = await Daemon.start({ config: { maxConcurrentCalls: 2 } });
    uri = daemon.register(new Limited(), 'limited').toString();
  });

  afterAll(() => daemon?.close());

  it('runs at most N calls at once and serves callbacks of running calls meanwhile', async () => {
    await using p = connect<Limited>(uri, { timeoutMs: 10_000 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => p.viaCallback(i, async (n) => n * 10)),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
    expect(await p.getPeak()).toBe(2);
  });
});
