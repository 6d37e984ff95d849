// Cinder itself, the system the baselines are for: a Daemon serving one Bench instance as "bench"
// (an instance, as in Pyro4's 2011 figures and the Pyro4 baseline's server), and a client driver
// over a proxy from the `@cinder/cinder` facade. Every scenario runs through the public API a user
// would write: `await bench.ping()`, `$release()`/`$bind()`, `$batch()` … `$run()`.
// @cinder/cinder is imported lazily, so the orchestrator and the other systems' processes never
// load it.
//
// `cinder_b` (`--cinder-from DIR`) is another build of Cinder — an older commit, or this one with
// something switched off — run by the same driver and harness: its processes import DIR's facade
// (and, through DIR's node_modules, DIR's packages) instead of this checkout's, so only the library
// differs between the two.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Cinder from '@cinder/cinder';
import { BenchError } from '../errors.js';
import type { ClientDriver } from '../harness.js';
import type { ClientPlan, ServerPlan } from '../messages.js';
import { systemScenarios } from '../scenarios.js';
import {
  type Command,
  type NodeSystem,
  type ProbeResult,
  type RunningServer,
  type SystemSpec,
  workerCommand,
} from '../system.js';

/** The object id the server registers, as the Pyro4 baseline does. */
export const BENCH_OBJECT_ID = 'bench';

async function probe(): Promise<ProbeResult> {
  try {
    const pkg = createRequire(import.meta.url)('@cinder/cinder/package.json') as { version: string };
    // The orchestrator runs from dist, where the facade resolves to its built dist/index.js: a
    // missing build would otherwise fail every measurement one by one.
    const entry = fileURLToPath(import.meta.resolve('@cinder/cinder'));
    if (!existsSync(entry)) throw new Error(`${entry} does not exist`);
    return { available: true, versions: { cinder: pkg.version } };
  } catch (err) {
    return {
      available: false,
      reason: `@cinder/cinder cannot be loaded (build it with \`pnpm build\`): ${(err as Error).message}`,
    };
  }
}

/** Children see no inherited CINDER_* variable: the environment must not change the results. */
function cinderCommand(
  role: 'server' | 'client',
  plan: ServerPlan | ClientPlan,
  system: 'cinder' | 'cinder_b' = 'cinder',
): Command {
  return { ...workerCommand(system, role, plan), clearEnvPrefixes: ['CINDER_'] };
}

/** The facade: this checkout's, or another build's when the plan names its entry (`--cinder-from`). */
export async function loadCinder(entry?: string): Promise<typeof Cinder> {
  if (entry === undefined) return import('@cinder/cinder');
  return (await import(pathToFileURL(entry).href)) as typeof Cinder;
}

/** What `scripts/build-variant.sh` recorded about a build in DIR/.bench-variant (key=value lines). */
function variantInfo(root: string): { commit?: string; patches: string[] } {
  const out: { commit?: string; patches: string[] } = { patches: [] };
  let text = '';
  try {
    text = readFileSync(join(root, '.bench-variant'), 'utf8');
  } catch {
    // not made by the script: ask git, if DIR is a checkout
    try {
      const sha = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (/^[0-9a-f]{40}$/.test(sha)) out.commit = sha;
    } catch {
      // not a checkout either
    }
    return out;
  }
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    const [k, v] = [line.slice(0, eq), line.slice(eq + 1).trim()];
    if (k === 'commit' && v) out.commit = v;
    if (k === 'patch' && v) out.patches.push(v);
  }
  return out;
}

/**
 * Another built checkout of Cinder as the system `cinder_b`, compared round by round with this
 * checkout's (`--cinder-from DIR[,label]`). `label` names it in the table; by default its commit
 * (and patches) from DIR/.bench-variant or git, else DIR's name.
 */
export function cinderFromSpec(dir: string, label?: string): SystemSpec {
  const root = resolve(dir);
  const entry = join(root, 'packages', 'cinder', 'dist', 'index.js');
  const info = variantInfo(root);
  const name =
    label ??
    (info.commit
      ? [info.commit.slice(0, 7), ...info.patches.map((p) => p.replace(/\.patch$/, ''))].join('+')
      : basename(root));
  return {
    id: 'cinder_b',
    label: `Cinder ${name}`,
    serializers: cinderSpec.serializers,
    scenarios: cinderSpec.scenarios,
    probe: async () => {
      if (!existsSync(entry)) {
        return {
          available: false,
          reason: `${entry} does not exist (build DIR first: apps/bench/scripts/build-variant.sh)`,
        };
      }
      let version = '?';
      try {
        version = (
          JSON.parse(readFileSync(join(root, 'packages', 'cinder', 'package.json'), 'utf8')) as {
            version: string;
          }
        ).version;
      } catch {
        // the entry is what matters
      }
      return {
        available: true,
        versions: {
          cinder: version,
          label: name,
          dir: root,
          ...(info.commit ? { commit: info.commit } : {}),
          ...(info.patches.length > 0 ? { patches: info.patches.join(',') } : {}),
        },
      };
    },
    serverCommand: (plan) => cinderCommand('server', { ...plan, cinderEntry: entry }, 'cinder_b'),
    clientCommand: (plan) => cinderCommand('client', { ...plan, cinderEntry: entry }, 'cinder_b'),
  };
}

export const cinderSpec: SystemSpec = {
  id: 'cinder',
  label: 'Cinder',
  serializers: ['cbor', 'json', 'msgpack', 'serpent', 'marshal'],
  // The transfer curve with the two binary serializers (json and serpent carry bytes as base64).
  scenarios: systemScenarios([], ['cbor', 'msgpack']),
  probe,
  serverCommand: (plan) => cinderCommand('server', plan),
  clientCommand: (plan) => cinderCommand('client', plan),
};

/** What the client sees of the served object. */
interface BenchApi {
  ping(): void;
  oneway(): void;
  transfer(data: Uint8Array): number;
  multiply(a: number, b: number): number;
  add(a: number, b: number): number;
}

/**
 * The served class, built inside the server process only (decorators come from the lazily loaded
 * facade). `transfer` answers the byte count it received, whatever form the serializer gave it.
 */
function benchClass(c: typeof Cinder): new () => BenchApi {
  @c.expose
  class Bench implements BenchApi {
    ping(): void {}

    @c.oneway
    oneway(): void {}

    transfer(data: Uint8Array): number {
      return data.length;
    }

    multiply(a: number, b: number): number {
      return a * b;
    }

    add(a: number, b: number): number {
      return a + b;
    }
  }
  return Bench;
}

async function startServer(plan: ServerPlan): Promise<RunningServer> {
  const c = await loadCinder(plan.cinderEntry);
  const options: Cinder.DaemonOptions =
    plan.transport === 'unix'
      ? { unixSocket: plan.socketPath! }
      : plan.transport === 'tls'
        ? {
            host: '127.0.0.1',
            tls: { cert: readFileSync(plan.tls!.cert), key: readFileSync(plan.tls!.key) },
          }
        : { host: '127.0.0.1' };
  const daemon = await c.Daemon.start(options);
  const uri = daemon.register(new (benchClass(c))(), BENCH_OBJECT_ID);
  return { address: uri.toString(), close: () => daemon.close({ graceMs: 500 }) };
}

async function connect(plan: ClientPlan): Promise<ClientDriver> {
  const c = await loadCinder(plan.cinderEntry);
  // Resolved once, as an application configures its proxies once: each new proxy then skips
  // reading the environment again.
  const config = c.resolveConfig({});
  const proxyOptions: Cinder.ProxyOptions = {
    config,
    serializer: plan.serializer,
    ...(plan.transport === 'tls' ? { tls: { ca: readFileSync(plan.tls!.ca) } } : {}),
  };
  const proxy = c.connect<BenchApi>(plan.address, proxyOptions);
  await proxy.$bind();
  const expected = (pairs: number) => pairs * (7 * 6 + 10 + 20);
  return {
    pipelining: proxy.$multiplexed,
    call: () => proxy.ping(),
    oneway: () => proxy.oneway(),
    transfer: (data) => proxy.transfer(data),
    reconnect: async () => {
      await proxy.$release();
      await proxy.$bind();
    },
    newProxyCall: async () => {
      const fresh = c.connect<BenchApi>(plan.address, proxyOptions);
      try {
        await fresh.ping();
      } finally {
        await fresh.$release();
      }
    },
    openClient: async () => {
      const own = c.connect<BenchApi>(plan.address, proxyOptions);
      await own.$bind();
      return { call: () => own.ping(), close: () => own.$release() };
    },
    multiply: (a, b) => proxy.multiply(a, b),
    add: (a, b) => proxy.add(a, b),
    batch: async (pairs) => {
      const batch = proxy.$batch();
      for (let i = 0; i < pairs; i++) {
        batch.multiply(7, 6);
        batch.add(10, 20);
      }
      const results = await batch.$run();
      if (results.length !== 2 * pairs) {
        throw new BenchError('CHECK', `batch returned ${results.length} results for ${2 * pairs} calls`);
      }
      let total = 0;
      for (const r of results) total += r as number;
      // the harness checks the sum too; this names the batch as the culprit when it is wrong
      if (total !== expected(pairs)) throw new BenchError('CHECK', `batch results sum to ${total}`);
      return total;
    },
    close: () => proxy.$release(),
  };
}

export const cinderSystem: NodeSystem = { startServer, connect };
