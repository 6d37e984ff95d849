// `pnpm bench`: runs Cinder's scenarios and its baselines (raw node:net ceiling, grpc-js, Python
// Pyro4) in one go on this machine, prints a table with ratios, and writes JSON/SVG on request.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type CpuProfile, renderProfileSummary, summarizeProfile } from './cpuprofile.js';
import { BenchError } from './errors.js';
import { machineInfo } from './machine.js';
import { Progress } from './progress.js';
import {
  computeResults,
  type RunMeta,
  renderComparison,
  renderNotMeasured,
  renderSvg,
  renderTable,
  toJson,
} from './report.js';
import { runBench } from './runner.js';
import {
  type Mode,
  resolveScenarioWord,
  type ScenarioId,
  scenarioDef,
  scenarioIds,
  scenarios,
  type TransportId,
  transportIds,
  warmupMsFor,
} from './scenarios.js';
import type { SystemId, SystemSpec } from './system.js';
import { cinderFromSpec, cinderSpec } from './systems/cinder.js';
import { grpcSpec } from './systems/grpc.js';
import { pyro4Spec } from './systems/pyro4.js';
import { rawSpec } from './systems/raw.js';

const allSystems: readonly SystemSpec[] = [cinderSpec, rawSpec, grpcSpec, pyro4Spec];
const allSerializers = [...new Set(allSystems.flatMap((s) => s.serializers))].filter((s) => s !== 'none');

const USAGE = `Usage: pnpm bench -- [options]

  --quick                 about a minute: fewer iterations, 1 round instead of 3
  --only <list>           scenarios (comma-separated): ${scenarioIds.join(', ')};
                          figure names and "latency", "pipelined" work too
  --serializer <list>     ${allSerializers.join(', ')} (raw and grpc-js always run "none");
                          system:serializer for one system only, e.g. pyro4:marshal
  --transport <list>      ${transportIds.join(', ')} (default: all)
  --system <list>         ${allSystems.map((s) => s.id).join(', ')} (default: all)
  --runs <n>              rounds (default 3, 1 with --quick): each round measures every system
                          once, with a fresh process pair, in alternating order; figures are
                          medians over the rounds, with min-max, and ratios are taken per round
  --until <HH:MM>         time limit (UTC, nearest such time): start no round that would end
                          after it, judging by the longest round so far (the first always runs);
                          the report covers the rounds done
  --budget <minutes>      the same, as minutes from the start
  --cinder-from <dir>[,<label>]
                          also run another built checkout of Cinder (system cinder_b: its facade
                          and packages, this harness), alternated with this one serializer by
                          serializer in every round, and print an A/B table (this ÷ other, per
                          round); build one with scripts/build-variant.sh
  --json <file>           write machine-readable results
  --svg <file>            write a bar chart of Cinder against the baselines
  --cpu-prof <dir>        profile the Node children (node --cpu-prof) into <dir>, then print
                          each profile's top functions by self time
  -h, --help              this text

Scenarios:
${scenarios.map((s) => `  ${s.id.padEnd(16)} ${s.title}`).join('\n')}
`;

interface Cli {
  mode: Mode;
  runs: number;
  scenarios: ScenarioId[];
  serializers: string[] | null;
  transports: TransportId[];
  systems: SystemSpec[];
  /** `--cinder-from DIR[,label]`: the other build of Cinder. */
  cinderFrom?: { dir: string; label?: string };
  /** `--until` / `--budget`: epoch ms after which no round should end. */
  deadline?: number;
  json?: string;
  svg?: string;
  cpuProfDir?: string;
}

const words = (values: string[] | undefined): string[] | undefined =>
  values
    ?.flatMap((v) => v.split(','))
    .map((w) => w.trim())
    .filter((w) => w !== '');

/** Parses the command line; throws BenchError('USAGE') with a precise message on anything wrong. */
export function parseCli(argv: readonly string[], now = Date.now()): Cli | 'help' {
  // `pnpm bench -- --quick` hands us one or two literal "--" first, depending on how it was called.
  let skip = 0;
  while (argv[skip] === '--') skip++;
  const args = argv.slice(skip);
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    throw new BenchError('USAGE', (err as Error).message, { cause: err });
  }
  if (values.help) return 'help';
  const mode: Mode = values.quick ? 'quick' : 'full';
  const pick = <T extends string>(
    flag: string,
    given: string[] | undefined,
    known: readonly T[],
  ): T[] | undefined => {
    if (!given) return undefined;
    for (const w of given) {
      if (!(known as readonly string[]).includes(w)) {
        throw new BenchError('USAGE', `--${flag}: unknown "${w}" (choose from ${known.join(', ')})`);
      }
    }
    return given as T[];
  };
  const only = words(values.only);
  const chosen = new Set<ScenarioId>();
  for (const w of only ?? scenarioIds) {
    const ids = resolveScenarioWord(w);
    if (!ids)
      throw new BenchError(
        'USAGE',
        `--only: unknown scenario "${w}" (choose from ${scenarioIds.join(', ')})`,
      );
    for (const id of ids) chosen.add(id);
  }
  const systems = pick<SystemId>(
    'system',
    words(values.system),
    allSystems.map((s) => s.id),
  );
  let runs = mode === 'quick' ? 1 : 3;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
      throw new BenchError('USAGE', `--runs: expected a whole number from 1 to 50, got "${values.runs}"`);
    }
  }
  const cinderFrom = parseCinderFrom(values['cinder-from']);
  const deadline = parseDeadline(values.until, values.budget, now);
  const picked = allSystems.filter((s) => !systems || systems.includes(s.id));
  return {
    mode,
    runs,
    scenarios: scenarioIds.filter((id) => chosen.has(id)),
    serializers: pickSerializers(words(values.serializer)),
    transports: pick('transport', words(values.transport), transportIds) ?? [...transportIds],
    // the other build goes right after this checkout's Cinder, whatever --system chose besides
    systems: cinderFrom ? [...picked, cinderFromSpec(cinderFrom.dir, cinderFrom.label)] : picked,
    ...(cinderFrom ? { cinderFrom } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
    ...(values.json !== undefined ? { json: values.json } : {}),
    ...(values.svg !== undefined ? { svg: values.svg } : {}),
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: resolve(values['cpu-prof']) } : {}),
  };
}

/**
 * `--until HH:MM` (UTC, the occurrence nearest to `now`, so one just passed means "no more rounds")
 * or `--budget MINUTES` from `now`: epoch ms.
 */
export function parseDeadline(
  until: string | undefined,
  budget: string | undefined,
  now: number,
): number | undefined {
  if (until !== undefined && budget !== undefined) {
    throw new BenchError('USAGE', '--until and --budget: give one of them');
  }
  if (budget !== undefined) {
    const minutes = Number(budget);
    if (!(minutes > 0) || !Number.isFinite(minutes)) {
      throw new BenchError('USAGE', `--budget: expected minutes > 0, got "${budget}"`);
    }
    return now + minutes * 60_000;
  }
  if (until === undefined) return undefined;
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(until);
  if (!m) throw new BenchError('USAGE', `--until: expected HH:MM (UTC), got "${until}"`);
  const day = new Date(now);
  let at = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), Number(m[1]), Number(m[2]));
  // the occurrence nearest to now: 00:10 late in the evening is tomorrow's, and a time that has
  // just passed stays passed (one round, not a day's worth)
  if (at - now > 43_200_000) at -= 86_400_000;
  else if (now - at > 43_200_000) at += 86_400_000;
  return at;
}

/**
 * `--serializer` words: a serializer for every system (`cbor`), or `system:serializer` for one
 * system only (`pyro4:marshal`: Pyro4's best serializer without a Cinder marshal run).
 */
function pickSerializers(given: string[] | undefined): string[] | null {
  if (!given) return null;
  for (const w of given) {
    const colon = w.indexOf(':');
    if (colon < 0) {
      if (!allSerializers.includes(w)) {
        throw new BenchError(
          'USAGE',
          `--serializer: unknown "${w}" (choose from ${allSerializers.join(', ')})`,
        );
      }
      continue;
    }
    const spec = allSystems.find((s) => s.id === w.slice(0, colon));
    const serializer = w.slice(colon + 1);
    if (!spec?.serializers.includes(serializer) || serializer === 'none') {
      throw new BenchError(
        'USAGE',
        `--serializer: unknown "${w}" (system:serializer, e.g. pyro4:${pyro4Spec.serializers.at(-1)})`,
      );
    }
  }
  return given;
}

/** `DIR[,label]`: the directory is everything before the first comma. */
function parseCinderFrom(value: string | undefined): { dir: string; label?: string } | undefined {
  if (value === undefined) return undefined;
  const comma = value.indexOf(',');
  const dir = (comma < 0 ? value : value.slice(0, comma)).trim();
  const label = comma < 0 ? '' : value.slice(comma + 1).trim();
  if (dir === '') throw new BenchError('USAGE', '--cinder-from: expected DIR or DIR,label');
  if (!/^[\w.+-]*$/.test(label)) {
    throw new BenchError(
      'USAGE',
      `--cinder-from: a label is letters, digits and . + - _ only, got "${label}"`,
    );
  }
  return { dir, ...(label !== '' ? { label } : {}) };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string', multiple: true },
      serializer: { type: 'string', multiple: true },
      transport: { type: 'string', multiple: true },
      system: { type: 'string', multiple: true },
      runs: { type: 'string' },
      json: { type: 'string' },
      svg: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'cinder-from': { type: 'string' },
      until: { type: 'string' },
      budget: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function main(): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    if (err instanceof BenchError && err.code === 'USAGE') {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (cli === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = new Date();
  const outcome = await runBench({
    mode: cli.mode,
    runs: cli.runs,
    systems: cli.systems,
    scenarios: cli.scenarios,
    serializers: cli.serializers,
    transports: cli.transports,
    progress: new Progress(),
    ...(cli.cpuProfDir !== undefined ? { cpuProfDir: cli.cpuProfDir } : {}),
    ...(cli.deadline !== undefined ? { deadline: cli.deadline } : {}),
  });
  // stopped by --until/--budget: the report is about the rounds that ran
  const rounds = Math.max(1, Math.min(cli.runs, outcome.roundsDone));
  const results = computeResults(outcome);
  const meta: RunMeta = {
    date: started.toISOString(),
    mode: cli.mode,
    runs: rounds,
    argv: process.argv.slice(2),
    machine: machineInfo(),
    node: process.version,
    versions: outcome.versions,
    iterations: Object.fromEntries(
      cli.scenarios.map((id) => {
        const def = scenarioDef(id);
        return [
          id,
          { count: def.count[cli.mode], warmup: def.warmup[cli.mode], warmupMs: warmupMsFor(cli.mode, true) },
        ];
      }),
    ),
    notes: [
      ...(rounds < cli.runs
        ? [
            `${rounds} of the ${cli.runs} rounds asked for: the time limit (--until/--budget) stopped the run.`,
          ]
        : []),
      'MB = 2^20 bytes, as Pyro prints it; transfer sends 14 calls of 500000*i bytes (51269 KiB).',
      'Rounds: each round measures every (system, serializer, transport) once with a fresh server and client process, one pair at a time; odd rounds run in reverse order.',
      'Figures: median over the rounds, with min and max; ratios: taken within each round, then median and range; "unsupported" lists baselines the data cannot rank against: the within-round ratios spread wider than the median ratio is from parity (max/min > r or 1/r), e.g. rounds that disagree on which is better.',
      'batched: iterations count (multiply, add) pairs, so 2*count calls each way; batch_speedup = sequential time / batch time.',
      'Warm-up: the count is repeated until warmupMs have passed (a quarter of it for later scenarios of the same client process).',
      ...(cli.cinderFrom
        ? [
            "cinder_b: another build of Cinder (--cinder-from; versions.cinder_b says which), run by the same harness; in every round each of its measurements is made right next to this checkout's with the same serializer, in either order as the rounds reverse; ratios.cinder_b = this checkout against it within each round (> 1 = this checkout better).",
          ]
        : []),
    ],
  };
  if (results.length > 0) process.stdout.write(`${renderTable(results, meta)}\n`);
  else process.stdout.write('No figures: nothing selected could run here.\n');
  const comparison = renderComparison(results, meta);
  if (comparison) process.stdout.write(`\n${comparison}\n`);
  const notMeasured = renderNotMeasured(outcome.skipped, outcome.failed);
  if (notMeasured) process.stdout.write(`\n${notMeasured}\n`);
  if (cli.json) {
    writeFileSync(
      cli.json,
      `${JSON.stringify(toJson(meta, results, outcome.skipped, outcome.failed), null, 2)}\n`,
    );
  }
  if (cli.svg) {
    const cinderSkip = outcome.skipped.find((s) => s.system === 'cinder' && s.serializer === undefined);
    writeFileSync(cli.svg, renderSvg(results, meta, cinderSkip?.reason));
  }
  if (cli.cpuProfDir !== undefined) printProfiles(cli.cpuProfDir);
  return outcome.failed.length > 0 ? 1 : 0;
}

/** The top of every profile the children wrote, after the table. */
function printProfiles(dir: string): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  process.stdout.write(`\nCPU profiles in ${dir}:\n`);
  for (const f of files) {
    const profile = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    process.stdout.write(`\n${renderProfileSummary(f, summarizeProfile(profile), 20)}\n`);
  }
}

// Only as a program: tests import parseCli without starting a bench.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
