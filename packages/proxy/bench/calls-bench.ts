// Call throughput of one proxy on one connection (not a test): sequential calls/s (each call waits
// for its reply) and pipelined calls/s with 128 calls in flight, over TCP and over a Unix socket.
// The daemon is the integration fixture in its own process; this process is the client, so both
// ends' costs and a real socket are in every figure. Run from packages/proxy:
//   node --conditions=@cinder/source --import ../../tooling/node-ts/register.mjs bench/calls-bench.ts [--quick] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type StartedChild, startChild } from '@cinder/test-utils';
import { connect, type Remote } from '../src/index.js';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const SEQUENTIAL = quick ? 3000 : 20_000;
const PIPELINED = quick ? 20_000 : 200_000;
const IN_FLIGHT = 128;
const RUNS = quick ? 1 : 3;

interface Adder {
  add(a: number, b: number): number;
}

interface Figure {
  transport: string;
  scenario: string;
  calls: number;
  best: number;
  median: number;
}

const serverScript = join(repoRoot, 'packages/integration/test/fixtures/server.ts');

async function startDaemon(args: string[]): Promise<{ child: StartedChild; uri: string }> {
  const child = startChild(serverScript, args);
  const [, uri] = (await child.waitForLine(/^URI = (.+)$/, 30_000)) as unknown as [string, string];
  return { child, uri };
}

async function sequential(p: Remote<Adder>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await p.add(i, 1);
  return (n / (performance.now() - t0)) * 1000;
}

/** `n` calls with `window` always in flight: each slot sends its next call when its reply is in. */
async function pipelined(p: Remote<Adder>, n: number, window: number): Promise<number> {
  let next = 0;
  const slot = async () => {
    while (next < n) {
      const i = next++;
      if ((await p.add(i, 1)) !== i + 1) throw new Error('wrong result');
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, slot));
  return (n / (performance.now() - t0)) * 1000;
}

function summarise(transport: string, scenario: string, calls: number, rates: number[]): Figure {
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    transport,
    scenario,
    calls,
    best: sorted[sorted.length - 1]!,
    median: sorted[Math.floor(sorted.length / 2)]!,
  };
}

async function measure(transport: string, args: string[]): Promise<Figure[]> {
  const { child, uri } = await startDaemon(args);
  const p = connect<Adder>(uri);
  try {
    await p.$bind();
    if (!p.$multiplexed) throw new Error('expected a multiplexed connection to a Cinder daemon');
    // warm both processes' JIT before timing
    await sequential(p, quick ? 1000 : 5000);
    await pipelined(p, quick ? 5000 : 20_000, IN_FLIGHT);
    const seq: number[] = [];
    const pipe: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      seq.push(await sequential(p, SEQUENTIAL));
      pipe.push(await pipelined(p, PIPELINED, IN_FLIGHT));
    }
    return [
      summarise(transport, 'sequential', SEQUENTIAL, seq),
      summarise(transport, `pipelined (${IN_FLIGHT} in flight)`, PIPELINED, pipe),
    ];
  } finally {
    await p.$release();
    await child.stop();
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'cinder-calls-bench-'));
try {
  const before = loadavg()[0]!;
  const figures = [
    ...(await measure('tcp 127.0.0.1', ['tcp', '127.0.0.1'])),
    ...(await measure('unix socket', ['unix', join(tmp, 'bench.sock')])),
  ];
  const after = loadavg()[0]!;
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverageBefore: before,
    loadAverageAfter: after,
    runs: RUNS,
  };
  if (asJson) {
    console.log(JSON.stringify({ machine, figures }, null, 2));
  } else {
    console.log(
      `Cinder calls on one connection, client and daemon in separate processes (${machine.cpus} × ${machine.cpuModel}, Node ${machine.node})`,
    );
    console.log(
      `load average ${before.toFixed(2)} before, ${after.toFixed(2)} after; best and median of ${RUNS} run(s)\n`,
    );
    console.log(
      `${'transport'.padEnd(16)}${'scenario'.padEnd(28)}${'calls'.padStart(9)}${'best/s'.padStart(11)}${'median/s'.padStart(11)}`,
    );
    for (const f of figures) {
      console.log(
        `${f.transport.padEnd(16)}${f.scenario.padEnd(28)}${String(f.calls).padStart(9)}${f.best.toFixed(0).padStart(11)}${f.median.toFixed(0).padStart(11)}`,
      );
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
