// Turns what the clients measured into figures (medians over runs), ratios to the baselines, and
// the three outputs: the text table, the JSON file, and a small hand-written SVG bar chart.

import type { MachineInfo } from './machine.js';
import type { BenchOutcome, RunRecord, SkipRecord } from './runner.js';
import {
  type Better,
  type FigureDef,
  figures,
  type Mode,
  type ScenarioId,
  type TransportId,
} from './scenarios.js';
import { type SystemId, systemIds } from './system.js';

/** How many times better a figure is than a baseline's: > 1 means better, whatever the unit. */
export interface Ratios {
  /** Against the best Pyro4 serializer for the same figure and transport. */
  pyro4_best?: number;
  raw?: number;
  grpc?: number;
}

export interface ResultEntry {
  /** The figure's name, e.g. `calls_per_s`. */
  scenario: string;
  system: SystemId;
  serializer: string;
  transport: TransportId;
  /** Median of `runs`. */
  value: number;
  unit: string;
  /** The figure of each run, in run order. */
  runs: number[];
  ratios: Ratios;
}

export interface RunMeta {
  date: string;
  mode: Mode;
  /** Runs per measurement; figures are their medians. */
  runs: number;
  argv: string[];
  machine: MachineInfo;
  node: string;
  /** Per system, e.g. pyro4 → { python, pyro4, serpent, msgpack }. */
  versions: Partial<Record<SystemId, Record<string, string>>>;
  iterations: Partial<Record<ScenarioId, { count: number; warmup: number; warmupMs: number }>>;
  notes: string[];
}

export interface BenchJson {
  meta: RunMeta;
  results: ResultEntry[];
  skipped: SkipRecord[];
  failed: SkipRecord[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A figure's value for one run, or undefined when the run does not carry it. */
function figureOfRun(fig: FigureDef, r: RunRecord): number | undefined {
  switch (fig.name) {
    case 'latency_p50_us':
      return r.latencyUs?.[0];
    case 'latency_p99_us':
      return r.latencyUs?.[1];
    case 'latency_p999_us':
      return r.latencyUs?.[2];
    case 'transfer_MB_per_s':
      return r.bytes === undefined ? undefined : r.bytes / 1048576 / r.seconds;
    case 'batch_sequential_calls_per_s':
      return r.seqSeconds === undefined ? undefined : r.count / r.seqSeconds;
    case 'batch_speedup':
      return r.seqSeconds === undefined ? undefined : r.seqSeconds / r.seconds;
    case 'transfer_peak_rss_server_MiB':
    case 'transfer_peak_rss_client_MiB':
      return undefined;
    case 'transfer_cpu_ms_per_MiB': {
      const cpu = cpuOfRun(r);
      return cpu === undefined || r.bytes === undefined ? undefined : cpu / 1000 / (r.bytes / 1048576);
    }
    case 'connections_cpu_us':
    case 'calls_cpu_us':
    case 'oneway_cpu_us':
    case 'pipelined128_cpu_us': {
      const cpu = cpuOfRun(r);
      return cpu === undefined ? undefined : cpu / r.count;
    }
    default:
      return r.count / r.seconds;
  }
}

/** Client plus server CPU microseconds of a run, when both were measured. */
function cpuOfRun(r: RunRecord): number | undefined {
  const server = r.cpuUs?.[1];
  return server === undefined || server === null ? undefined : r.cpuUs![0] + server;
}

const key = (...parts: string[]) => parts.join('\u0000');

/** Every figure the outcome supports, medians over runs, with ratios filled in. */
export function computeResults(outcome: BenchOutcome): ResultEntry[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of outcome.runs) {
    const k = key(r.system, r.serializer, r.transport, r.scenario);
    const list = groups.get(k) ?? [];
    list.push(r);
    groups.set(k, list);
  }
  const entries: ResultEntry[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.run - b.run);
    const first = list[0]!;
    for (const fig of figures) {
      if (fig.scenario !== first.scenario) continue;
      const runs: number[] = [];
      for (const r of list) {
        const v = figureOfRun(fig, r);
        if (v !== undefined && Number.isFinite(v)) runs.push(v);
      }
      if (runs.length === 0) continue;
      entries.push({
        scenario: fig.name,
        system: first.system,
        serializer: first.serializer,
        transport: first.transport,
        value: median(runs),
        unit: fig.unit,
        runs,
        ratios: {},
      });
    }
  }
  for (const r of outcome.rss) {
    const name = r.role === 'server' ? 'transfer_peak_rss_server_MiB' : 'transfer_peak_rss_client_MiB';
    const value = r.kib / 1024;
    entries.push({
      scenario: name,
      system: r.system,
      serializer: r.serializer,
      transport: r.transport,
      value,
      unit: 'MiB',
      runs: [value],
      ratios: {},
    });
  }
  sortEntries(entries);
  for (const e of entries) e.ratios = ratiosFor(e, entries);
  return entries;
}

function sortEntries(entries: ResultEntry[]): void {
  const figIndex = (name: string) => figures.findIndex((f) => f.name === name);
  const transports: readonly string[] = ['tcp', 'unix', 'tls'];
  entries.sort(
    (a, b) =>
      figIndex(a.scenario) - figIndex(b.scenario) ||
      transports.indexOf(a.transport) - transports.indexOf(b.transport) ||
      systemIds.indexOf(a.system) - systemIds.indexOf(b.system) ||
      a.serializer.localeCompare(b.serializer),
  );
}

function betterOf(name: string): Better {
  return figures.find((f) => f.name === name)?.better ?? 'higher';
}

/** The baseline's value for a figure: its best serializer (one entry for raw and grpc). */
export function baselineValue(
  entries: readonly ResultEntry[],
  figure: string,
  transport: TransportId,
  system: SystemId,
): ResultEntry | undefined {
  const better = betterOf(figure);
  let best: ResultEntry | undefined;
  for (const e of entries) {
    if (e.scenario !== figure || e.transport !== transport || e.system !== system) continue;
    if (!best || (better === 'higher' ? e.value > best.value : e.value < best.value)) best = e;
  }
  return best;
}

function ratiosFor(e: ResultEntry, entries: readonly ResultEntry[]): Ratios {
  const better = betterOf(e.scenario);
  const out: Ratios = {};
  const against = (system: SystemId): number | undefined => {
    if (system === e.system) return undefined;
    const base = baselineValue(entries, e.scenario, e.transport, system);
    if (!base || base.value <= 0 || e.value <= 0) return undefined;
    return better === 'higher' ? e.value / base.value : base.value / e.value;
  };
  const p = against('pyro4');
  const r = against('raw');
  const g = against('grpc');
  if (p !== undefined) out.pyro4_best = p;
  if (r !== undefined) out.raw = r;
  if (g !== undefined) out.grpc = g;
  return out;
}

/** Value with precision suited to its size, thousands separated. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(r: number | undefined): string {
  if (r === undefined) return '-';
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}x`;
}

/** The text table: every figure, its unit and its ratio to each baseline. */
export function renderTable(entries: readonly ResultEntry[], meta: RunMeta): string {
  const header = [
    'figure',
    'transport',
    'system',
    'serializer',
    'value',
    'unit',
    'vs Pyro4 best',
    'vs raw',
    'vs grpc',
  ];
  const rows: string[][] = [];
  let last = '';
  for (const e of entries) {
    if (last && last !== e.scenario) rows.push([]);
    last = e.scenario;
    rows.push([
      e.scenario,
      e.transport,
      e.system,
      e.serializer,
      formatValue(e.value),
      e.unit,
      formatRatio(e.ratios.pyro4_best),
      formatRatio(e.ratios.raw),
      formatRatio(e.ratios.grpc),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const right = new Set([4, 6, 7, 8]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) out.push(r.length === 0 ? '' : line(r));
  out.push('');
  out.push(
    `Medians of ${meta.runs} run${meta.runs === 1 ? '' : 's'} (${meta.mode} mode), warm-up excluded. ` +
      '"vs X": how many times better than baseline X (>1 = better, for rates and for latency/RSS alike).',
  );
  out.push(
    `${meta.machine.cpu} x${meta.machine.cores}, ${meta.machine.memoryMiB} MiB, node ${meta.node}` +
      (meta.versions.pyro4
        ? `, Python ${meta.versions.pyro4.python} Pyro4 ${meta.versions.pyro4.pyro4}`
        : '') +
      (meta.versions.grpc ? `, grpc-js ${meta.versions.grpc['grpc-js']}` : ''),
  );
  return out.join('\n');
}

export function renderNotMeasured(skipped: readonly SkipRecord[], failed: readonly SkipRecord[]): string {
  const fmt = (s: SkipRecord) =>
    `  ${[s.system, s.serializer, s.transport, s.scenario].filter(Boolean).join(' ')}: ${s.reason}`;
  const out: string[] = [];
  if (skipped.length > 0) out.push('Not measured:', ...skipped.map(fmt));
  if (failed.length > 0) out.push('FAILED:', ...failed.map(fmt));
  return out.join('\n');
}

export function toJson(
  meta: RunMeta,
  results: ResultEntry[],
  skipped: SkipRecord[],
  failed: SkipRecord[],
): BenchJson {
  return { meta, results, skipped, failed };
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The headline figures, after Pyro4's published ones: what the bench is for, charted first. */
export const headlineFigures: readonly string[] = [
  'connections_per_s',
  'new_proxy_calls_per_s',
  'calls_per_s',
  'transfer_MB_per_s',
  'batched_calls_per_s',
  'batch_speedup',
];

/** Figures drawn in the chart, over TCP. */
const chartFigures = [...headlineFigures, 'oneway_calls_per_s', 'pipelined128_calls_per_s', 'latency_p99_us'];

const colours: Record<SystemId, string> = {
  cinder: '#e4572e',
  raw: '#8d8d8d',
  grpc: '#2e86de',
  pyro4: '#3a9d23',
};

/**
 * A bar chart, one panel per figure, Cinder against the baselines (each system at its best
 * serializer). Bars are scaled per panel, since the units differ. When Cinder has no figure yet its
 * row says so instead of showing a bar.
 */
export function renderSvg(entries: readonly ResultEntry[], meta: RunMeta, cinderNote?: string): string {
  const width = 760;
  const labelW = 190;
  const barMax = 430;
  const rowH = 18;
  const parts: string[] = [];
  let y = 52;
  for (const name of chartFigures) {
    const fig = figures.find((f) => f.name === name)!;
    const bars = systemIds.map((system) => ({ system, best: baselineValue(entries, name, 'tcp', system) }));
    if (bars.every((b) => b.best === undefined || b.system === 'cinder')) continue;
    const max = Math.max(...bars.map((b) => b.best?.value ?? 0));
    parts.push(
      `<text x="10" y="${y + 13}" class="t">${xml(fig.title)} (${xml(fig.unit)}, ${fig.better} is better)</text>`,
    );
    y += rowH + 2;
    for (const { system, best } of bars) {
      // Cinder keeps its row while it has no figures, so the chart says why; other systems drop out.
      if (!best && (system !== 'cinder' || cinderNote === undefined)) continue;
      const label = best && best.serializer !== 'none' ? `${system} (${best.serializer})` : system;
      parts.push(`<text x="${labelW - 8}" y="${y + 13}" class="l">${xml(label)}</text>`);
      if (best) {
        const w = Math.max(1, Math.round((best.value / max) * barMax));
        parts.push(
          `<rect x="${labelW}" y="${y + 2}" width="${w}" height="${rowH - 4}" fill="${colours[system]}"/>`,
          `<text x="${labelW + w + 6}" y="${y + 13}" class="v">${xml(formatValue(best.value))}</text>`,
        );
      } else {
        parts.push(`<text x="${labelW}" y="${y + 13}" class="n">${xml(cinderNote ?? '')}</text>`);
      }
      y += rowH;
    }
    y += 10;
  }
  const title = `Cinder bench — ${meta.date.slice(0, 10)}, ${meta.mode} mode, medians of ${meta.runs} run(s)`;
  const sub = `${meta.machine.cpu} x${meta.machine.cores}, node ${meta.node}; TCP over loopback; bars scaled per panel`;
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<style>text{font-family:sans-serif;font-size:12px;fill:#222}.t{font-weight:bold}.l{text-anchor:end}' +
      '.h{font-size:15px;font-weight:bold}.s{fill:#555}.n{fill:#999;font-style:italic}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" class="h">${xml(title)}</text>`,
    `<text x="10" y="38" class="s">${xml(sub)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
