// The many-clients loop of the harness, with a driver whose connections count what happens to them:
// every connection is its own, calls on one connection never overlap, all of them are busy at once,
// the calls add up to the scenario's count, and every connection is closed afterwards.

import { describe, expect, it } from 'vitest';
import { type ClientConnection, type ClientDriver, runClient } from '../src/harness.js';
import type { ChildMessage, ClientPlan } from '../src/messages.js';
import { scenarioPlan } from '../src/runner.js';

class CountingConnection implements ClientConnection {
  calls = 0;
  busy = false;
  overlapped = false;
  closed = false;
  constructor(private readonly world: { active: number; maxActive: number }) {}

  async call(): Promise<void> {
    if (this.closed) throw new Error('call on a closed connection');
    if (this.busy) this.overlapped = true;
    this.busy = true;
    this.world.active++;
    this.world.maxActive = Math.max(this.world.maxActive, this.world.active);
    await new Promise((r) => setTimeout(r, 1));
    this.world.active--;
    this.busy = false;
    this.calls++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('many clients', () => {
  for (const [id, n] of [
    ['clients8', 8],
    ['clients64', 64],
  ] as const) {
    it(`${id} opens ${n} connections, keeps them all busy, one call at a time each`, async () => {
      const world = { active: 0, maxActive: 0 };
      const opened: CountingConnection[] = [];
      const driver: ClientDriver = {
        pipelining: false,
        call: async () => {
          throw new Error('the main connection is not used by the many-clients scenarios');
        },
        openClient: async () => {
          const c = new CountingConnection(world);
          opened.push(c);
          return c;
        },
        close: async () => {},
      };
      const count = 500;
      const plan: ClientPlan = {
        address: 'unused',
        transport: 'tcp',
        serializer: 'none',
        runs: 2,
        scenarios: [{ ...scenarioPlan(id, 'quick'), count, warmup: 10, warmupMs: 0 }],
      };
      const messages: ChildMessage[] = [];
      await runClient(driver, plan, (m) => messages.push(m));

      expect(opened).toHaveLength(n);
      expect(world.maxActive).toBe(n);
      expect(opened.some((c) => c.overlapped)).toBe(false);
      expect(opened.every((c) => c.closed)).toBe(true);
      // warm-up: max(warmup, n) calls once; then `count` per run
      const total = opened.reduce((a, c) => a + c.calls, 0);
      expect(total).toBe(Math.max(10, n) + 2 * count);
      const runs = messages.filter((m) => m.type === 'run');
      expect(runs.map((r) => [r.scenario, r.count])).toEqual([
        [id, count],
        [id, count],
      ]);
    });
  }

  it('is skipped, with a reason, by a driver that cannot open further connections', async () => {
    const messages: ChildMessage[] = [];
    const plan: ClientPlan = {
      address: 'unused',
      transport: 'tcp',
      serializer: 'none',
      runs: 1,
      scenarios: [scenarioPlan('clients8', 'quick')],
    };
    await runClient({ pipelining: false, call: async () => {}, close: async () => {} }, plan, (m) =>
      messages.push(m),
    );
    expect(messages).toEqual([
      { type: 'skip', scenario: 'clients8', reason: 'separate client connections not supported' },
    ]);
  });
});
