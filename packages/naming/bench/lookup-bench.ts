// Name server benchmark (not a test): lookups per second against a name server in its own process
// holding 1000 registrations — sequential on one proxy, and 128 at once on one multiplexed proxy —
// for Cinder's cbor and Pyro's json serializer, memory and SQLite storage, plus the in-process
// NameServer.lookup call as the ceiling without any network.
//
//   node --conditions=@cinder/source --import ./tooling/node-ts/register.mjs \
//     packages/naming/bench/lookup-bench.ts [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type URI } from '@cinder/core';
import { connect } from '@cinder/proxy';
import { NameServer, startNameServer } from '../src/index.js';

const NAMES = 1000;
const quick = process.argv.includes('--quick');
const SEQUENTIAL = quick ? 2_000 : 10_000;
const CONCURRENT_TOTAL = quick ? 20_000 : 100_000;
const CONCURRENCY = 128;
const RUNS = quick ? 1 : 3;
const names = Array.from({ length: NAMES }, (_, i) => `bench.name.${i}`);

type NsApi = { lookup(name: string): Promise<URI>; register(name: string, uri: string): Promise<null> };

/** Child mode: serve a name server, print its URI, run until stdin closes. */
async function serve(storage: string): Promise<void> {
  const ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true, storage });
  for (let i = 0; i < NAMES; i++)
    ns.nameServer.register(`bench.name.${i}`, `PYRO:obj_${i}@127.0.0.1:${10000 + i}`);
  console.log(`URI = ${ns.uri}`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    ns.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

async function startServer(storage: string): Promise<{ uri: string; stop(): void }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, self, '--serve', storage], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const uri = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('URI = ')) resolve(line.slice(6));
    });
    child.once('exit', (code) => reject(new Error(`name server exited with ${code}`)));
  });
  return { uri, stop: () => child.stdin!.end() };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(run: () => Promise<number>): Promise<number> {
  await run(); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) rates.push(await run());
  return median(rates);
}

async function sequential(ns: NsApi): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await ns.lookup(names[i % NAMES]!);
  return SEQUENTIAL / ((performance.now() - t0) / 1000);
}

async function concurrent(ns: NsApi): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < CONCURRENT_TOTAL) {
      const i = next++;
      await ns.lookup(names[i % NAMES]!);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return CONCURRENT_TOTAL / ((performance.now() - t0) / 1000);
}

function fmt(rate: number): string {
  return `${Math.round(rate).toLocaleString('en-US').padStart(10)} lookups/s`;
}

async function main(): Promise<void> {
  const config = resolveConfig({}, { useEnvironment: false });
  const dir = mkdtempSync(join(tmpdir(), 'cinder-ns-bench-'));
  try {
    const local = new NameServer();
    for (let i = 0; i < NAMES; i++) local.register(`bench.name.${i}`, `PYRO:obj_${i}@127.0.0.1:${10000 + i}`);
    const n = 1_000_000;
    for (let i = 0; i < n; i++) local.lookup(names[i % NAMES]!); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < n; i++) local.lookup(names[i % NAMES]!);
    console.log(`in-process NameServer.lookup (no network):   ${fmt(n / ((performance.now() - t0) / 1000))}`);

    for (const storage of ['memory', `sql:${join(dir, 'bench.sqlite')}`]) {
      const server = await startServer(storage);
      const label = storage === 'memory' ? 'memory' : 'sqlite';
      try {
        for (const serializer of ['cbor', 'json']) {
          const ns = connect<NsApi>(server.uri, { config, serializer });
          await ns.$bind();
          const seq = await measure(() => sequential(ns));
          console.log(
            `${label.padEnd(6)} ${serializer.padEnd(4)} sequential, one proxy:         ${fmt(seq)}`,
          );
          const conc = await measure(() => concurrent(ns));
          const how = ns.$multiplexed ? 'multiplexed' : 'one at a time';
          console.log(
            `${label.padEnd(6)} ${serializer.padEnd(4)} ${CONCURRENCY} concurrent, one proxy (${how}): ${fmt(conc)}`,
          );
          await ns.$release();
        }
      } finally {
        server.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) await serve(process.argv[serveAt + 1] ?? 'memory');
else await main();
