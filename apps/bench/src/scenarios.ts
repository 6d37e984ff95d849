// What the bench measures: the scenarios (units of work a client process runs), how many
// iterations each does per mode, and the figures (named results) derived from them. Every system
// runs exactly these counts, so figures are comparable across systems.
//
// The five headline scenarios follow Pyro4's 2011 manual (pyro-reference.md §3): 2000 release+rebind
// connections, 2000 new-proxy round-trip calls, 10000 sequential round-trip calls, 14 transfers of
// 500000×i bytes, and 20000×(multiply, add) sequential versus one batch.

export type ScenarioId =
  | 'connections'
  | 'new_proxy_calls'
  | 'calls'
  | 'oneway'
  | 'pipelined16'
  | 'pipelined128'
  | 'transfer'
  | 'batched';

export type TransportId = 'tcp' | 'unix' | 'tls';
export type Mode = 'full' | 'quick';

export const transportIds: readonly TransportId[] = ['tcp', 'unix', 'tls'];

export interface ScenarioDef {
  readonly id: ScenarioId;
  /** One line for --help and the report. */
  readonly title: string;
  /** Transports this scenario runs over (the transport variants cover calls and transfer only). */
  readonly transports: readonly TransportId[];
  /** Timed iterations per run (for `batched`: (multiply, add) pairs; for `transfer`: ignored). */
  readonly count: Readonly<Record<Mode, number>>;
  /** Untimed iterations before the first run (for `transfer`: how many of the sizes, largest first). */
  readonly warmup: Readonly<Record<Mode, number>>;
  /** Calls kept in flight on one connection (pipelined scenarios only). */
  readonly inFlight?: number;
  /**
   * Runs in its own server and client processes, whose peak RSS is then reported: a process's
   * VmHWM covers its whole life, so it only describes this scenario if nothing else ran there.
   */
  readonly isolated: boolean;
}

/** Pyro's hugetransfer: call i (1..14) sends 500000×i bytes; 52,500,000 bytes = 51269 KiB in all. */
export const TRANSFER_BASE_SIZE = 500_000;
export const TRANSFER_CALLS = 14;
export const transferSizes: readonly number[] = Array.from(
  { length: TRANSFER_CALLS },
  (_, i) => TRANSFER_BASE_SIZE * (i + 1),
);
export const TRANSFER_TOTAL_BYTES = transferSizes.reduce((a, b) => a + b, 0);

/** Payload of one raw/grpc ping: about the size of a small Pyro INVOKE body. */
export const PING_PAYLOAD_BYTES = 32;

const ALL: readonly TransportId[] = transportIds;
const TCP: readonly TransportId[] = ['tcp'];

export const scenarios: readonly ScenarioDef[] = [
  {
    id: 'connections',
    title: 'release + rebind: close, connect, handshake, no call',
    transports: TCP,
    count: { full: 2000, quick: 500 },
    warmup: { full: 200, quick: 50 },
    isolated: false,
  },
  {
    id: 'new_proxy_calls',
    title: 'new proxy + one round-trip call + close',
    transports: TCP,
    count: { full: 2000, quick: 500 },
    warmup: { full: 200, quick: 50 },
    isolated: false,
  },
  {
    id: 'calls',
    title: 'sequential round-trip calls on one connection (also gives latency percentiles)',
    transports: ALL,
    count: { full: 10_000, quick: 2000 },
    warmup: { full: 1000, quick: 200 },
    isolated: false,
  },
  {
    id: 'oneway',
    title: 'oneway calls on one connection, then one round trip as a barrier',
    transports: TCP,
    count: { full: 10_000, quick: 2000 },
    warmup: { full: 1000, quick: 200 },
    isolated: false,
  },
  {
    id: 'pipelined16',
    title: 'round-trip calls with 16 in flight on one connection',
    transports: TCP,
    count: { full: 50_000, quick: 5000 },
    warmup: { full: 5000, quick: 500 },
    inFlight: 16,
    isolated: false,
  },
  {
    id: 'pipelined128',
    title: 'round-trip calls with 128 in flight on one connection',
    transports: TCP,
    count: { full: 50_000, quick: 5000 },
    warmup: { full: 5000, quick: 500 },
    inFlight: 128,
    isolated: false,
  },
  {
    id: 'transfer',
    title: '14 calls sending 500000×i bytes (51269 KiB) as binary, small reply',
    transports: ALL,
    count: { full: TRANSFER_CALLS, quick: TRANSFER_CALLS },
    warmup: { full: 3, quick: 3 },
    isolated: true,
  },
  {
    id: 'batched',
    title: '(multiply, add) pairs sequentially, then the same calls as one batch',
    transports: TCP,
    count: { full: 20_000, quick: 2000 },
    warmup: { full: 1000, quick: 200 },
    isolated: false,
  },
];

export const scenarioIds: readonly ScenarioId[] = scenarios.map((s) => s.id);

export function scenarioDef(id: ScenarioId): ScenarioDef {
  const def = scenarios.find((s) => s.id === id);
  if (!def) throw new Error(`unknown scenario ${id}`);
  return def;
}

/** Runs per measurement; the figure is their median. */
export function runsFor(mode: Mode): number {
  return mode === 'quick' ? 1 : 3;
}

/**
 * Minimum warm-up time of a scenario, on top of its warm-up count (see harness.ts warmUp). The first
 * scenario of a client process needs the full time; later ones follow without an idle gap, so the
 * machine is already in its busy state and a quarter is enough.
 */
export function warmupMsFor(mode: Mode, firstInProcess: boolean): number {
  const full = mode === 'quick' ? 500 : 1500;
  return firstInProcess ? full : full / 4;
}

export type Better = 'higher' | 'lower';

export interface FigureDef {
  /** The `scenario` field of a JSON entry. */
  readonly name: string;
  /** The scenario whose runs produce it. */
  readonly scenario: ScenarioId;
  readonly unit: string;
  readonly better: Better;
  readonly title: string;
}

export const figures: readonly FigureDef[] = [
  {
    name: 'connections_per_s',
    scenario: 'connections',
    unit: 'conn/s',
    better: 'higher',
    title: 'connections',
  },
  {
    name: 'new_proxy_calls_per_s',
    scenario: 'new_proxy_calls',
    unit: 'calls/s',
    better: 'higher',
    title: 'new proxy calls',
  },
  { name: 'calls_per_s', scenario: 'calls', unit: 'calls/s', better: 'higher', title: 'sequential calls' },
  { name: 'latency_p50_us', scenario: 'calls', unit: 'us', better: 'lower', title: 'call latency p50' },
  { name: 'latency_p99_us', scenario: 'calls', unit: 'us', better: 'lower', title: 'call latency p99' },
  { name: 'latency_p999_us', scenario: 'calls', unit: 'us', better: 'lower', title: 'call latency p99.9' },
  {
    name: 'oneway_calls_per_s',
    scenario: 'oneway',
    unit: 'calls/s',
    better: 'higher',
    title: 'oneway calls',
  },
  {
    name: 'pipelined16_calls_per_s',
    scenario: 'pipelined16',
    unit: 'calls/s',
    better: 'higher',
    title: 'pipelined calls, 16 in flight',
  },
  {
    name: 'pipelined128_calls_per_s',
    scenario: 'pipelined128',
    unit: 'calls/s',
    better: 'higher',
    title: 'pipelined calls, 128 in flight',
  },
  // MB as Pyro's hugetransfer prints it: 2^20 bytes.
  { name: 'transfer_MB_per_s', scenario: 'transfer', unit: 'MiB/s', better: 'higher', title: 'transfer' },
  {
    name: 'transfer_peak_rss_server_MiB',
    scenario: 'transfer',
    unit: 'MiB',
    better: 'lower',
    title: 'peak RSS of the server (transfer)',
  },
  {
    name: 'transfer_peak_rss_client_MiB',
    scenario: 'transfer',
    unit: 'MiB',
    better: 'lower',
    title: 'peak RSS of the client (transfer)',
  },
  {
    name: 'batch_sequential_calls_per_s',
    scenario: 'batched',
    unit: 'calls/s',
    better: 'higher',
    title: 'batch scenario, sequential part',
  },
  {
    name: 'batched_calls_per_s',
    scenario: 'batched',
    unit: 'calls/s',
    better: 'higher',
    title: 'batched calls',
  },
  { name: 'batch_speedup', scenario: 'batched', unit: 'x', better: 'higher', title: 'batch speed-up' },
];

export function figureDef(name: string): FigureDef | undefined {
  return figures.find((f) => f.name === name);
}

/**
 * Resolves one `--only` word to scenarios: a scenario id, a figure name (which selects the scenario
 * producing it), or the shorthands `latency` and `pipelined`. Returns undefined for unknown words.
 */
export function resolveScenarioWord(word: string): ScenarioId[] | undefined {
  if ((scenarioIds as readonly string[]).includes(word)) return [word as ScenarioId];
  if (word === 'latency') return ['calls'];
  if (word === 'pipelined') return ['pipelined16', 'pipelined128'];
  const fig = figureDef(word);
  return fig ? [fig.scenario] : undefined;
}
