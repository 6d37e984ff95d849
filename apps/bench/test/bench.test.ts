// The bench end to end, as `pnpm bench` runs it but from the TypeScript sources: a quick run limited
// to two scenarios over TCP, checked for a well-formed JSON file and positive figures (not speed).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, expect, it } from 'vitest';
import type { BenchJson } from '../src/index.js';
import { headlineFigures } from '../src/report.js';
import { figures } from '../src/scenarios.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = scratchDir('bench-test');
/** The scenarios that produce the headline figures (the `--only` of the headline run). */
const HEADLINE_SCENARIOS = 'connections,new_proxy_calls,calls,transfer,batched';

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

function pyro4Available(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-E', '-c', 'import Pyro4'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Every figure is finite and positive, but page faults, which are a count that can be zero (a server
 * whose allocator reused every freed buffer took none).
 */
const plausible = (e: { scenario: string; value: number }): boolean =>
  Number.isFinite(e.value) && (e.scenario === 'transfer_server_faults_per_MiB' ? e.value >= 0 : e.value > 0);

it('runs a quick bench and writes well-formed JSON with positive figures', { timeout: 120_000 }, async () => {
  const jsonFile = join(dir, 'bench.json');
  const svgFile = join(dir, 'bench.svg');
  const args = ['--quick', '--only', 'calls,transfer', '--transport', 'tcp', '--serializer', 'marshal'];
  const child = startChild(main, [...args, '--json', jsonFile, '--svg', svgFile]);
  const code = await child.exited;
  expect(code, child.stderr()).toBe(0);

  const out = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
  expect(out.meta).toMatchObject({ mode: 'quick', runs: 1, node: process.version });
  expect(out.meta.machine.cores).toBeGreaterThan(0);
  expect(Number.isNaN(Date.parse(out.meta.date))).toBe(false);
  expect(out.failed).toEqual([]);

  const known = new Map(figures.map((f) => [f.name, f]));
  for (const e of out.results) {
    expect(Object.keys(e)).toEqual(
      expect.arrayContaining(['scenario', 'system', 'serializer', 'transport', 'value', 'unit']),
    );
    expect(known.get(e.scenario)?.unit, e.scenario).toBe(e.unit);
    expect(['calls', 'transfer']).toContain(known.get(e.scenario)?.scenario);
    expect(e.transport).toBe('tcp');
    expect(plausible(e), `${e.system} ${e.scenario} = ${e.value}`).toBe(true);
    expect(e.runs).toHaveLength(1);
  }

  const produced = (system: string) =>
    new Set(out.results.filter((e) => e.system === system).map((e) => e.scenario));
  const callAndTransfer = figures
    .filter((f) => f.scenario === 'calls' || f.scenario === 'transfer')
    .map((f) => f.name);
  expect([...produced('raw')].sort()).toEqual([...callAndTransfer].sort());
  expect([...produced('grpc')].sort()).toEqual([...callAndTransfer].sort());
  if (pyro4Available()) {
    expect([...produced('pyro4')].sort()).toEqual([...callAndTransfer].sort());
    expect(out.meta.versions.pyro4?.pyro4).toMatch(/^4\./);
    expect(out.results.filter((e) => e.system === 'pyro4').every((e) => e.serializer === 'marshal')).toBe(
      true,
    );
  }
  expect([...produced('cinder')].sort()).toEqual([...callAndTransfer].sort());
  expect(out.meta.versions.cinder?.cinder).toMatch(/^\d+\.\d+\.\d+/);

  const raw = out.results.find((e) => e.system === 'raw' && e.scenario === 'calls_per_s')!;
  const grpc = out.results.find((e) => e.system === 'grpc' && e.scenario === 'calls_per_s')!;
  expect(grpc.ratios.raw).toBeCloseTo(grpc.value / raw.value, 9);
  const cinder = out.results.find((e) => e.system === 'cinder' && e.scenario === 'transfer_MB_per_s')!;
  const rawTransfer = out.results.find((e) => e.system === 'raw' && e.scenario === 'transfer_MB_per_s')!;
  expect(cinder.ratios.raw).toBeCloseTo(cinder.value / rawTransfer.value, 9);
  expect(cinder.ratios.grpc).toBeGreaterThan(0);
  if (pyro4Available()) {
    const pyro4 = out.results.find((e) => e.system === 'pyro4' && e.scenario === 'transfer_MB_per_s')!;
    expect(cinder.ratios.pyro4_best).toBeCloseTo(cinder.value / pyro4.value, 9);
  }

  const table = child.lines.join('\n');
  expect(table).toMatch(/^calls_per_s\s+tcp\s+raw\s+none/m);
  expect(readFileSync(svgFile, 'utf8')).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
});

it('has the headline figures the issue asks for, each from a scenario the next test runs', () => {
  const required = [
    'connections_per_s',
    'new_proxy_calls_per_s',
    'calls_per_s',
    'transfer_MB_per_s',
    'batched_calls_per_s',
    'batch_speedup',
  ];
  expect(headlineFigures).toEqual(expect.arrayContaining(required));
  for (const name of headlineFigures) {
    const scenario = figures.find((f) => f.name === name)?.scenario;
    expect(HEADLINE_SCENARIOS.split(','), name).toContain(scenario);
  }
});

it("gives Cinder's headline figures, each positive", {
  timeout: 120_000,
}, async () => {
  const jsonFile = join(dir, 'cinder.json');
  const args = [
    '--quick',
    '--system',
    'cinder',
    '--only',
    HEADLINE_SCENARIOS,
    '--transport',
    'tcp',
    '--serializer',
    'cbor',
  ];
  const child = startChild(main, [...args, '--json', jsonFile]);
  const code = await child.exited;
  expect(code, child.stderr()).toBe(0);

  const out = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
  expect(out.failed).toEqual([]);
  expect(out.skipped.filter((s) => s.system === 'cinder')).toEqual([]);
  const cinder = out.results.filter((e) => e.system === 'cinder');
  for (const e of cinder) {
    expect(e).toMatchObject({ serializer: 'cbor', transport: 'tcp' });
    expect(plausible(e), `${e.scenario} = ${e.value}`).toBe(true);
  }
  const names = new Set(cinder.map((e) => e.scenario));
  for (const headline of [
    ...headlineFigures,
    'transfer_peak_rss_server_MiB',
    'transfer_peak_rss_client_MiB',
    'transfer_server_faults_per_MiB',
    'connections_server_sleeps',
    'connections_client_sleeps',
  ]) {
    expect(names, headline).toContain(headline);
  }
  expect(child.lines.join('\n')).toMatch(/^batched_calls_per_s\s+tcp\s+cinder\s+cbor/m);
});

it('runs the many-clients scenario and a transfer-curve point against Pyro4', {
  timeout: 60_000,
}, async (ctx) => {
  if (!pyro4Available()) {
    ctx.skip('Pyro4 is not installed');
    return;
  }
  const jsonFile = join(dir, 'pyro4-clients.json');
  const args = ['--quick', '--system', 'pyro4', '--only', 'clients64,curve_64KiB', '--serializer', 'marshal'];
  const child = startChild(main, [...args, '--transport', 'tcp', '--json', jsonFile]);
  expect(await child.exited, child.stderr()).toBe(0);
  const out = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
  expect(out.failed).toEqual([]);
  expect(out.results.map((e) => e.scenario).sort()).toEqual([
    'clients64_calls_per_s',
    'clients64_cpu_us',
    'curve_64KiB_MiB_per_s',
    'curve_64KiB_cpu_ms_per_MiB',
  ]);
  for (const e of out.results) expect(e.value, e.scenario).toBeGreaterThan(0);
});

/** Pids of the live children of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

it('stops its server and client when interrupted', { timeout: 60_000 }, async () => {
  const child = startChild(main, ['--system', 'raw', '--only', 'calls', '--transport', 'tcp']);
  const deadline = Date.now() + 30_000;
  while (!/: calls\n/.test(child.stderr())) {
    if (Date.now() > deadline) throw new Error(`no progress line; stderr:\n${child.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pids = childrenOf(child.child.pid!);
  expect(pids.length).toBeGreaterThanOrEqual(2);
  child.child.kill('SIGINT');
  expect(await child.exited).toBe(130);
  expect(child.stderr()).toContain('bench interrupted (SIGINT)');
  const stillThere = () => pids.filter((p) => existsSync(`/proc/${p}`));
  for (let i = 0; i < 50 && stillThere().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(stillThere()).toEqual([]);
});
