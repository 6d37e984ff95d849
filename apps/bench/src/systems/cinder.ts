// Cinder itself, the system the baselines are for: a Daemon serving one Bench instance as "bench"
// (an instance, as in Pyro4's 2011 figures and the Pyro4 baseline's server), and a client driver
// over a proxy from the `@cinder/cinder` facade. Every scenario runs through the public API a user
// would write: `await bench.ping()`, `$release()`/`$bind()`, `$batch()` … `$run()`.
// @cinder/cinder is imported lazily, so the orchestrator and the other systems' processes never
// load it.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
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
function cinderCommand(role: 'server' | 'client', plan: ServerPlan | ClientPlan): Command {
  return { ...workerCommand('cinder', role, plan), clearEnvPrefixes: ['CINDER_'] };
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
  const c = await import('@cinder/cinder');
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
  const c = await import('@cinder/cinder');
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
