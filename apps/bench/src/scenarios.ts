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
  | 'batched'
  | 'clients1'
  | 'clients8'
  | 'clients64'
  | CurveId;

/** The transfer curve's payload sizes: 1 KiB to 16 MiB in powers of 4. */
export const curveSizes = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24] as const;
export type CurveLabel = '1KiB' | '4KiB' | '16KiB' | '64KiB' | '256KiB' | '1MiB' | '4MiB' | '16MiB';
export type CurveId = `curve_${CurveLabel}`;

/** `1KiB`, `256KiB`, `16MiB`. */
export function sizeLabel(bytes: number): CurveLabel {
  return (bytes >= 1 << 20 ? `${bytes / (1 << 20)}MiB` : `${bytes / 1024}KiB`) as CurveLabel;
}

export const curveIds: readonly CurveId[] = curveSizes.map((n) => `curve_${sizeLabel(n)}` as const);

export function isCurve(id: string): id is CurveId {
  return (curveIds as readonly string[]).includes(id);
}

/** The payload size of a curve scenario. */
export function curveSize(id: CurveId): number {
  return curveSizes[curveIds.indexOf(id)]!;
}

/**
 * Calls per curve point: enough to move about 256 MiB (32 MiB quick), at least 4 and at most 2000
 * (500 quick), so that small payloads measure a rate, large ones stay within about a second, and
 * the server's CPU time (read in 10 ms ticks) is tens of ticks even at 1 ms per MiB.
 */
function curveCounts(size: number): readonly [number, number] {
  const calls = (bytes: number, max: number) => Math.max(4, Math.min(max, Math.round(bytes / size)));
  return [calls(256 << 20, 2000), calls(32 << 20, 500)];
}

export type TransportId = 'tcp' | 'unix' | 'tls';
export type Mode = 'full' | 'quick';

export const transportIds: readonly TransportId[] = ['tcp', 'unix', 'tls'];

export interface ScenarioDef {
  readonly id: ScenarioId;
  /** One line for --help and the report. */
  readonly title: string;
  /** Transports this scenario runs over (the transport variants cover calls and transfer only). */
  readonly transports: readonly TransportId[];
  /**
   * Timed iterations per run (for `batched`: (multiply, add) pairs; for `transfer`: passes over the
   * 14 sizes, so that a run lasts long enough to measure — see TRANSFER_PASSES).
   */
  readonly count: Readonly<Record<Mode, number>>;
  /** Untimed iterations before the first run (for `transfer`: how many of the sizes, largest first). */
  readonly warmup: Readonly<Record<Mode, number>>;
  /** Calls kept in flight on one connection (pipelined scenarios only). */
  readonly inFlight?: number;
  /** Client connections, each calling in a loop (the many-clients scenarios only). */
  readonly clients?: number;
  /**
   * Runs in its own server and client processes, whose peak RSS is then reported: a process's
   * VmHWM covers its whole life, so it only describes this scenario if nothing else ran there.
   */
  readonly isolated: boolean;
  /**
   * Scenarios of one group share a server and client process pair (isolated ones are a group of
   * their own, named after the scenario).
   */
  readonly group: string;
}

/** Pyro's hugetransfer: call i (1..14) sends 500000×i bytes; 52,500,000 bytes = 51269 KiB in all. */
export const TRANSFER_BASE_SIZE = 500_000;
export const TRANSFER_CALLS = 14;
export const transferSizes: readonly number[] = Array.from(
  { length: TRANSFER_CALLS },
  (_, i) => TRANSFER_BASE_SIZE * (i + 1),
);
export const TRANSFER_TOTAL_BYTES = transferSizes.reduce((a, b) => a + b, 0);
/**
 * A transfer run makes the 14 calls this many times (full mode; quick: once). One pass moves 50 MiB
 * in about 50 ms here: the server's CPU, read from /proc in 10 ms ticks, was then 2-6 ticks, one
 * scheduler stall moved the rate by 20%, and whether one of the receiver's garbage collections (a
 * Node receiver collects every 16 MiB or so of message buffers) fell inside the run decided much
 * of the figure. Four passes (200 MiB) average these out for every system alike.
 */
export const TRANSFER_PASSES = 4;

/** Payload of one raw/grpc ping: about the size of a small Pyro INVOKE body. */
export const PING_PAYLOAD_BYTES = 32;

const ALL: readonly TransportId[] = transportIds;
const TCP: readonly TransportId[] = ['tcp'];

/** Each scenario's line for --help and the report. */
const titles: Readonly<Record<ScenarioId, string>> = {
  connections: 'release + rebind: close, connect, handshake, no call',
  new_proxy_calls: 'new proxy + one round-trip call + close',
  calls: 'sequential round-trip calls on one connection (also gives latency percentiles)',
  oneway: 'oneway calls on one connection, then one round trip as a barrier',
  pipelined16: 'round-trip calls with 16 in flight on one connection',
  pipelined128: 'round-trip calls with 128 in flight on one connection',
  transfer: `14 calls sending 500000×i bytes (51269 KiB) as binary, small reply; ${TRANSFER_PASSES} passes per run (1 in quick mode)`,
  batched: '(multiply, add) pairs sequentially, then the same calls as one batch',
  clients1: '1 client connection calling in a loop (the reference for clients8 and clients64)',
  clients8: '8 client connections at once, each calling in a loop',
  clients64: '64 client connections at once, each calling in a loop',
  ...(Object.fromEntries(
    curveSizes.map((n) => [
      `curve_${sizeLabel(n)}`,
      `transfer curve: calls sending ${sizeLabel(n)} each as binary, small reply`,
    ]),
  ) as Record<CurveId, string>),
};

/** [full, quick] */
type Counts = readonly [number, number];
/** One row per scenario, in report order: id, transports, count, warm-up, extras. */
type ScenarioRow = readonly [
  ScenarioId,
  readonly TransportId[],
  Counts,
  Counts,
  { inFlight?: number; isolated?: boolean; clients?: number; group?: string }?,
];

const scenarioRows: readonly ScenarioRow[] = [
  ['connections', TCP, [2000, 500], [200, 50]],
  ['new_proxy_calls', TCP, [2000, 500], [200, 50]],
  ['calls', ALL, [10_000, 2000], [1000, 200]],
  ['oneway', TCP, [10_000, 2000], [1000, 200]],
  ['pipelined16', TCP, [50_000, 5000], [5000, 500], { inFlight: 16 }],
  ['pipelined128', TCP, [50_000, 5000], [5000, 500], { inFlight: 128 }],
  ['transfer', ALL, [TRANSFER_PASSES, 1], [3, 3], { isolated: true }],
  ['batched', TCP, [20_000, 2000], [1000, 200]],
  // Many clients: one client process holds the connections (Node: one async loop per connection;
  // Pyro4: one thread per proxy), against one server; calls are counted over all connections.
  ['clients1', TCP, [20_000, 3000], [1000, 300], { clients: 1, group: 'clients' }],
  ['clients8', TCP, [20_000, 3000], [1000, 300], { clients: 8, group: 'clients' }],
  ['clients64', TCP, [20_000, 3000], [2000, 300], { clients: 64, group: 'clients' }],
  // The transfer curve: one process pair for all its points, smallest first.
  ...curveSizes.map((size): ScenarioRow => {
    const [full, quick] = curveCounts(size);
    const warm = (n: number) => Math.max(2, Math.round(n / 4));
    return [`curve_${sizeLabel(size)}`, TCP, [full, quick], [warm(full), warm(quick)], { group: 'curve' }];
  }),
];

export const scenarios: readonly ScenarioDef[] = scenarioRows.map(
  ([id, transports, [full, quick], [warmFull, warmQuick], extra = {}]) => ({
    id,
    title: titles[id],
    transports,
    count: { full, quick },
    warmup: { full: warmFull, quick: warmQuick },
    ...(extra.inFlight !== undefined ? { inFlight: extra.inFlight } : {}),
    ...(extra.clients !== undefined ? { clients: extra.clients } : {}),
    isolated: extra.isolated ?? false,
    group: extra.isolated ? id : (extra.group ?? 'main'),
  }),
);

export const scenarioIds: readonly ScenarioId[] = scenarios.map((s) => s.id);

export function scenarioDef(id: ScenarioId): ScenarioDef {
  const def = scenarios.find((s) => s.id === id);
  if (!def) throw new Error(`unknown scenario ${id}`);
  return def;
}

/**
 * A system's `scenarios(transport, serializer)`: every scenario that runs over the transport, in
 * report order, but those in `except` (what the system has no counterpart for), and the transfer
 * curve only with `curveSerializers` (all of them when not given).
 */
export function systemScenarios(
  except: readonly ScenarioId[] = [],
  curveSerializers?: readonly string[],
): (transport: TransportId, serializer?: string) => readonly ScenarioId[] {
  const offered = new Map(
    transportIds.map((t) => [
      t,
      scenarios.filter((s) => s.transports.includes(t) && !except.includes(s.id)).map((s) => s.id),
    ]),
  );
  return (transport, serializer) => {
    const ids = offered.get(transport) ?? [];
    if (!curveSerializers || serializer === undefined || curveSerializers.includes(serializer)) return ids;
    return ids.filter((id) => !isCurve(id));
  };
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

/** One row per figure: name, scenario, unit, which way is better, title. */
const figureRows: readonly (readonly [string, ScenarioId, string, Better, string])[] = [
  ['connections_per_s', 'connections', 'conn/s', 'higher', 'connections'],
  ['new_proxy_calls_per_s', 'new_proxy_calls', 'calls/s', 'higher', 'new proxy calls'],
  ['calls_per_s', 'calls', 'calls/s', 'higher', 'sequential calls'],
  ['latency_p50_us', 'calls', 'us', 'lower', 'call latency p50'],
  ['latency_p99_us', 'calls', 'us', 'lower', 'call latency p99'],
  ['latency_p999_us', 'calls', 'us', 'lower', 'call latency p99.9'],
  ['oneway_calls_per_s', 'oneway', 'calls/s', 'higher', 'oneway calls'],
  ['pipelined16_calls_per_s', 'pipelined16', 'calls/s', 'higher', 'pipelined calls, 16 in flight'],
  ['pipelined128_calls_per_s', 'pipelined128', 'calls/s', 'higher', 'pipelined calls, 128 in flight'],
  // MB as Pyro's hugetransfer prints it: 2^20 bytes.
  ['transfer_MB_per_s', 'transfer', 'MiB/s', 'higher', 'transfer'],
  ['transfer_peak_rss_server_MiB', 'transfer', 'MiB', 'lower', 'peak RSS of the server (transfer)'],
  ['transfer_peak_rss_client_MiB', 'transfer', 'MiB', 'lower', 'peak RSS of the client (transfer)'],
  ['batch_sequential_calls_per_s', 'batched', 'calls/s', 'higher', 'batch scenario, sequential part'],
  ['batched_calls_per_s', 'batched', 'calls/s', 'higher', 'batched calls'],
  ['batch_speedup', 'batched', 'x', 'higher', 'batch speed-up'],
  // CPU time of client and server together per operation: what a call costs whatever the machine's
  // wake-up latency, which dominates the sequential figures on an idle VM.
  ['connections_cpu_us', 'connections', 'us/conn', 'lower', 'CPU per connection, both processes'],
  ['calls_cpu_us', 'calls', 'us/call', 'lower', 'CPU per sequential call, both processes'],
  ['oneway_cpu_us', 'oneway', 'us/call', 'lower', 'CPU per oneway call, both processes'],
  ['pipelined128_cpu_us', 'pipelined128', 'us/call', 'lower', 'CPU per pipelined call, both processes'],
  ['transfer_cpu_ms_per_MiB', 'transfer', 'ms/MiB', 'lower', 'CPU per MiB transferred, both processes'],
  // How often each side's main thread slept and had to be woken per connection: on a VM, waking a
  // thread asleep on an idle vCPU is the costliest step of a connection, and how often it happens
  // depends on how the two processes' work interleaves.
  [
    'connections_server_sleeps',
    'connections',
    'sleeps/conn',
    'lower',
    "times the server's main thread slept and was woken, per connection",
  ],
  [
    'connections_client_sleeps',
    'connections',
    'sleeps/conn',
    'lower',
    "times the client's main thread slept and was woken, per connection",
  ],
  // Fresh memory the server's allocator had to fault in per MiB it received (4 KiB pages): the part
  // of receiving bulk data that depends on how the C allocator reuses freed buffers.
  [
    'transfer_server_faults_per_MiB',
    'transfer',
    'faults/MiB',
    'lower',
    'minor page faults of the server per MiB received',
  ],
  ...([1, 8, 64] as const).flatMap(
    (n) =>
      [
        [
          `clients${n}_calls_per_s`,
          `clients${n}`,
          'calls/s',
          'higher',
          `calls, ${n} client connection(s) at once`,
        ],
        [
          `clients${n}_cpu_us`,
          `clients${n}`,
          'us/call',
          'lower',
          `CPU per call, ${n} client connection(s), both processes`,
        ],
      ] as const,
  ),
  ...curveSizes.flatMap((n) => {
    const l = sizeLabel(n);
    return [
      [`curve_${l}_MiB_per_s`, `curve_${l}`, 'MiB/s', 'higher', `transfer of ${l} per call`],
      [
        `curve_${l}_cpu_ms_per_MiB`,
        `curve_${l}`,
        'ms/MiB',
        'lower',
        `CPU per MiB, ${l} per call, both processes`,
      ],
    ] as const;
  }),
];

export const figures: readonly FigureDef[] = figureRows.map(([name, scenario, unit, better, title]) => ({
  name,
  scenario,
  unit,
  better,
  title,
}));

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
  if (word === 'clients') return ['clients1', 'clients8', 'clients64'];
  if (word === 'curve') return [...curveIds];
  const fig = figureDef(word);
  return fig ? [fig.scenario] : undefined;
}
