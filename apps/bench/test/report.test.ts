// Figures, medians, ratios and the outputs, from hand-made outcomes whose right answers are known.

import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/main.js';
import { nearestRank } from '../src/messages.js';
import {
  computeResults,
  formatRatio,
  median,
  type RunMeta,
  renderSvg,
  renderTable,
  spread,
  supported,
} from '../src/report.js';
import { type BenchOutcome, type RunRecord, roundSchedule } from '../src/runner.js';

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
  return { runs, rss, skipped: [], failed: [], versions: {}, roundsDone: 3 };
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

  it('derives MiB/s and CPU per MiB for every point of the transfer curve', () => {
    const res = computeResults(
      outcome([
        run({
          system: 'raw',
          scenario: 'curve_16KiB',
          run: 0,
          count: 2048,
          seconds: 0.25,
          bytes: 2048 * 16384,
          cpuUs: [30_000, 10_000],
        }),
      ]),
    );
    const get = (name: string) => res.find((e) => e.scenario === name)?.value;
    expect(get('curve_16KiB_MiB_per_s')).toBeCloseTo(32 / 0.25, 9);
    expect(get('curve_16KiB_cpu_ms_per_MiB')).toBeCloseTo(40 / 32, 9);
    expect(res.map((e) => e.scenario)).toEqual(['curve_16KiB_MiB_per_s', 'curve_16KiB_cpu_ms_per_MiB']);
  });

  it("derives the server's page faults per MiB received from a transfer run", () => {
    const transfer = (system: RunRecord['system'], faults: [number, number | null]) =>
      run({
        system,
        serializer: system === 'pyro4' ? 'marshal' : 'none',
        scenario: 'transfer',
        run: 0,
        count: 56,
        seconds: 0.5,
        bytes: 4 * 52_500_000,
        cpuUs: [100_000, 100_000],
        faults,
      });
    const res = computeResults(
      outcome([
        transfer('raw', [12, 25_035]),
        transfer('cinder', [12, 1_000]),
        transfer('pyro4', [12, null]),
      ]),
    );
    const faults = res.filter((e) => e.scenario === 'transfer_server_faults_per_MiB');
    // a server /proc could not read (null) gives no figure
    expect(faults.map((e) => e.system)).toEqual(['cinder', 'raw']);
    expect(faults[1]!.value).toBeCloseTo(25_035 / ((4 * 52_500_000) / 1048576), 9);
    expect(faults[1]!.unit).toBe('faults/MiB');
    // a count, reported without ratios (MiB/s of the same runs has them)
    expect(faults[0]!.ratios).toEqual({});
    const rate = res.find((e) => e.scenario === 'transfer_MB_per_s' && e.system === 'cinder')!;
    expect(rate.ratios.raw).toBeCloseTo(1, 9);
  });

  it("derives each side's sleeps per connection from a connections run, as counts without ratios", () => {
    const connections = (system: RunRecord['system'], sleeps: [number | null, number | null] | undefined) =>
      run({
        system,
        serializer: system === 'cinder' ? 'cbor' : 'none',
        scenario: 'connections',
        run: 0,
        count: 2000,
        seconds: 0.5,
        cpuUs: [100_000, 100_000],
        ...(sleeps ? { sleeps } : {}),
      });
    const res = computeResults(
      outcome([connections('raw', [2000, 3_400]), connections('cinder', [1_990, null])]),
    );
    const of = (name: string) => res.filter((e) => e.scenario === name).map((e) => [e.system, e.value]);
    expect(of('connections_server_sleeps')).toEqual([['raw', 1.7]]);
    expect(of('connections_client_sleeps')).toEqual([
      ['cinder', 0.995],
      ['raw', 1],
    ]);
    const client = res.find((e) => e.scenario === 'connections_client_sleeps' && e.system === 'cinder')!;
    expect(client.unit).toBe('sleeps/conn');
    expect(client.ratios).toEqual({});
    // the rate of the same runs has its ratio
    const rate = res.find((e) => e.scenario === 'connections_per_s' && e.system === 'cinder')!;
    expect(rate.ratios.raw).toBeCloseTo(1, 9);
    // a run without the counts (Pyro4's Python client) gives neither figure
    const none = computeResults(outcome([connections('raw', undefined)]));
    expect(none.some((e) => e.scenario.endsWith('_sleeps'))).toBe(false);
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
            round: 0,
          },
        ],
      ),
    );
    expect(res).toMatchObject([{ scenario: 'transfer_peak_rss_server_MiB', value: 2, unit: 'MiB' }]);
  });
});

describe('rounds', () => {
  /** `calls` runs of one system, one per round, with the given calls/s (count 1000). */
  const rounds = (system: RunRecord['system'], rates: number[], serializer = 'none') =>
    rates.map((rate, i) =>
      run({ system, serializer, scenario: 'calls', run: i, seconds: 1000 / rate, latencyUs: [1, 1, 1] }),
    );
  const calls = (res: ReturnType<typeof computeResults>, system: string) =>
    res.find((e) => e.scenario === 'calls_per_s' && e.system === system)!;

  it('schedules every item once per round, odd rounds backwards', () => {
    const order = roundSchedule(['a', 'b', 'c'], 3).map((s) => `${s.round}${s.item}${s.position}`);
    expect(order).toEqual(['0a0', '0b1', '0c2', '1c0', '1b1', '1a2', '2a0', '2b1', '2c2']);
  });

  it('gives the median, min and max over rounds, and takes ratios within each round', () => {
    const res = computeResults(
      outcome([...rounds('cinder', [100, 300, 200]), ...rounds('raw', [200, 600, 250])]),
    );
    const cinder = calls(res, 'cinder');
    expect(cinder).toMatchObject({
      value: 200,
      min: 100,
      max: 300,
      runs: [100, 300, 200],
      rounds: [0, 1, 2],
    });
    expect(spread(cinder)).toBeCloseTo(1, 9);
    // per round 0.5, 0.5, 0.8: the median is 0.5, where the ratio of the medians would say 0.8
    expect(cinder.ratios.raw).toBeCloseTo(0.5, 9);
    expect(cinder.ratioRanges.raw![0]).toBeCloseTo(0.5, 9);
    expect(cinder.ratioRanges.raw![1]).toBeCloseTo(0.8, 9);
    // the figures moved 2-3x between rounds, the ratios by 1.6x: within the margin 1/0.5 = 2x
    expect(cinder.unsupported).toEqual([]);
    expect(formatRatio(cinder, 'raw')).toBe('0.500x (0.500–0.800)');
  });

  it('flags a ratio whose rounds spread wider than its margin from parity', () => {
    // per round 0.9, 0.7, 0.95: spread 0.95/0.7 = 1.36x, margin 1/0.9 = 1.11x
    const res = computeResults(
      outcome([...rounds('cinder', [900, 700, 950]), ...rounds('raw', [1000, 1000, 1000])]),
    );
    const cinder = calls(res, 'cinder');
    expect(cinder.unsupported).toEqual(['raw']);
    expect(formatRatio(cinder, 'raw')).toBe('0.900x (0.700–0.950)?');
    expect(supported(0.9, 0.7, 0.95)).toBe(false);
    expect(supported(20, 10, 34)).toBe(true);
    expect(supported(0.5, 0.45, 0.55)).toBe(true);
  });

  it('pairs rounds by index, skipping a round a baseline failed in', () => {
    const raw = rounds('raw', [1000, 1000, 1000]).filter((r) => r.run !== 1);
    const res = computeResults(outcome([...rounds('cinder', [500, 100, 520]), ...raw]));
    const cinder = calls(res, 'cinder');
    expect(cinder.ratioRanges.raw![0]).toBeCloseTo(0.5, 9);
    expect(cinder.ratioRanges.raw![1]).toBeCloseTo(0.52, 9);
  });

  it('supports a ratio whose rounds agree and whose figures moved less than its margin', () => {
    const res = computeResults(
      outcome([...rounds('cinder', [400, 420, 380]), ...rounds('raw', [1000, 1050, 950])]),
    );
    const cinder = calls(res, 'cinder');
    expect(cinder.ratios.raw).toBeCloseTo(0.4, 9);
    expect(cinder.unsupported).toEqual([]);
    expect(formatRatio(cinder, 'raw')).toBe('0.400x (0.400–0.400)');
  });

  it('flags a ratio whose rounds disagree on which is better, even with steady figures', () => {
    const res = computeResults(
      outcome([...rounds('cinder', [1000, 1010, 990]), ...rounds('raw', [990, 1000, 1010])]),
    );
    const cinder = calls(res, 'cinder');
    expect(cinder.ratioRanges.raw![0]).toBeLessThan(1);
    expect(cinder.ratioRanges.raw![1]).toBeGreaterThan(1);
    expect(cinder.unsupported).toEqual(['raw']);
  });

  it('prints the spread of values and ratios in the table', () => {
    const res = computeResults(
      outcome([...rounds('cinder', [400, 420, 380]), ...rounds('raw', [1000, 1050, 950])]),
    );
    const row = renderTable(res, meta)
      .split('\n')
      .find((l) => l.startsWith('calls_per_s') && l.includes('cinder'));
    expect(row).toMatch(/400 \(380–420\)\s+calls\/s\s+-\s+0\.400x \(0\.400–0\.400\)\s+-$/);
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
