// The contract between the orchestrator and its child processes (Node workers and the Python
// scripts alike). A child gets one JSON argument (a plan) and reports JSON lines on stdout. Python's
// python/pyro4_*.py implement the same shapes, so keep them in step.

import type { ScenarioId, TransportId } from './scenarios.js';

/** What a server child needs: where to listen, and its certificate for TLS. */
export interface ServerPlan {
  transport: TransportId;
  /** Unix socket path (transport `unix`). TCP servers listen on 127.0.0.1 with a free port. */
  socketPath?: string;
  tls?: { cert: string; key: string };
  /** Cinder only: the facade entry (dist/index.js) of another build to run (`--cinder-from`). */
  cinderEntry?: string;
}

export interface ScenarioPlan {
  id: ScenarioId;
  /** Timed iterations per run (transfer: number of calls; batched: pairs). */
  count: number;
  /** Untimed iterations before the first run, repeated as a whole until `warmupMs` have passed. */
  warmup: number;
  warmupMs: number;
  inFlight?: number;
  /** Many-clients scenarios: client connections, each calling in a loop. */
  clients?: number;
  /** Transfer only: the byte size of each call, in order. */
  sizes?: number[];
}

/** What a client child needs: the server's address as its ready line gave it, and the work. */
export interface ClientPlan {
  address: string;
  transport: TransportId;
  serializer: string;
  /** CA certificate that signed the server's (transport `tls`). */
  tls?: { ca: string };
  /** The server process, whose CPU time the client reads from /proc around each timed run. */
  serverPid?: number;
  runs: number;
  scenarios: ScenarioPlan[];
  /** Cinder only: the facade entry (dist/index.js) of another build to run (`--cinder-from`). */
  cinderEntry?: string;
}

/** One timed run of one scenario, as the client measured it. */
export interface RunMessage {
  type: 'run';
  scenario: ScenarioId;
  /** 0-based run index. */
  run: number;
  /** Operations timed (calls, connections; batched: calls in the batch). */
  count: number;
  seconds: number;
  /** Transfer: payload bytes sent in the timed calls. */
  bytes?: number;
  /** Batched: the same calls made one by one. */
  seqSeconds?: number;
  /** Calls: p50, p99 and p99.9 of the per-call times, nearest-rank, microseconds. */
  latencyUs?: [number, number, number];
  /**
   * CPU time of the client and of the whole server process during the timed part, microseconds
   * (user + system, all threads); the server's is null when /proc cannot tell.
   */
  cpuUs?: [number, number | null];
  /**
   * Transfer and the transfer curve: minor page faults of the client and of the server process
   * during the timed part (the server's null when /proc cannot tell).
   */
  faults?: [number, number | null];
  /**
   * Connections and new proxy calls: how often the client's and the server's main thread slept and
   * had to be woken during the timed part (voluntary context switches; null when /proc cannot tell).
   */
  sleeps?: [number | null, number | null];
}

export type ChildMessage =
  | { type: 'ready'; address: string }
  | { type: 'start'; scenario: ScenarioId }
  | RunMessage
  | { type: 'skip'; scenario: ScenarioId; reason: string }
  | { type: 'done' }
  | { type: 'error'; message: string };

/** Parses one stdout line of a child; undefined for anything that is not one of our messages. */
export function parseChildMessage(line: string): ChildMessage | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  switch (type) {
    case 'ready':
    case 'start':
    case 'skip':
    case 'done':
    case 'error':
      return value as ChildMessage;
    case 'run': {
      const run = value as RunMessage;
      return typeof run.count === 'number' && typeof run.seconds === 'number' ? run : undefined;
    }
    default:
      return undefined;
  }
}

/** Nearest-rank percentile of an ascending-sorted sample (the Python client uses the same rule). */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}
