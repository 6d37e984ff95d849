// Figures, medians, ratios and the outputs, from hand-made outcomes whose right answers are known.

import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/main.js';
import { nearestRank } from '../src/messages.js';
import { computeResults, median, type RunMeta, renderSvg, renderTable } from '../src/report.js';
import type { BenchOutcome, RunRecord } from '../src/runner.js';

const meta: RunMeta = {
  date: '2026-01-01T00:00:00.000Z',
  mode: 'quick',
  runs: 3,
  argv: [],
  machine: { cpu: 'Test <CPU> & co', cores: 2, memoryMiB: 1024, os: 'linux', arch: 'x64' },
  node: 'v20',
  versions: {},
  iterations: {},
  notes: [],
};

const run = (
  r: Partial<RunRecord> & Pick<RunRecord, 'system' | 'scenario' | 'run' | 'seconds'>,
): RunRecord => ({
  type: 'run',
  serializer: 'none',
  transport: 'tcp',
  count: 1000,
  ...r,
});

function outcome(runs: RunRecord[], rss: BenchOutcome['rss'] = []): BenchOutcome {
  return { runs, rss, skipped: [], failed: [], versions: {} };
}

describe('statistics', () => {
  it('takes the median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('uses nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(nearestRank(sorted, 0.5)).toBe(500);
    expect(nearestRank(sorted, 0.99)).toBe(990);
    expect(nearestRank(sorted, 0.999)).toBe(999);
    expect(nearestRank([7], 0.999)).toBe(7);
  });
});

describe('computeResults', () => {
  it('derives every figure of a scenario as the median over runs', () => {
    const res = computeResults(
      outcome([
        run({ system: 'raw', scenario: 'calls', run: 0, seconds: 0.5, latencyUs: [10, 20, 30] }),
        run({ system: 'raw', scenario: 'calls', run: 1, seconds: 0.25, latencyUs: [12, 22, 32] }),
        run({ system: 'raw', scenario: 'calls', run: 2, seconds: 1, latencyUs: [11, 21, 90] }),
        run({
          system: 'pyro4',
          serializer: 'marshal',
          scenario: 'batched',
          run: 0,
          count: 40,
          seconds: 0.01,
          seqSeconds: 0.2,
        }),
        run({ system: 'raw', scenario: 'transfer', run: 0, count: 14, seconds: 0.5, bytes: 52_500_000 }),
      ]),
    );
    const get = (name: string, system = 'raw') => res.find((e) => e.scenario === name && e.system === system);
    expect(get('calls_per_s')).toMatchObject({ value: 2000, unit: 'calls/s', runs: [2000, 4000, 1000] });
    expect(get('latency_p50_us')?.value).toBe(11);
    expect(get('latency_p999_us')?.value).toBe(32);
    expect(get('transfer_MB_per_s')?.value).toBeCloseTo(52_500_000 / 1048576 / 0.5, 6);
    expect(get('batched_calls_per_s', 'pyro4')?.value).toBeCloseTo(4000, 6);
    expect(get('batch_speedup', 'pyro4')?.value).toBeCloseTo(20, 6);
    expect(get('batch_sequential_calls_per_s', 'pyro4')?.value).toBeCloseTo(200, 6);
  });

  it('compares with the best Pyro4 serializer, and turns lower-is-better figures the right way up', () => {
    const res = computeResults(
      outcome([
        run({ system: 'raw', scenario: 'calls', run: 0, seconds: 0.1, latencyUs: [50, 60, 70] }),
        run({
          system: 'pyro4',
          serializer: 'json',
          scenario: 'calls',
          run: 0,
          seconds: 1,
          latencyUs: [100, 1, 1],
        }),
        run({
          system: 'pyro4',
          serializer: 'msgpack',
          scenario: 'calls',
          run: 0,
          seconds: 0.5,
          latencyUs: [400, 1, 1],
        }),
      ]),
    );
    const raw = res.find((e) => e.scenario === 'calls_per_s' && e.system === 'raw')!;
    expect(raw.ratios.pyro4_best).toBeCloseTo(5, 9); // 10000 vs msgpack's 2000
    const rawLat = res.find((e) => e.scenario === 'latency_p50_us' && e.system === 'raw')!;
    expect(rawLat.ratios.pyro4_best).toBeCloseTo(2, 9); // 50 µs against json's 100 µs: twice as good
    const json = res.find((e) => e.scenario === 'calls_per_s' && e.serializer === 'json')!;
    expect(json.ratios).toEqual({ raw: 0.1 });
  });

  it('reports peak RSS in MiB', () => {
    const res = computeResults(
      outcome(
        [],
        [
          {
            system: 'raw',
            serializer: 'none',
            transport: 'tcp',
            scenario: 'transfer',
            role: 'server',
            kib: 2048,
          },
        ],
      ),
    );
    expect(res).toMatchObject([{ scenario: 'transfer_peak_rss_server_MiB', value: 2, unit: 'MiB' }]);
  });
});

describe('outputs', () => {
  const results = computeResults(
    outcome([
      run({ system: 'raw', scenario: 'calls', run: 0, seconds: 0.1, latencyUs: [50, 60, 70] }),
      run({ system: 'grpc', scenario: 'calls', run: 0, seconds: 0.4, latencyUs: [200, 300, 400] }),
    ]),
  );

  it('prints one row per figure with ratios', () => {
    const table = renderTable(results, meta);
    const row = table.split('\n').find((l) => l.startsWith('calls_per_s') && l.includes('grpc'));
    expect(row).toMatch(/grpc\s+none\s+2,500\s+calls\/s\s+-\s+0\.250x\s+-$/);
  });

  it('draws a well-formed SVG with escaped text and a note for missing Cinder figures', () => {
    const svg = renderSvg(results, meta, 'not yet available');
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Test &lt;CPU&gt; &amp; co');
    expect(svg).toContain('not yet available');
    expect(svg.match(/<rect /g)?.length).toBe(1 + 2 * 2); // background + 2 panels (calls, p99) × 2 bars
  });
});

describe('parseCli', () => {
  it('accepts pnpm’s "--" and comma or repeated lists', () => {
    const cli = parseCli([
      '--',
      '--quick',
      '--only',
      'latency,transfer',
      '--transport',
      'tcp',
      '--transport',
      'unix',
    ]);
    expect(cli).toMatchObject({
      mode: 'quick',
      runs: 1,
      scenarios: ['calls', 'transfer'],
      transports: ['tcp', 'unix'],
    });
  });

  it('rejects unknown words with a usage error that names the choices', () => {
    expect(() => parseCli(['--only', 'warp'])).toThrow(/unknown scenario "warp" \(choose from connections/);
    expect(() => parseCli(['--serializer', 'yaml'])).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => parseCli(['--runs', '0'])).toThrow(/whole number/);
    expect(() => parseCli(['--bogus'])).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
