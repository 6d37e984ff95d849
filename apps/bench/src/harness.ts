// The measuring loops of every Node client (Cinder, raw node:net and grpc-js). A system only
// supplies a ClientDriver; the loops, warm-up, timing and reporting are shared, so every Node system
// does exactly the same work. python/pyro4_client.py mirrors these loops for Pyro4.

import { readFileSync } from 'node:fs';
import { BenchError } from './errors.js';
import { type ChildMessage, type ClientPlan, nearestRank, type ScenarioPlan } from './messages.js';
import type { ScenarioId } from './scenarios.js';

/**
 * What a system's client can do. Only `call` is required; a scenario whose operation is missing is
 * reported as skipped with `unsupported[scenario]` (or a generic reason) as the reason.
 */
export interface ClientDriver {
  /** One round-trip call without arguments (Pyro's `ping()`); safe to run concurrently if pipelining. */
  call(): Promise<void>;
  /** One oneway call: sent, no reply awaited. */
  oneway?(): void | Promise<void>;
  /** Sends `data` as binary in one call; resolves with the byte count the server received. */
  transfer?(data: Uint8Array): Promise<number>;
  /** Closes the connection and opens a new one, with the system's handshake but no call. */
  reconnect?(): Promise<void>;
  /** A brand-new proxy/client: connect, handshake, one round-trip call, close. */
  newProxyCall?(): Promise<void>;
  multiply?(a: number, b: number): Promise<number>;
  add?(a: number, b: number): Promise<number>;
  /** `pairs` × (multiply(7, 6), add(10, 20)) queued and sent as one batch; resolves with the sum. */
  batch?(pairs: number): Promise<number>;
  /**
   * A further, independent client connection (its own proxy, socket, channel), bound and ready,
   * for the many-clients scenarios.
   */
  openClient?(): Promise<ClientConnection>;
  /** Whether `call` may have several calls in flight on one connection. */
  readonly pipelining: boolean;
  /** Why a scenario is not available, when the reason is more specific than "not supported". */
  readonly unsupported?: Partial<Record<ScenarioId, string>>;
  close(): Promise<void>;
}

/** One of several client connections calling in a loop (the many-clients scenarios). */
export interface ClientConnection {
  /** One round-trip call without arguments, never concurrently with another on this connection. */
  call(): Promise<void>;
  close(): Promise<void>;
}

export type Emit = (message: ChildMessage) => void;

/** Writes one JSON line on stdout (a pipe: synchronous on Linux, so nothing is lost at exit). */
export const emitStdout: Emit = (message) => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

const now = (): number => performance.now();

// Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat (100 on every mainstream arch).
const CLOCK_TICKS_PER_S = 100;

/** utime + stime of a whole process in microseconds, or null when /proc cannot tell. */
export function processCpuUs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_S : null;
  } catch {
    return null;
  }
}

/**
 * How often a process's main thread has blocked so far — each time it slept (in epoll_wait, for a
 * Node process) and had to be woken: `voluntary_ctxt_switches` of /proc/<pid>/status, which is the
 * thread's own (the process's other threads are not counted). 'self' for this process; null when
 * /proc cannot tell.
 */
export function mainThreadSleeps(pid: number | 'self' | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Minor page faults of a whole process so far (field 10 of /proc/<pid>/stat), or null. */
export function processMinorFaults(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const faults = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
    return Number.isFinite(faults) ? faults : null;
  } catch {
    return null;
  }
}

interface CpuMark {
  client: NodeJS.CpuUsage;
  server: number | null;
  serverPid: number | undefined;
}

function cpuMark(serverPid: number | undefined): CpuMark {
  return { client: process.cpuUsage(), server: processCpuUs(serverPid), serverPid };
}

/** [client, server] CPU microseconds since `mark`. */
function cpuSince(mark: CpuMark): [number, number | null] {
  const c = process.cpuUsage(mark.client);
  const server = processCpuUs(mark.serverPid);
  return [c.user + c.system, server === null || mark.server === null ? null : server - mark.server];
}

/** Runs every scenario of the plan, in order, reporting through `emit`. */
export async function runClient(driver: ClientDriver, plan: ClientPlan, emit: Emit): Promise<void> {
  for (const scenario of plan.scenarios) {
    const missing = missingOperation(driver, scenario.id);
    if (missing !== undefined) {
      emit({ type: 'skip', scenario: scenario.id, reason: driver.unsupported?.[scenario.id] ?? missing });
      continue;
    }
    emit({ type: 'start', scenario: scenario.id });
    await runScenario(driver, scenario, plan.runs, emit, plan.serverPid);
  }
}

function missingOperation(d: ClientDriver, id: ScenarioId): string | undefined {
  const has = (ok: boolean, what: string) => (ok ? undefined : `${what} not supported`);
  switch (id) {
    case 'connections':
      return has(d.reconnect !== undefined, 'reconnect');
    case 'new_proxy_calls':
      return has(d.newProxyCall !== undefined, 'new proxy calls');
    case 'calls':
      return undefined;
    case 'oneway':
      return has(d.oneway !== undefined, 'oneway calls');
    case 'pipelined16':
    case 'pipelined128':
      return has(d.pipelining, 'pipelining');
    case 'transfer':
      return has(d.transfer !== undefined, 'binary transfer');
    case 'batched':
      return has(d.batch !== undefined && d.multiply !== undefined && d.add !== undefined, 'batching');
    case 'clients1':
    case 'clients8':
    case 'clients64':
      return has(d.openClient !== undefined, 'separate client connections');
    default:
      // the transfer curve
      return has(d.transfer !== undefined, 'binary transfer');
  }
}

async function runScenario(
  d: ClientDriver,
  s: ScenarioPlan,
  runs: number,
  emit: Emit,
  serverPid: number | undefined,
): Promise<void> {
  const mark = () => cpuMark(serverPid);
  switch (s.id) {
    case 'connections':
    case 'new_proxy_calls': {
      const op = (s.id === 'connections' ? d.reconnect : d.newProxyCall)!.bind(d);
      await warmUp(() => repeat(op, s.warmup), s.warmupMs);
      for (let run = 0; run < runs; run++) {
        const sleeps0 = [mainThreadSleeps('self'), mainThreadSleeps(serverPid)] as const;
        const cpu = mark();
        const seconds = await timed(op, s.count);
        const cpuUs = cpuSince(cpu);
        const sleeps: [number | null, number | null] = [
          since(sleeps0[0], mainThreadSleeps('self')),
          since(sleeps0[1], mainThreadSleeps(serverPid)),
        ];
        emit({ type: 'run', scenario: s.id, run, count: s.count, seconds, cpuUs, sleeps });
      }
      return;
    }
    case 'calls': {
      const call = d.call.bind(d);
      await warmUp(() => repeat(call, s.warmup), s.warmupMs);
      const lat = new Float64Array(s.count);
      for (let run = 0; run < runs; run++) {
        const cpu = mark();
        const t0 = now();
        for (let i = 0; i < s.count; i++) {
          const c0 = now();
          await call();
          lat[i] = now() - c0;
        }
        const seconds = (now() - t0) / 1000;
        const cpuUs = cpuSince(cpu);
        lat.sort();
        const latencyUs: [number, number, number] = [
          nearestRank(lat, 0.5) * 1000,
          nearestRank(lat, 0.99) * 1000,
          nearestRank(lat, 0.999) * 1000,
        ];
        emit({ type: 'run', scenario: s.id, run, count: s.count, seconds, latencyUs, cpuUs });
      }
      return;
    }
    case 'oneway': {
      const oneway = d.oneway!.bind(d);
      const burst = async (n: number) => {
        for (let i = 0; i < n; i++) await oneway();
        // The barrier: the server has read (and dispatched) every oneway call before it answers.
        await d.call();
      };
      await warmUp(() => burst(s.warmup), s.warmupMs);
      for (let run = 0; run < runs; run++) {
        const cpu = mark();
        const t0 = now();
        await burst(s.count);
        const seconds = (now() - t0) / 1000;
        emit({ type: 'run', scenario: s.id, run, count: s.count, seconds, cpuUs: cpuSince(cpu) });
      }
      return;
    }
    case 'pipelined16':
    case 'pipelined128': {
      const inFlight = s.inFlight ?? (s.id === 'pipelined16' ? 16 : 128);
      await warmUp(() => pipelined(d, s.warmup, inFlight), s.warmupMs);
      for (let run = 0; run < runs; run++) {
        const cpu = mark();
        const t0 = now();
        await pipelined(d, s.count, inFlight);
        const seconds = (now() - t0) / 1000;
        emit({ type: 'run', scenario: s.id, run, count: s.count, seconds, cpuUs: cpuSince(cpu) });
      }
      return;
    }
    case 'clients1':
    case 'clients8':
    case 'clients64': {
      const n = s.clients ?? 1;
      const clients: ClientConnection[] = [];
      try {
        // Opened before any timing, like the single connection of the other scenarios.
        for (let i = 0; i < n; i++) clients.push(await d.openClient!());
        await warmUp(() => manyClients(clients, Math.max(s.warmup, n)), s.warmupMs);
        for (let run = 0; run < runs; run++) {
          const cpu = mark();
          const t0 = now();
          await manyClients(clients, s.count);
          const seconds = (now() - t0) / 1000;
          emit({ type: 'run', scenario: s.id, run, count: s.count, seconds, cpuUs: cpuSince(cpu) });
        }
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      return;
    }
    case 'batched': {
      const expected = (pairs: number) => pairs * (7 * 6 + 10 + 20);
      const sequential = async (pairs: number) => {
        let total = 0;
        for (let i = 0; i < pairs; i++) {
          total += await d.multiply!(7, 6);
          total += await d.add!(10, 20);
        }
        return total;
      };
      const check = (total: number, pairs: number) => {
        if (total !== expected(pairs)) {
          throw new BenchError('CHECK', `batch results sum to ${total}, expected ${expected(pairs)}`);
        }
      };
      await warmUp(async () => {
        check(await sequential(s.warmup), s.warmup);
        check(await d.batch!(s.warmup), s.warmup);
      }, s.warmupMs);
      // then one untimed batch of the measured size: a batch ten times the warm-up's travels as a
      // frame read in many socket chunks and takes code paths the small ones never reach, and a
      // JIT compiles those during the first such batch; without this the timed batch of a fresh
      // process measured that compilation (0.5-1.5 µs per call against 0.2-0.3 for later batches
      // of the same Node process). Every system gets the same warm-up, python/pyro4_client.py too.
      check(await d.batch!(s.count), s.count);
      for (let run = 0; run < runs; run++) {
        let t0 = now();
        check(await sequential(s.count), s.count);
        const seqSeconds = (now() - t0) / 1000;
        const cpu = mark();
        t0 = now();
        check(await d.batch!(s.count), s.count);
        const seconds = (now() - t0) / 1000;
        const cpuUs = cpuSince(cpu);
        emit({ type: 'run', scenario: s.id, run, count: 2 * s.count, seconds, seqSeconds, cpuUs });
      }
      return;
    }
    default: {
      // transfer, and every point of the transfer curve: the plan gives each call's size
      const sizes = s.sizes ?? [];
      // Built before timing and kept, like every system's client does: the payload is the input,
      // not work of the RPC system.
      const payloads = sizes.map((n) => Buffer.alloc(n, 0x78));
      const send = async (data: Uint8Array) => {
        const got = await d.transfer!(data);
        if (got !== data.length) {
          throw new BenchError('CHECK', `server received ${got} bytes, ${data.length} were sent`);
        }
      };
      await warmUp(async () => {
        // The largest sizes: allocators (glibc's mmap threshold, V8's) only reach their steady state
        // once they have seen the biggest buffer, so small warm-up calls would leave the ramp in the run.
        for (const p of payloads.slice(-s.warmup)) await send(p);
      }, s.warmupMs);
      // transfer: `count` passes over the sizes (a curve point's sizes already hold its count)
      const passes = s.id === 'transfer' ? s.count : 1;
      const bytes = passes * sizes.reduce((a, b) => a + b, 0);
      for (let run = 0; run < runs; run++) {
        const cpu = mark();
        const faults0 = [process.resourceUsage().minorPageFault, processMinorFaults(serverPid)] as const;
        const t0 = now();
        for (let pass = 0; pass < passes; pass++) for (const p of payloads) await send(p);
        const seconds = (now() - t0) / 1000;
        const cpuUs = cpuSince(cpu);
        const server = processMinorFaults(serverPid);
        const faults: [number, number | null] = [
          process.resourceUsage().minorPageFault - faults0[0],
          server === null || faults0[1] === null ? null : server - faults0[1],
        ];
        emit({
          type: 'run',
          scenario: s.id,
          run,
          count: passes * payloads.length,
          seconds,
          bytes,
          cpuUs,
          faults,
        });
      }
      return;
    }
  }
}

/**
 * Repeats one warm-up step (the scenario's warm-up count) until `minMs` have passed. Counting alone
 * is not enough: on this VM a ping-pong pair only reaches its steady rate after about a second of
 * traffic, whatever the language, so a count-only warm-up would time the ramp.
 */
/** `b - a`, or null when either count is unknown. */
function since(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}

async function warmUp(step: () => Promise<unknown>, minMs: number): Promise<void> {
  const t0 = now();
  do await step();
  while (now() - t0 < minMs);
}

async function repeat(op: () => Promise<void>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await op();
}

async function timed(op: () => Promise<void>, n: number): Promise<number> {
  const t0 = now();
  for (let i = 0; i < n; i++) await op();
  return (now() - t0) / 1000;
}

/** `total` calls over all the connections, each making its next call as soon as its last returns. */
async function manyClients(clients: readonly ClientConnection[], total: number): Promise<void> {
  let issued = 0;
  const loop = async (c: ClientConnection) => {
    while (issued < total) {
      issued++;
      await c.call();
    }
  };
  await Promise.all(clients.map(loop));
}

/** `total` calls with `inFlight` lanes, each starting its next call as soon as its last returns. */
async function pipelined(d: ClientDriver, total: number, inFlight: number): Promise<void> {
  let issued = 0;
  const lane = async () => {
    while (issued < total) {
      issued++;
      await d.call();
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(inFlight, total); i++) lanes.push(lane());
  await Promise.all(lanes);
}
