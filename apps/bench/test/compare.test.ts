// Two builds of Cinder in one run (`--cinder-from DIR[,label]`): the order the pairs are measured
// in, the A/B ratios taken within each round, the table and A/B block, the command line, and that
// the other build's processes load the other build's facade.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchError } from '../src/errors.js';
import type { BenchJson } from '../src/index.js';
import { parseCli, parseDeadline } from '../src/main.js';
import {
  computeResults,
  medianInterval,
  type RunMeta,
  renderComparison,
  renderTable,
} from '../src/report.js';
import {
  type BenchOutcome,
  orderJobs,
  type RunRecord,
  roundFits,
  roundSchedule,
  serializerChosen,
} from '../src/runner.js';
import type { ScenarioId } from '../src/scenarios.js';
import type { SystemId } from '../src/system.js';
import { cinderFromSpec, cinderSpec, cinderSystem, loadCinder } from '../src/systems/cinder.js';

const mainFile = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = scratchDir('bench-compare');
afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

const meta: RunMeta = {
  date: '2026-01-01T00:00:00.000Z',
  mode: 'full',
  runs: 3,
  argv: [],
  machine: { cpu: 'cpu', cores: 2, memoryMiB: 1024, os: 'linux', arch: 'x64' },
  node: 'v20',
  versions: { cinder_b: { cinder: '0.1.0', label: 'pre-engine', dir: '/tmp/x', commit: 'e6d090c' } },
  iterations: {},
  notes: [],
};

const job = (system: SystemId, serializer: string, scenarios: ScenarioId[] = ['calls']) => ({
  system,
  serializer,
  transport: 'tcp' as const,
  spec: { serializers: system.startsWith('cinder') ? cinderSpec.serializers : ['none'] },
  scenarios,
});
const name = (j: ReturnType<typeof job>) => `${j.system}/${j.serializer}/${j.scenarios[0]}`;

describe('order of the measurements', () => {
  it('puts each A/B pair back to back, serializer by serializer, and reverses it every other round', () => {
    const jobs = [
      job('raw', 'none'),
      job('cinder_b', 'msgpack'),
      job('cinder', 'msgpack'),
      job('pyro4', 'none'),
      job('cinder_b', 'cbor'),
      job('cinder', 'cbor'),
      job('cinder_b', 'cbor', ['transfer']),
      job('cinder', 'cbor', ['transfer']),
    ];
    orderJobs(jobs, ['tcp']);
    expect(jobs.map(name)).toEqual([
      'cinder/cbor/calls',
      'cinder_b/cbor/calls',
      'cinder/msgpack/calls',
      'cinder_b/msgpack/calls',
      'raw/none/calls',
      'pyro4/none/calls',
      'cinder/cbor/transfer',
      'cinder_b/cbor/transfer',
    ]);
    const schedule = roundSchedule(jobs, 3);
    const round = (r: number) => schedule.filter((s) => s.round === r).map((s) => name(s.item));
    expect(round(0)).toEqual(jobs.map(name));
    expect(round(1)).toEqual([...jobs.map(name)].reverse());
    expect(round(2)).toEqual(jobs.map(name));
    // A before B in even rounds, B before A in odd ones: neither build always goes first
    for (let r = 0; r < 3; r++) {
      const order = round(r);
      const a = order.indexOf('cinder/cbor/calls');
      const b = order.indexOf('cinder_b/cbor/calls');
      expect(Math.abs(a - b)).toBe(1);
      expect(a < b).toBe(r % 2 === 0);
    }
  });
});

const run = (system: SystemId, serializer: string, round: number, seconds: number): RunRecord => ({
  type: 'run',
  scenario: 'calls',
  system,
  serializer,
  transport: 'tcp',
  run: round,
  count: 1000,
  seconds,
  cpuUs: [seconds * 1e6 * 0.5, seconds * 1e6 * 0.5],
});

function outcome(runs: RunRecord[]): BenchOutcome {
  return { runs, rss: [], skipped: [], failed: [], versions: {}, roundsDone: 3 };
}

describe('A/B ratios', () => {
  // A (cinder) and B (cinder_b) over 3 rounds; the load drifts, so only within-round ratios are fair
  const runs = [
    run('cinder', 'cbor', 0, 1.0),
    run('cinder_b', 'cbor', 0, 1.1),
    run('cinder', 'cbor', 1, 2.0),
    run('cinder_b', 'cbor', 1, 2.1),
    run('cinder', 'cbor', 2, 1.5),
    run('cinder_b', 'cbor', 2, 1.2),
    run('cinder', 'msgpack', 0, 1.0),
    run('cinder_b', 'msgpack', 0, 4.0),
    run('raw', 'none', 0, 0.5),
    run('raw', 'none', 1, 0.5),
    run('raw', 'none', 2, 0.5),
  ];
  const results = computeResults(outcome(runs));
  const entry = (system: SystemId, serializer: string, figure = 'calls_per_s') =>
    results.find((e) => e.system === system && e.serializer === serializer && e.scenario === figure)!;

  it('takes A against B within each round, with the same serializer', () => {
    const cbor = entry('cinder', 'cbor');
    // calls/s: higher is better, so A/B = B's seconds / A's seconds, per round
    const perRound = [1.1 / 1.0, 2.1 / 2.0, 1.2 / 1.5];
    expect(cbor.ratios.cinder_b).toBeCloseTo(1.05, 9);
    expect(cbor.ratioRanges.cinder_b![0]).toBeCloseTo(Math.min(...perRound), 9);
    expect(cbor.ratioRanges.cinder_b![1]).toBeCloseTo(Math.max(...perRound), 9);
    // the rounds disagree on which build is faster: not supported
    expect(cbor.unsupported).toContain('cinder_b');
    // msgpack against msgpack, not against B's best serializer (its cbor would give 1.1 / 1.0)
    expect(entry('cinder', 'msgpack').ratios.cinder_b).toBeCloseTo(4, 9);
    expect(entry('cinder', 'msgpack').unsupported).not.toContain('cinder_b');
    // a cost: CPU per call, lower is better, still > 1 = A better
    expect(entry('cinder', 'msgpack', 'calls_cpu_us').ratios.cinder_b).toBeCloseTo(4, 9);
  });

  it('gives B its own ratios to the baselines, and no A/B ratio to anything but A', () => {
    expect(entry('cinder_b', 'cbor').ratios.raw).toBeCloseTo(0.5 / 1.2, 9);
    expect(entry('cinder_b', 'cbor').ratios.cinder_b).toBeUndefined();
    expect(entry('raw', 'none').ratios.cinder_b).toBeUndefined();
  });

  it('prints a "vs <label>" column and the A/B block with every per-round ratio', () => {
    const table = renderTable(results, meta);
    expect(table.split('\n')[0]).toMatch(/vs grpc\s+vs pre-engine$/);
    expect(table).toMatch(/^calls_per_s\s+tcp\s+cinder\s+cbor .* 1\.05x \(0\.800–1\.10\)\?$/m);
    const ab = renderComparison(results, meta);
    expect(ab).toContain('against pre-engine (B: /tmp/x, commit e6d090c)');
    expect(ab).toMatch(
      /^calls_per_s\s+tcp\s+cbor\s+.*1\.05x \(0\.800–1\.10\)\?\s+-\s+1\.100 1\.050 0\.800$/m,
    );
    expect(ab).toMatch(/^calls_per_s\s+tcp\s+msgpack\s+.*4\.00x\s+-\s+4\.000$/m);
    // without a second build there is no column and no block
    const alone = computeResults(outcome(runs.filter((r) => r.system !== 'cinder_b')));
    expect(renderTable(alone, meta).split('\n')[0]).toMatch(/vs grpc$/);
    expect(renderComparison(alone, meta)).toBe('');
  });
});

describe('confidence interval of the median per-round ratio', () => {
  it('takes order statistics by the binomial rule, only from 6 rounds on', () => {
    expect(medianInterval([1, 2, 3, 4, 5])).toBeUndefined();
    // 6 to 8 values: only min–max reaches 95% (2·(1/64) = 3.1%; with 8, 2·(9/256) = 7% for k = 2)
    expect(medianInterval([0.99, 0.97, 1.02, 1.0, 0.98, 1.01])).toEqual([0.97, 1.02]);
    expect(medianInterval([8, 1, 7, 2, 6, 3, 5, 4])).toEqual([1, 8]);
    // 9 values: 2·(10/512) = 3.9% → the 2nd smallest and 2nd largest
    expect(medianInterval([9, 1, 8, 2, 7, 3, 6, 4, 5])).toEqual([2, 8]);
    // 12 values: 2·(79/4096) = 3.9% → the 3rd; 2·(299/4096) = 14.6% would be too wide a risk
    expect(medianInterval(Array.from({ length: 12 }, (_, i) => 12 - i))).toEqual([3, 10]);
    // 20 values: k = 6 (2·P(X ≤ 5) = 4.1%, 2·P(X ≤ 6) = 11.5%)
    expect(medianInterval(Array.from({ length: 20 }, (_, i) => i + 1))).toEqual([6, 15]);
  });

  it('is printed in the A/B block from 6 rounds on', () => {
    const rounds = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02];
    const runs = rounds.flatMap((r, round) => [
      run('cinder', 'cbor', round, 1),
      run('cinder_b', 'cbor', round, r),
    ]);
    const ab = renderComparison(computeResults(outcome(runs)), meta);
    expect(ab).toMatch(
      /^calls_per_s\s+tcp\s+cbor\s+.*\s0\.900–1\.100\s+1\.000 1\.100 0\.900 1\.050 0\.950 1\.020$/m,
    );
  });
});

describe('--cinder-from', () => {
  it('adds the other build after the chosen systems, with a label or a default one', () => {
    const cli = parseCli(['--system', 'cinder,raw', '--cinder-from', `${dir},checks-off`]);
    if (cli === 'help') throw new Error('unexpected help');
    expect(cli.systems.map((s) => s.id)).toEqual(['cinder', 'raw', 'cinder_b']);
    expect(cli.systems[2]!.label).toBe('Cinder checks-off');
    expect(cli.cinderFrom).toEqual({ dir, label: 'checks-off' });
    const plain = parseCli(['--cinder-from', dir]);
    if (plain === 'help') throw new Error('unexpected help');
    expect(plain.systems.map((s) => s.id)).toEqual(['cinder', 'raw', 'grpc', 'pyro4', 'cinder_b']);
    const none = parseCli([]);
    if (none === 'help') throw new Error('unexpected help');
    expect(none.systems.map((s) => s.id)).not.toContain('cinder_b');
  });

  it('refuses an empty directory and a label that would break the table', () => {
    expect(() => parseCli(['--cinder-from', ',x'])).toThrow(BenchError);
    expect(() => parseCli(['--cinder-from', `${dir},a b`])).toThrow(/label/);
  });

  it('is unavailable, saying how to build it, when the directory has no built facade', async () => {
    const probe = await cinderFromSpec(join(dir, 'nothing-here')).probe();
    expect(probe.available).toBe(false);
    if (!probe.available) expect(probe.reason).toMatch(/build-variant\.sh/);
  });

  it('names a build by what build-variant.sh recorded, and passes its facade to both processes', async () => {
    const root = join(dir, 'variant');
    mkdirSync(join(root, 'packages', 'cinder', 'dist'), { recursive: true });
    writeFileSync(join(root, 'packages', 'cinder', 'dist', 'index.js'), 'export const x = 1;\n');
    writeFileSync(join(root, 'packages', 'cinder', 'package.json'), '{"version":"9.8.7"}\n');
    writeFileSync(
      join(root, '.bench-variant'),
      `commit=${'ab12cd3'.padEnd(40, '0')}\nsubject=s\npatch=checks-off.patch\nbuilt=now\n`,
    );
    const spec = cinderFromSpec(root);
    expect(spec.id).toBe('cinder_b');
    expect(spec.label).toBe('Cinder ab12cd3+checks-off');
    const probe = await spec.probe();
    expect(probe).toMatchObject({
      available: true,
      versions: { cinder: '9.8.7', label: 'ab12cd3+checks-off', dir: root, patches: 'checks-off.patch' },
    });
    const entry = join(root, 'packages', 'cinder', 'dist', 'index.js');
    const server = spec.serverCommand({ transport: 'tcp' });
    const client = spec.clientCommand({
      address: 'x',
      transport: 'tcp',
      serializer: 'cbor',
      runs: 1,
      scenarios: [],
    });
    for (const cmd of [server, client]) {
      const args = JSON.parse(cmd.args.at(-1)!) as { system: string; plan: { cinderEntry?: string } };
      expect(args.system).toBe('cinder_b');
      expect(args.plan.cinderEntry).toBe(entry);
      expect(cmd.clearEnvPrefixes).toEqual(['CINDER_']);
    }
    // this checkout's Cinder names no entry
    const own = JSON.parse(cinderSpec.serverCommand({ transport: 'tcp' }).args.at(-1)!) as {
      plan: { cinderEntry?: string };
    };
    expect(own.plan.cinderEntry).toBeUndefined();
  });

  it("serves with the other build's facade when the plan names it", async () => {
    // A stand-in facade that records what the server asked of it: proof that the entry is used.
    const entry = join(dir, 'fake-facade.mjs');
    writeFileSync(
      entry,
      [
        'export const calls = [];',
        'export const expose = (c) => c;',
        'export const oneway = (f) => f;',
        'export const Daemon = { async start(o) { calls.push(["start", o]); return {',
        '  register(obj, id) { calls.push(["register", id, typeof obj.ping]); return "PYRO:bench@fake:1"; },',
        '  async close(o) { calls.push(["close", o]); } }; } };',
        '',
      ].join('\n'),
    );
    const fake = (await loadCinder(entry)) as unknown as { calls: unknown[][] };
    const server = await cinderSystem.startServer({ transport: 'tcp', cinderEntry: entry });
    expect(server.address).toBe('PYRO:bench@fake:1');
    await server.close();
    expect(fake.calls).toEqual([
      ['start', { host: '127.0.0.1' }],
      ['register', 'bench', 'function'],
      ['close', { graceMs: 500 }],
    ]);
  });
});

describe('time limit (--until, --budget)', () => {
  const now = Date.UTC(2026, 11, 6, 22, 50, 0);

  it('reads HH:MM as the nearest such time in UTC, and minutes from now', () => {
    expect(parseDeadline('23:27', undefined, now)).toBe(Date.UTC(2026, 11, 6, 23, 27));
    expect(parseDeadline('0:10', undefined, now)).toBe(Date.UTC(2026, 11, 7, 0, 10));
    // a time just passed stays passed: the run does one round, not a day's worth
    expect(parseDeadline('22:40', undefined, now)).toBe(Date.UTC(2026, 11, 6, 22, 40));
    expect(parseDeadline('22:50', undefined, now)).toBe(now);
    expect(parseDeadline('23:00', undefined, Date.UTC(2026, 11, 7, 0, 30))).toBe(
      Date.UTC(2026, 11, 6, 23, 0),
    );
    expect(parseDeadline(undefined, '2.5', now)).toBe(now + 150_000);
    expect(parseDeadline(undefined, undefined, now)).toBeUndefined();
    expect(() => parseDeadline('24:00', undefined, now)).toThrow(/HH:MM/);
    expect(() => parseDeadline(undefined, '0', now)).toThrow(/minutes/);
    expect(() => parseDeadline('23:00', '5', now)).toThrow(/one of them/);
    const cli = parseCli(['--until', '23:27'], now);
    expect(cli !== 'help' && cli.deadline).toBe(Date.UTC(2026, 11, 6, 23, 27));
  });

  it('starts a round only if one as long as the longest so far ends in time', () => {
    expect(roundFits(now, [60_000], undefined)).toBe(true);
    expect(roundFits(now, [], now)).toBe(true);
    expect(roundFits(now, [60_000, 90_000], now + 90_000)).toBe(true);
    expect(roundFits(now, [60_000, 90_000], now + 89_999)).toBe(false);
  });

  it('stops a real run after the round in progress when the next would not fit', {
    timeout: 60_000,
  }, async () => {
    const jsonFile = join(dir, 'budget.json');
    const args = ['--quick', '--only', 'calls', '--system', 'raw', '--transport', 'tcp', '--runs', '3'];
    const child = startChild(mainFile, [...args, '--budget', '0.001', '--json', jsonFile]);
    expect(await child.exited, child.stderr()).toBe(0);
    expect(child.stderr()).toMatch(/stopping after 1 of 3 rounds/);
    const out = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
    expect(out.meta.runs).toBe(1);
    expect(out.meta.notes[0]).toMatch(/^1 of the 3 rounds asked for/);
    const calls = out.results.find((e) => e.scenario === 'calls_per_s')!;
    expect(calls.rounds).toEqual([0]);
  });
});

describe('--serializer system:serializer', () => {
  it('adds a serializer for one system only (cinder:x for both builds of Cinder)', () => {
    const chosen = ['cbor', 'msgpack', 'pyro4:marshal', 'cinder:json'];
    expect(serializerChosen(chosen, 'pyro4', 'marshal')).toBe(true);
    expect(serializerChosen(chosen, 'cinder', 'marshal')).toBe(false);
    expect(serializerChosen(chosen, 'pyro4', 'msgpack')).toBe(true);
    expect(serializerChosen(chosen, 'pyro4', 'json')).toBe(false);
    expect(serializerChosen(chosen, 'cinder', 'json')).toBe(true);
    expect(serializerChosen(chosen, 'cinder_b', 'json')).toBe(true);
    expect(serializerChosen(chosen, 'raw', 'none')).toBe(true);
    expect(serializerChosen(null, 'cinder', 'serpent')).toBe(true);
  });

  it('checks both halves on the command line', () => {
    const cli = parseCli(['--serializer', 'cbor,msgpack,pyro4:marshal']);
    expect(cli !== 'help' && cli.serializers).toEqual(['cbor', 'msgpack', 'pyro4:marshal']);
    expect(() => parseCli(['--serializer', 'pyro4:cbor'])).toThrow(/system:serializer/);
    expect(() => parseCli(['--serializer', 'nope:marshal'])).toThrow(/system:serializer/);
    expect(() => parseCli(['--serializer', 'raw:none'])).toThrow(/system:serializer/);
    expect(() => parseCli(['--serializer', 'cobr'])).toThrow(/unknown "cobr"/);
  });
});
