// Entry point of a Node child process: one side (server or client) of one Node system. The single
// argument is JSON `{ system, role, plan }`; results go to stdout as JSON lines (messages.ts). The
// process ends when its stdin closes, so it never outlives the orchestrator.

import { emitStdout, runClient } from './harness.js';
import type { ClientPlan, ServerPlan } from './messages.js';
import type { NodeSystem, SystemId } from './system.js';

const loaders: Record<SystemId, (() => Promise<NodeSystem>) | undefined> = {
  raw: async () => (await import('./systems/raw.js')).rawSystem,
  grpc: async () => (await import('./systems/grpc.js')).grpcSystem,
  cinder: async () => (await import('./systems/cinder.js')).cinderSystem,
  // another build's facade, named by the plan (cinderEntry), behind the same driver
  cinder_b: async () => (await import('./systems/cinder.js')).cinderSystem,
  pyro4: undefined,
};

interface WorkerArgs {
  system: SystemId;
  role: 'server' | 'client';
  plan: ServerPlan | ClientPlan;
}

/** Resolves when the orchestrator closes our stdin (or it dies). */
function stdinClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.on('error', () => resolve());
    process.stdin.resume();
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as WorkerArgs;
  const load = loaders[args.system];
  if (!load) throw new Error(`${args.system} has no Node worker`);
  const system = await load();
  const closed = stdinClosed();
  if (args.role === 'server') {
    const server = await system.startServer(args.plan as ServerPlan);
    emitStdout({ type: 'ready', address: server.address });
    await closed;
    await server.close();
  } else {
    const plan = args.plan as ClientPlan;
    const driver = await system.connect(plan);
    await runClient(driver, plan, emitStdout);
    await driver.close();
    emitStdout({ type: 'done' });
    // Stay alive until the orchestrator has read our peak RSS.
    await closed;
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  emitStdout({ type: 'error', message });
  process.exit(1);
});
