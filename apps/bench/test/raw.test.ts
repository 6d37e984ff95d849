// The raw baseline's framing and its client/server over real loopback sockets, driven by the shared
// harness: the ceiling figures are only worth something if these bytes are right.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '@cinder/test-utils';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchError } from '../src/errors.js';
import { runClient } from '../src/harness.js';
import type { ChildMessage, ClientPlan } from '../src/messages.js';
import { scenarioPlan } from '../src/runner.js';
import { rawSystem } from '../src/systems/raw.js';
import { FrameReader, frame, frameHeader, OP_ECHO, OP_ONEWAY, OP_SINK } from '../src/systems/raw-frames.js';

describe('FrameReader', () => {
  const collect = () => {
    const got: Array<{ op: number; body: string; whole: boolean }> = [];
    const reader = new FrameReader((op, body, whole) => {
      got.push({ op, body: body.toString('hex'), whole: whole !== null });
    });
    return { got, reader };
  };

  it('reassembles frames however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(OP_ECHO, OP_SINK, OP_ONEWAY), fc.uint8Array({ maxLength: 300 })), {
          maxLength: 8,
        }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map(([op, body]) => frame(op, body)));
          const { got, reader } = collect();
          let off = 0;
          for (let i = 0; off < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            reader.push(stream.subarray(off, off + n));
            off += n;
          }
          expect(got.map(({ op, body }) => ({ op, body }))).toEqual(
            frames.map(([op, body]) => ({ op, body: Buffer.from(body).toString('hex') })),
          );
          expect(reader.partial).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hands out the whole frame without a copy when it sits in one chunk', () => {
    const { got, reader } = collect();
    reader.push(Buffer.concat([frame(OP_ECHO, Buffer.from('ab')), frame(OP_SINK, Buffer.alloc(0))]));
    expect(got).toEqual([
      { op: OP_ECHO, body: '6162', whole: true },
      { op: OP_SINK, body: '', whole: true },
    ]);
  });

  it('rejects an oversized frame from its header, before allocating the body', () => {
    const reader = new FrameReader(() => {}, 1024);
    expect(() => reader.push(frameHeader(OP_ECHO, 1025))).toThrow(
      expect.objectContaining({ name: 'BenchError', code: 'PROTOCOL' }),
    );
  });

  it('rejects an unknown op, also when the header is split', () => {
    const reader = new FrameReader(() => {});
    const bad = frame(9, Buffer.from('x'));
    reader.push(bad.subarray(0, 3));
    expect(() => reader.push(bad.subarray(3))).toThrow(BenchError);
  });
});

describe('raw system through the harness', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const transport of ['tcp', 'unix'] as const) {
    it(`measures every scenario it has over ${transport}`, async () => {
      const dir = scratchDir('bench-raw');
      dirs.push(dir);
      const server = await rawSystem.startServer(
        transport === 'unix' ? { transport, socketPath: join(dir, 's.sock') } : { transport },
      );
      try {
        const ids = [
          'connections',
          'new_proxy_calls',
          'calls',
          'oneway',
          'pipelined16',
          'transfer',
          'curve_4KiB',
          'batched',
        ] as const;
        const plan: ClientPlan = {
          address: server.address,
          transport,
          serializer: 'none',
          runs: 2,
          scenarios: ids.map((id) => ({
            ...scenarioPlan(id, 'quick'),
            count: id === 'transfer' ? 1 : 20,
            warmup: 2,
            warmupMs: 0,
          })),
        };
        const messages: ChildMessage[] = [];
        const driver = await rawSystem.connect(plan);
        await runClient(driver, plan, (m) => messages.push(m));
        await driver.close();

        const runs = messages.filter((m) => m.type === 'run');
        expect(runs.map((r) => `${r.scenario}#${r.run}`)).toEqual(
          ids.filter((id) => id !== 'batched').flatMap((id) => [`${id}#0`, `${id}#1`]),
        );
        for (const r of runs) expect(r.seconds).toBeGreaterThan(0);
        const transfer = runs.find((r) => r.scenario === 'transfer')!;
        // a transfer's count is its passes over the sizes
        expect(transfer).toMatchObject({ count: 14, bytes: 52_500_000 });
        const curve = scenarioPlan('curve_4KiB', 'quick');
        expect(runs.find((r) => r.scenario === 'curve_4KiB')).toMatchObject({
          count: curve.count,
          bytes: 4096 * curve.count,
        });
        const calls = runs.find((r) => r.scenario === 'calls')!;
        const [p50, p99, p999] = calls.latencyUs!;
        expect(p50).toBeGreaterThan(0);
        expect(p99).toBeGreaterThanOrEqual(p50);
        expect(p999).toBeGreaterThanOrEqual(p99);
        expect(messages).toContainEqual({
          type: 'skip',
          scenario: 'batched',
          reason: 'a raw echo has no batching',
        });
      } finally {
        await server.close();
      }
    });
  }
});
