// The orchestrator: plans measurements (system × serializer × transport × scenarios), runs them one
// at a time — one server and one client process each, nothing else of ours on the CPU — and collects
// what the clients report. Scenarios that report peak RSS get a process pair of their own.
//
// Runs are rounds: each round measures every planned (system, serializer, transport) once, with a
// fresh process pair, and the next round measures them all again, in the reverse order. So the
// systems are interleaved in time, and a ratio taken within one round compares measurements made
// within a minute or two of each other, whatever the load on the machine did over the whole run.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate, type TlsFiles } from './certs.js';
import { BenchError } from './errors.js';
import type { ChildMessage, ClientPlan, RunMessage, ScenarioPlan, ServerPlan } from './messages.js';
import { Child, registerTempDir, removeTempDir } from './procs.js';
import type { Progress } from './progress.js';
import {
  curveSize,
  isCurve,
  type Mode,
  type ScenarioId,
  scenarioDef,
  scenarioIds,
  type TransportId,
  transferSizes,
  warmupMsFor,
} from './scenarios.js';
import { type Command, type SystemId, type SystemSpec, systemIds } from './system.js';

export interface BenchOptions {
  mode: Mode;
  /** Rounds: every measurement is made once per round, each time by a fresh process pair. */
  runs: number;
  systems: readonly SystemSpec[];
  scenarios: readonly ScenarioId[];
  /**
   * null: every serializer of every system. Otherwise serializer names for every system, or
   * `system:serializer` for one system only (`pyro4:marshal`; `cinder:x` covers `cinder_b` too).
   */
  serializers: readonly string[] | null;
  transports: readonly TransportId[];
  progress: Progress;
  /** Profile the Node children (`node --cpu-prof`), writing one .cpuprofile per process here. */
  cpuProfDir?: string;
  /**
   * Time limit (epoch ms, `--until`/`--budget`): no round starts unless it is expected to end by
   * then (as long as the longest round so far took). The first round always runs.
   */
  deadline?: number;
}

export interface Where {
  system: SystemId;
  serializer: string;
  transport: TransportId;
}

/** One timed run; its `run` is the round it was made in (0-based). */
export type RunRecord = RunMessage & Where;

export interface RssRecord extends Where {
  scenario: ScenarioId;
  role: 'server' | 'client';
  kib: number;
  round: number;
}

/** Something not measured: a whole system, a serializer, a transport or one scenario. */
export interface SkipRecord {
  system: SystemId;
  serializer?: string;
  transport?: TransportId;
  scenario?: ScenarioId;
  reason: string;
}

export interface BenchOutcome {
  runs: RunRecord[];
  rss: RssRecord[];
  skipped: SkipRecord[];
  failed: SkipRecord[];
  versions: Partial<Record<SystemId, Record<string, string>>>;
  /** Rounds run to the end: fewer than asked when the time limit stopped the run. */
  roundsDone: number;
}

interface Job extends Where {
  spec: SystemSpec;
  scenarios: ScenarioId[];
  isolated: boolean;
}

export function scenarioPlan(id: ScenarioId, mode: Mode, firstInProcess = true): ScenarioPlan {
  const def = scenarioDef(id);
  return {
    id,
    count: def.count[mode],
    warmup: def.warmup[mode],
    warmupMs: warmupMsFor(mode, firstInProcess),
    ...(def.inFlight !== undefined ? { inFlight: def.inFlight } : {}),
    ...(def.clients !== undefined ? { clients: def.clients } : {}),
    ...(id === 'transfer' ? { sizes: [...transferSizes] } : {}),
    ...(isCurve(id) ? { sizes: new Array<number>(def.count[mode]).fill(curveSize(id)) } : {}),
  };
}

export async function runBench(opts: BenchOptions): Promise<BenchOutcome> {
  const out: BenchOutcome = { runs: [], rss: [], skipped: [], failed: [], versions: {}, roundsDone: 0 };
  const { progress } = opts;
  const skip = (s: SkipRecord) => {
    out.skipped.push(s);
    const where = [s.system, s.serializer, s.transport, s.scenario].filter(Boolean).join(' ');
    progress.log(`skipped ${where}: ${s.reason}`);
  };

  const jobs: Job[] = [];
  for (const spec of opts.systems) {
    progress.update(`checking ${spec.label}…`);
    const probe = await spec.probe();
    if (!probe.available) {
      skip({ system: spec.id, reason: probe.reason });
      continue;
    }
    out.versions[spec.id] = probe.versions;
    for (const serializer of spec.serializers) {
      if (!serializerChosen(opts.serializers, spec.id, serializer)) continue;
      const missing = probe.unavailableSerializers?.[serializer];
      if (missing) {
        skip({ system: spec.id, serializer, reason: missing });
        continue;
      }
      for (const transport of opts.transports) {
        const offered = spec.scenarios(transport, serializer);
        const chosen = opts.scenarios.filter(
          (id) => offered.includes(id) && scenarioDef(id).transports.includes(transport),
        );
        const where = { system: spec.id, serializer, transport, spec };
        const groups = [...new Set(chosen.map((id) => scenarioDef(id).group))];
        for (const group of groups) {
          const ids = chosen.filter((id) => scenarioDef(id).group === group);
          jobs.push({ ...where, scenarios: ids, isolated: scenarioDef(ids[0]!).isolated });
        }
      }
    }
  }

  orderJobs(jobs, opts.transports);
  const tmp = mkdtempSync(join(tmpdir(), 'cinder-bench-'));
  registerTempDir(tmp);
  try {
    let tls: TlsFiles | string | undefined;
    if (jobs.some((j) => j.transport === 'tls')) {
      progress.update('making a TLS certificate with openssl…');
      tls = await makeCertificate(tmp);
    }
    const tlsSkipped = new Set<string>();
    const runnable = jobs.filter((job) => {
      if (job.transport !== 'tls' || typeof tls === 'object') return true;
      const k = `${job.system} ${job.serializer}`;
      if (!tlsSkipped.has(k)) {
        skip({
          system: job.system,
          serializer: job.serializer,
          transport: 'tls',
          reason: tls ?? 'no certificate',
        });
      }
      tlsSkipped.add(k);
      return false;
    });
    const roundMs: number[] = [];
    let roundStart = Date.now();
    for (const [step, { round, item: job, position }] of roundSchedule(runnable, opts.runs).entries()) {
      if (position === 0 && round > 0) {
        const now = Date.now();
        roundMs.push(now - roundStart);
        out.roundsDone = round;
        roundStart = now;
        if (!roundFits(now, roundMs, opts.deadline)) {
          progress.log(
            `stopping after ${round} of ${opts.runs} rounds: another (${Math.round(Math.max(...roundMs) / 1000)} s) ` +
              `would end after ${new Date(opts.deadline!).toISOString().slice(11, 16)} UTC`,
          );
          break;
        }
      }
      const label =
        `round ${round + 1}/${opts.runs} [${position + 1}/${runnable.length}] ` +
        `${job.spec.label} ${job.serializer} ${job.transport}`;
      try {
        await runJob(job, {
          opts,
          out,
          label,
          tmp,
          index: step,
          round,
          tls: typeof tls === 'object' ? tls : undefined,
        });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        out.failed.push({
          system: job.system,
          serializer: job.serializer,
          transport: job.transport,
          reason: `round ${round + 1}: ${reason}`,
        });
        progress.log(`FAILED ${label} (${job.scenarios.join(', ')}): ${reason}`);
      }
      if (step === runnable.length * opts.runs - 1) out.roundsDone = opts.runs;
    }
  } finally {
    progress.done();
    removeTempDir(tmp);
  }
  return out;
}

/** Whether `--serializer` chose `serializer` for `system` (systems without one always run). */
export function serializerChosen(
  chosen: readonly string[] | null,
  system: SystemId,
  serializer: string,
): boolean {
  if (chosen === null || serializer === 'none' || chosen.includes(serializer)) return true;
  const family = system === 'cinder_b' ? 'cinder' : system;
  return chosen.includes(`${family}:${serializer}`);
}

/**
 * Whether another round may start at `now`: without a deadline always; with one, only if a round as
 * long as the longest so far would end by then.
 */
export function roundFits(now: number, roundMs: readonly number[], deadline: number | undefined): boolean {
  if (deadline === undefined) return true;
  return now + Math.max(0, ...roundMs) <= deadline;
}

/**
 * The order of the measurements: every item once per round, odd rounds backwards, so that a drift in
 * the machine's load over the run does not favour whichever system is measured first.
 */
export function roundSchedule<T>(
  items: readonly T[],
  rounds: number,
): { round: number; position: number; item: T }[] {
  const out: { round: number; position: number; item: T }[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? items : [...items].reverse();
    for (const [position, item] of order.entries()) out.push({ round, position, item });
  }
  return out;
}

/** The two builds of Cinder (`cinder`, `cinder_b`) are one family: compared serializer by serializer. */
const familyOf = (id: SystemId): number =>
  id === 'cinder_b' ? systemIds.indexOf('cinder') : systemIds.indexOf(id);

/**
 * Puts the measurements that are compared with each other next to each other in time: by transport,
 * then by process group (the shared scenarios, then each isolated one), then by system and serializer
 * — except that the two builds of Cinder alternate serializer by serializer (cinder cbor, cinder_b
 * cbor, cinder msgpack, …), so each A/B pair is measured back to back, in either order as the rounds
 * reverse.
 */
export function orderJobs<
  J extends Where & { spec: Pick<SystemSpec, 'serializers'>; scenarios: ScenarioId[] },
>(jobs: J[], transports: readonly TransportId[]): void {
  const group = (j: J) => scenarioDef(j.scenarios[0]!).group;
  const groupOrder = (j: J) => scenarioIds.findIndex((id) => scenarioDef(id).group === group(j));
  const serializerOrder = (j: J) => j.spec.serializers.indexOf(j.serializer);
  jobs.sort(
    (a, b) =>
      transports.indexOf(a.transport) - transports.indexOf(b.transport) ||
      groupOrder(a) - groupOrder(b) ||
      familyOf(a.system) - familyOf(b.system) ||
      serializerOrder(a) - serializerOrder(b) ||
      systemIds.indexOf(a.system) - systemIds.indexOf(b.system),
  );
}

interface JobContext {
  opts: BenchOptions;
  out: BenchOutcome;
  label: string;
  tmp: string;
  /** Unique per process pair (socket and profile names). */
  index: number;
  round: number;
  tls: TlsFiles | undefined;
}

async function runJob(job: Job, ctx: JobContext): Promise<void> {
  const { opts, out, label } = ctx;
  const where: Where = { system: job.system, serializer: job.serializer, transport: job.transport };
  const serverPlan: ServerPlan = {
    transport: job.transport,
    ...(job.transport === 'unix' ? { socketPath: join(ctx.tmp, `s${ctx.index}.sock`) } : {}),
    ...(job.transport === 'tls' && ctx.tls ? { tls: { cert: ctx.tls.cert, key: ctx.tls.key } } : {}),
  };
  opts.progress.update(`${label}: starting`);
  const profiled = (cmd: Command, role: string): Command =>
    withCpuProfile(
      cmd,
      opts.cpuProfDir,
      `${ctx.index + 1}-${job.system}-${job.serializer}-${job.transport}-${role}`,
    );
  const server = new Child(
    `${job.spec.label} server`,
    profiled(job.spec.serverCommand(serverPlan), 'server'),
    () => {},
  );
  try {
    const ready = await server.waitFor((m) => m.type === 'ready', 30_000, 'ready line');
    const address = (ready as Extract<ChildMessage, { type: 'ready' }>).address;
    const clientPlan: ClientPlan = {
      address,
      transport: job.transport,
      serializer: job.serializer,
      ...(server.pid !== undefined ? { serverPid: server.pid } : {}),
      // One run per process pair: the rounds repeat the measurement.
      runs: 1,
      scenarios: job.scenarios.map((id, i) => scenarioPlan(id, opts.mode, i === 0)),
      ...(job.transport === 'tls' && ctx.tls ? { tls: { ca: ctx.tls.ca } } : {}),
    };
    let current = '';
    const measured = new Set<ScenarioId>();
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'start') {
        current = m.scenario;
        opts.progress.update(`${label}: ${current}`);
      } else if (m.type === 'run') {
        out.runs.push({ ...m, ...where, run: ctx.round });
        measured.add(m.scenario);
        opts.progress.update(`${label}: ${current} done`);
      } else if (m.type === 'skip') {
        // every round says so again: list it once
        const seen = out.skipped.some(
          (s) =>
            s.system === where.system &&
            s.serializer === where.serializer &&
            s.transport === where.transport &&
            s.scenario === m.scenario,
        );
        if (seen) return;
        out.skipped.push({ ...where, scenario: m.scenario, reason: m.reason });
        opts.progress.log(
          `skipped ${job.spec.label} ${job.serializer} ${job.transport} ${m.scenario}: ${m.reason}`,
        );
      }
    };
    const client = new Child(
      `${job.spec.label} client`,
      profiled(job.spec.clientCommand(clientPlan), 'client'),
      onMessage,
    );
    try {
      const limitMs = opts.mode === 'quick' ? 180_000 : 900_000;
      const end = await client.waitFor((m) => m.type === 'done' || m.type === 'error', limitMs, 'results');
      if (end.type === 'error') {
        throw new BenchError('CHILD', `client failed in ${current || 'setup'}: ${end.message}`);
      }
      if (job.isolated && measured.has(job.scenarios[0]!)) {
        for (const [role, proc] of [
          ['server', server],
          ['client', client],
        ] as const) {
          const kib = proc.peakRssKiB();
          if (kib !== undefined) {
            out.rss.push({ ...where, scenario: job.scenarios[0]!, role, kib, round: ctx.round });
          }
        }
      }
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/**
 * A Node child's command with V8's sampling profiler on: the profile is written when the child
 * exits. Other children (Python) are left alone.
 */
function withCpuProfile(cmd: Command, dir: string | undefined, name: string): Command {
  if (dir === undefined || cmd.command !== process.execPath) return cmd;
  return {
    ...cmd,
    args: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`, ...cmd.args],
  };
}
