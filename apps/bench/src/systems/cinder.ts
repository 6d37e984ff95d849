// Cinder itself: the system the baselines are for. NOT IMPLEMENTED YET — the daemon and proxy
// packages do not exist yet, so probe() reports "not yet available" and the bench prints no Cinder
// figure at all (never a made-up one).
//
// TODO(cinder): when @cinder/cinder exports Daemon and Proxy:
//  1. probe(): return { available: true, versions: { cinder: <version> } }.
//  2. startServer(plan): a Daemon on plan.transport (127.0.0.1:0, plan.socketPath, or TLS with
//     plan.tls.cert/key) serving an object with ping(), oneway() (oneway), transfer(data) -> its
//     byte length, multiply(a, b) and add(a, b); address = the object's URI.
//  3. connect(plan): a ClientDriver over a Proxy for plan.address with plan.serializer:
//     call = ping(), oneway = oneway(), transfer = transfer(bytes), reconnect = $release + $bind,
//     newProxyCall = new Proxy + ping() + close, batch = $batch with pairs × (multiply(7,6),
//     add(10,20)), pipelining = true if the proxy allows several calls in flight.
//  4. Enable every scenario in `scenarios()` below for the transports the transport package has.
// The harness then runs exactly the loops and counts the baselines run, and report.ts already
// names Cinder's headline figures connections_per_s, new_proxy_calls_per_s, calls_per_s,
// transfer_MB_per_s, batched_calls_per_s and batch_speedup.

import type { ClientDriver } from '../harness.js';
import type { ClientPlan, ServerPlan } from '../messages.js';
import type { ScenarioId, TransportId } from '../scenarios.js';
import { type NodeSystem, type RunningServer, type SystemSpec, workerCommand } from '../system.js';

export const CINDER_UNAVAILABLE = 'not yet available: the Cinder daemon and proxy are not implemented yet';

const ALL_SCENARIOS: readonly ScenarioId[] = [
  'connections',
  'new_proxy_calls',
  'calls',
  'oneway',
  'pipelined16',
  'pipelined128',
  'transfer',
  'batched',
];

export const cinderSpec: SystemSpec = {
  id: 'cinder',
  label: 'Cinder',
  serializers: ['cbor', 'json', 'msgpack', 'serpent', 'marshal'],
  scenarios: (transport: TransportId) => (transport === 'tcp' ? ALL_SCENARIOS : ['calls', 'transfer']),
  probe: async () => ({ available: false, reason: CINDER_UNAVAILABLE }),
  serverCommand: (plan) => workerCommand('cinder', 'server', plan),
  clientCommand: (plan) => workerCommand('cinder', 'client', plan),
};

async function startServer(_plan: ServerPlan): Promise<RunningServer> {
  throw new Error(CINDER_UNAVAILABLE);
}

async function connect(_plan: ClientPlan): Promise<ClientDriver> {
  throw new Error(CINDER_UNAVAILABLE);
}

export const cinderSystem: NodeSystem = { startServer, connect };
