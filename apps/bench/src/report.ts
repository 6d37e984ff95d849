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
  /**
   * This checkout's Cinder against another build of it (`--cinder-from`), same serializer and
   * transport; only on `cinder` entries.
   */
  cinder_b?: number;
}

export type Baseline = keyof Ratios;
export const baselines: readonly Baseline[] = ['pyro4_best', 'raw', 'grpc', 'cinder_b'];

export interface ResultEntry {
  /** The figure's name, e.g. `calls_per_s`. */
  scenario: string;
  system: SystemId;
  serializer: string;
  transport: TransportId;
  /** Median of `runs`. */
  value: number;
  /** Smallest and largest of `runs`. */
  min: number;
  max: number;
  unit: string;
  /** The figure of each round it was measured in, in round order. */
  runs: number[];
  /** The round (0-based) of each of `runs`. */
  rounds: number[];
  /** Median over the rounds of the ratio taken within each round. */
  ratios: Ratios;
  /** Smallest and largest within-round ratio. */
  ratioRanges: Partial<Record<Baseline, [number, number]>>;
  /**
   * Baselines whose comparison the data does not support: the within-round ratios spread wider
   * than the median ratio's margin from parity (see supported()), e.g. rounds that disagree on
   * which is better.
   */
  unsupported: Baseline[];
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
      return mibPerS(r);
    case 'batch_sequential_calls_per_s':
      return r.seqSeconds === undefined ? undefined : r.count / r.seqSeconds;
    case 'batch_speedup':
      return r.seqSeconds === undefined ? undefined : r.seqSeconds / r.seconds;
    case 'transfer_server_faults_per_MiB': {
      const server = r.faults?.[1];
      return server === undefined || server === null || r.bytes === undefined
        ? undefined
        : server / (r.bytes / 1048576);
    }
    case 'connections_server_sleeps':
    case 'connections_client_sleeps': {
      const n = r.sleeps?.[fig.name === 'connections_server_sleeps' ? 1 : 0];
      return n === undefined || n === null ? undefined : n / r.count;
    }
    case 'transfer_peak_rss_server_MiB':
    case 'transfer_peak_rss_client_MiB':
      return undefined;
    default: {
      // curve_<size>_MiB_per_s, and CPU per MiB: transfer_cpu_ms_per_MiB, curve_<size>_cpu_ms_per_MiB
      if (fig.name.endsWith('_MiB_per_s')) return mibPerS(r);
      if (fig.name.endsWith('_cpu_ms_per_MiB')) {
        const cpu = cpuOfRun(r);
        return cpu === undefined || r.bytes === undefined ? undefined : cpu / 1000 / (r.bytes / 1048576);
      }
      if (!fig.name.endsWith('_cpu_us')) return r.count / r.seconds;
      // CPU microseconds per operation: connections_cpu_us, calls_cpu_us, clients64_cpu_us, …
      const cpu = cpuOfRun(r);
      return cpu === undefined ? undefined : cpu / r.count;
    }
  }
}

function mibPerS(r: RunRecord): number | undefined {
  return r.bytes === undefined ? undefined : r.bytes / 1048576 / r.seconds;
}

/** Client plus server CPU microseconds of a run, when both were measured. */
function cpuOfRun(r: RunRecord): number | undefined {
  const server = r.cpuUs?.[1];
  return server === undefined || server === null ? undefined : r.cpuUs![0] + server;
}

const key = (...parts: string[]) => parts.join('\u0000');

/** How far a figure moved between rounds, relative to its median: (max − min) / median. */
export function spread(e: Pick<ResultEntry, 'value' | 'min' | 'max'>): number {
  return e.value > 0 ? (e.max - e.min) / e.value : 0;
}

function entryOf(
  name: string,
  unit: string,
  where: Pick<RunRecord, 'system' | 'serializer' | 'transport'>,
  byRound: ReadonlyMap<number, number>,
): ResultEntry {
  const rounds = [...byRound.keys()].sort((a, b) => a - b);
  const runs = rounds.map((r) => byRound.get(r)!);
  return {
    scenario: name,
    system: where.system,
    serializer: where.serializer,
    transport: where.transport,
    value: median(runs),
    min: Math.min(...runs),
    max: Math.max(...runs),
    unit,
    runs,
    rounds,
    ratios: {},
    ratioRanges: {},
    unsupported: [],
  };
}

/** Every figure the outcome supports, medians over rounds, with ratios filled in. */
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
    const first = list[0]!;
    for (const fig of figures) {
      if (fig.scenario !== first.scenario) continue;
      const byRound = new Map<number, number>();
      for (const r of list) {
        const v = figureOfRun(fig, r);
        if (v !== undefined && Number.isFinite(v)) byRound.set(r.run, v);
      }
      if (byRound.size > 0) entries.push(entryOf(fig.name, fig.unit, first, byRound));
    }
  }
  const rss = new Map<string, { where: BenchOutcome['rss'][number]; byRound: Map<number, number> }>();
  for (const r of outcome.rss) {
    const name = r.role === 'server' ? 'transfer_peak_rss_server_MiB' : 'transfer_peak_rss_client_MiB';
    const k = key(name, r.system, r.serializer, r.transport);
    const g = rss.get(k) ?? { where: r, byRound: new Map<number, number>() };
    g.byRound.set(r.round, r.kib / 1024);
    rss.set(k, g);
  }
  for (const [k, g] of rss) entries.push(entryOf(k.split('\u0000')[0]!, 'MiB', g.where, g.byRound));
  sortEntries(entries);
  for (const e of entries) fillRatios(e, entries);
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

/**
 * Whether within-round ratios support their conclusion: their spread, as a factor (hi / lo), must be
 * no wider than the median ratio's margin from parity (r, or 1 / r when r < 1). Rounds that disagree
 * on which is better (lo < 1 < hi) never pass. On a log scale: ln(hi / lo) <= |ln r|.
 */
export function supported(ratio: number, lo: number, hi: number): boolean {
  return Math.log(hi / lo) <= Math.abs(Math.log(ratio));
}

const baselineSystem: Record<Baseline, SystemId> = {
  pyro4_best: 'pyro4',
  raw: 'raw',
  grpc: 'grpc',
  cinder_b: 'cinder_b',
};

/**
 * What `e` is compared with for baseline `b`: the baseline's best serializer, except for the other
 * build of Cinder, which is compared with this one serializer for serializer (and nothing else is).
 */
function baselineFor(e: ResultEntry, b: Baseline, entries: readonly ResultEntry[]): ResultEntry | undefined {
  const system = baselineSystem[b];
  if (system === e.system) return undefined;
  if (b !== 'cinder_b') return baselineValue(entries, e.scenario, e.transport, system);
  if (e.system !== 'cinder') return undefined;
  return entries.find(
    (o) =>
      o.system === 'cinder_b' &&
      o.scenario === e.scenario &&
      o.transport === e.transport &&
      o.serializer === e.serializer,
  );
}

/**
 * Figures reported as they are, without ratios: page faults and sleeps are counts that explain a
 * figure (why a round was slow; what a connection's wake-ups cost) rather than measure speed, and
 * page faults are often zero for a baseline (a ratio to zero says nothing).
 */
const countsOnly: ReadonlySet<string> = new Set([
  'transfer_server_faults_per_MiB',
  'connections_server_sleeps',
  'connections_client_sleeps',
]);

/**
 * Ratios to each baseline, taken within each round (both measured in it) and then summarised: the
 * median, the range, and whether the data supports the conclusion (see ResultEntry.unsupported).
 */
function fillRatios(e: ResultEntry, entries: readonly ResultEntry[]): void {
  if (countsOnly.has(e.scenario)) return;
  for (const b of baselines) {
    const base = baselineFor(e, b, entries);
    if (!base) continue;
    const perRound = perRoundRatios(e, base);
    if (perRound.length === 0) continue;
    const ratio = median(perRound);
    const lo = Math.min(...perRound);
    const hi = Math.max(...perRound);
    e.ratios[b] = ratio;
    e.ratioRanges[b] = [lo, hi];
    if (!supported(ratio, lo, hi)) e.unsupported.push(b);
  }
}

/**
 * How many times better `e` is than `base` in each round both were measured in (> 1 = better,
 * whether the figure is a rate or a cost), in round order.
 */
export function perRoundRatios(e: ResultEntry, base: ResultEntry): number[] {
  const better = betterOf(e.scenario);
  const out: number[] = [];
  for (const [i, round] of e.rounds.entries()) {
    const j = base.rounds.indexOf(round);
    const mine = e.runs[i]!;
    const theirs = j < 0 ? undefined : base.runs[j]!;
    if (theirs === undefined || theirs <= 0 || mine <= 0) continue;
    out.push(better === 'higher' ? mine / theirs : theirs / mine);
  }
  return out;
}

/**
 * An interval that holds the median of the distribution `values` were drawn from with at least 95%
 * confidence, assuming only independent rounds: the k-th smallest and k-th largest value, for the
 * largest k with 2·P(Binomial(n, ½) ≤ k−1) ≤ 0.05. Undefined below 6 values, where even the min–max
 * range has less than 95% confidence.
 */
export function medianInterval(values: readonly number[]): [number, number] | undefined {
  const n = values.length;
  if (n < 6) return undefined;
  // P(X <= j) for X ~ Binomial(n, 1/2), accumulated term by term
  let term = 0.5 ** n; // P(X = 0)
  let below = term; // P(X <= k - 1), starting with k = 1
  let k = 1;
  while (k < n / 2) {
    term = (term * (n - k + 1)) / k; // P(X = k)
    if (2 * (below + term) > 0.05) break;
    below += term;
    k++;
  }
  const s = [...values].sort((x, y) => x - y);
  return [s[k - 1]!, s[n - k]!];
}

/** Value with precision suited to its size, thousands separated. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratioNumber(r: number): string {
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3);
}

/** `0.450x`, or with rounds `0.450x (0.41–0.52)`, and a `?` when the data does not support it. */
export function formatRatio(e: ResultEntry, b: Baseline): string {
  const r = e.ratios[b];
  if (r === undefined) return '-';
  const range = e.ratioRanges[b];
  const spanned = range && e.runs.length > 1 ? ` (${ratioNumber(range[0])}–${ratioNumber(range[1])})` : '';
  return `${ratioNumber(r)}x${spanned}${e.unsupported.includes(b) ? '?' : ''}`;
}

/** The median, and with rounds its range: `1,234 (1,100–1,400)`. */
export function formatSpread(e: ResultEntry): string {
  if (e.runs.length < 2) return formatValue(e.value);
  return `${formatValue(e.value)} (${formatValue(e.min)}–${formatValue(e.max)})`;
}

/** The text table: every figure, its unit and its ratio to each baseline. */
export function renderTable(entries: readonly ResultEntry[], meta: RunMeta): string {
  const withB = entries.some((e) => e.ratios.cinder_b !== undefined);
  const header = [
    'figure',
    'transport',
    'system',
    'serializer',
    'median (min–max)',
    'unit',
    'vs Pyro4 best',
    'vs raw',
    'vs grpc',
    ...(withB ? [`vs ${labelOfB(meta)}`] : []),
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
      formatSpread(e),
      e.unit,
      formatRatio(e, 'pyro4_best'),
      formatRatio(e, 'raw'),
      formatRatio(e, 'grpc'),
      ...(withB ? [formatRatio(e, 'cinder_b')] : []),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const right = new Set([4, 6, 7, 8, 9]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) out.push(r.length === 0 ? '' : line(r));
  out.push('');
  out.push(
    `${meta.runs} round${meta.runs === 1 ? '' : 's'} (${meta.mode} mode), each measuring every system once with a fresh ` +
      'process pair, alternating order; warm-up excluded. Values: median (min–max) over the rounds.',
  );
  out.push(
    '"vs X": how many times better than baseline X (>1 = better, for rates and for latency/RSS alike), ' +
      'the median (min–max) of the ratios taken within each round. "?": not supported by the data ' +
      '(the ratios spread wider than their margin from parity: max/min > r or 1/r).',
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

/** The other build's name (`--cinder-from DIR,label`), as its probe recorded it. */
export function labelOfB(meta: Pick<RunMeta, 'versions'>): string {
  return meta.versions.cinder_b?.['label'] ?? 'cinder_b';
}

/**
 * The A/B of the two builds of Cinder (`--cinder-from`), figure by figure, side by side: this
 * checkout's (A) and the other's (B) medians with their ranges, then A against B within each round
 * (> 1 = A better), summarised and listed round by round. Empty without a `cinder_b` system.
 */
export function renderComparison(entries: readonly ResultEntry[], meta: RunMeta): string {
  const label = labelOfB(meta);
  const rows: string[][] = [];
  for (const a of entries) {
    const b = a.system === 'cinder' ? baselineFor(a, 'cinder_b', entries) : undefined;
    if (!b) continue;
    const perRound = perRoundRatios(a, b);
    const ci = medianInterval(perRound);
    rows.push([
      a.scenario,
      a.transport,
      a.serializer,
      formatSpread(a),
      formatSpread(b),
      a.unit,
      formatRatio(a, 'cinder_b'),
      ci ? `${ci[0].toFixed(3)}–${ci[1].toFixed(3)}` : '-',
      perRound.map((r) => r.toFixed(3)).join(' '),
    ]);
  }
  if (rows.length === 0) return '';
  const header = [
    'figure',
    'transport',
    'serializer',
    'A: this checkout',
    `B: ${label}`,
    'unit',
    'A vs B',
    '95% CI',
    'per round',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([3, 4, 6, 7]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const v = meta.versions.cinder_b ?? {};
  const what = [v['dir'], v['commit'] && `commit ${v['commit']}`, v['patches'] && `patches ${v['patches']}`]
    .filter(Boolean)
    .join(', ');
  return [
    `A/B: this checkout's Cinder (A) against ${label} (B${what ? `: ${what}` : ''}), same harness, alternated round by round.`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '"A vs B": how many times better A is than B (>1 = A better, for rates and costs alike), median (min–max) ' +
      'of the per-round ratios listed under "per round" (round order); "?": not supported by the data. ' +
      '"95% CI": a distribution-free interval holding the median per-round ratio with at least 95% confidence ' +
      '(order statistics of the rounds, sign-test style; 6 rounds or more, "-" with fewer).',
  ].join('\n');
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
  cinder_b: '#f2a65a',
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
