// The orchestrator: plans measurements (system × serializer × transport × scenarios), runs them one
// at a time — one server and one client process each, nothing else of ours on the CPU — and collects
// what the clients report. Scenarios that report peak RSS get a process pair of their own.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate, type TlsFiles } from './certs.js';
import { BenchError } from './errors.js';
import type { ChildMessage, ClientPlan, RunMessage, ScenarioPlan, ServerPlan } from './messages.js';
import { Child, registerTempDir, removeTempDir } from './procs.js';
import type { Progress } from './progress.js';
import {
  type Mode,
  type ScenarioId,
  scenarioDef,
  type TransportId,
  transferSizes,
  warmupMsFor,
} from './scenarios.js';
import type { Command, SystemId, SystemSpec } from './system.js';

export interface BenchOptions {
  mode: Mode;
  runs: number;
  systems: readonly SystemSpec[];
  scenarios: readonly ScenarioId[];
  /** null: every serializer of every system. */
  serializers: readonly string[] | null;
  transports: readonly TransportId[];
  progress: Progress;
  /** Profile the Node children (`node --cpu-prof`), writing one .cpuprofile per process here. */
  cpuProfDir?: string;
}

interface Where {
  system: SystemId;
  serializer: string;
  transport: TransportId;
}

export type RunRecord = RunMessage & Where;

export interface RssRecord extends Where {
  scenario: ScenarioId;
  role: 'server' | 'client';
  kib: number;
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
    ...(id === 'transfer' ? { sizes: [...transferSizes] } : {}),
  };
}

export async function runBench(opts: BenchOptions): Promise<BenchOutcome> {
  const out: BenchOutcome = { runs: [], rss: [], skipped: [], failed: [], versions: {} };
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
      if (opts.serializers && serializer !== 'none' && !opts.serializers.includes(serializer)) continue;
      const missing = probe.unavailableSerializers?.[serializer];
      if (missing) {
        skip({ system: spec.id, serializer, reason: missing });
        continue;
      }
      for (const transport of opts.transports) {
        const offered = spec.scenarios(transport);
        const chosen = opts.scenarios.filter(
          (id) => offered.includes(id) && scenarioDef(id).transports.includes(transport),
        );
        const shared = chosen.filter((id) => !scenarioDef(id).isolated);
        const where = { system: spec.id, serializer, transport, spec };
        if (shared.length > 0) jobs.push({ ...where, scenarios: shared, isolated: false });
        for (const id of chosen.filter((id) => scenarioDef(id).isolated)) {
          jobs.push({ ...where, scenarios: [id], isolated: true });
        }
      }
    }
  }

  const tmp = mkdtempSync(join(tmpdir(), 'cinder-bench-'));
  registerTempDir(tmp);
  try {
    let tls: TlsFiles | string | undefined;
    if (jobs.some((j) => j.transport === 'tls')) {
      progress.update('making a TLS certificate with openssl…');
      tls = await makeCertificate(tmp);
    }
    const tlsSkipped = new Set<string>();
    for (const [index, job] of jobs.entries()) {
      if (job.transport === 'tls' && typeof tls !== 'object') {
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
        continue;
      }
      const label = `[${index + 1}/${jobs.length}] ${job.spec.label} ${job.serializer} ${job.transport}`;
      try {
        await runJob(job, { opts, out, label, tmp, index, tls: typeof tls === 'object' ? tls : undefined });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        out.failed.push({ system: job.system, serializer: job.serializer, transport: job.transport, reason });
        progress.log(`FAILED ${label} (${job.scenarios.join(', ')}): ${reason}`);
      }
    }
  } finally {
    progress.done();
    removeTempDir(tmp);
  }
  return out;
}

interface JobContext {
  opts: BenchOptions;
  out: BenchOutcome;
  label: string;
  tmp: string;
  index: number;
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
      runs: opts.runs,
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
        out.runs.push({ ...m, ...where });
        measured.add(m.scenario);
        opts.progress.update(`${label}: ${current} run ${m.run + 1}/${opts.runs} done`);
      } else if (m.type === 'skip') {
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
          if (kib !== undefined) out.rss.push({ ...where, scenario: job.scenarios[0]!, role, kib });
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
