// What a benchmarked system is, seen from the orchestrator: which serializers and scenarios it has,
// whether it can run here, and the commands that start its server and client processes. Node
// systems run both sides through worker.ts and implement NodeSystem.

import { fileURLToPath } from 'node:url';
import type { ClientDriver } from './harness.js';
import type { ClientPlan, ServerPlan } from './messages.js';
import type { ScenarioId, TransportId } from './scenarios.js';

/** `cinder_b`: another build of Cinder (`--cinder-from`), measured beside this checkout's. */
export type SystemId = 'cinder' | 'cinder_b' | 'raw' | 'grpc' | 'pyro4';

/** Report order: the subject first (and the other build it is compared with), then the baselines. */
export const systemIds: readonly SystemId[] = ['cinder', 'cinder_b', 'raw', 'grpc', 'pyro4'];

export interface Command {
  command: string;
  args: string[];
  /** Variables to set; undefined removes one inherited from the orchestrator. */
  env?: Record<string, string | undefined>;
  /** Also remove every inherited variable with one of these prefixes (e.g. `PYRO_`). */
  clearEnvPrefixes?: string[];
}

export type ProbeResult =
  | {
      available: true;
      /** Versions worth recording in the run metadata (e.g. `pyro4: 4.82`). */
      versions: Record<string, string>;
      /** Serializers that cannot run here, with the reason. */
      unavailableSerializers?: Record<string, string>;
    }
  | { available: false; reason: string };

export interface SystemSpec {
  readonly id: SystemId;
  readonly label: string;
  /** `none` for systems that move raw bytes. */
  readonly serializers: readonly string[];
  /** The scenarios this system has over a transport with a serializer; nothing else is planned for it. */
  scenarios(transport: TransportId, serializer?: string): readonly ScenarioId[];
  probe(): Promise<ProbeResult>;
  serverCommand(plan: ServerPlan): Command;
  clientCommand(plan: ClientPlan): Command;
}

/** A running server inside a worker process. */
export interface RunningServer {
  /** Passed to the client as ClientPlan.address. */
  readonly address: string;
  close(): Promise<void>;
}

/** The in-process side of a Node system: what worker.ts calls. */
export interface NodeSystem {
  startServer(plan: ServerPlan): Promise<RunningServer>;
  connect(plan: ClientPlan): Promise<ClientDriver>;
}

const workerFile = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
);

/**
 * The command that runs one side of a Node system in its own process. The orchestrator's node flags
 * are passed on, so running from TypeScript sources (tests) starts TypeScript workers too.
 */
export function workerCommand(
  system: SystemId,
  role: 'server' | 'client',
  plan: ServerPlan | ClientPlan,
): Command {
  return {
    command: process.execPath,
    args: [...process.execArgv, workerFile, JSON.stringify({ system, role, plan })],
  };
}
