// etcd clusters for tests: 1 or 3 members of Debian's etcd (`etcd-server`) as child processes on
// free loopback ports, each with its own data directory under one temporary directory (tmpfs when
// there is one: raft fsyncs every write), with election and heartbeat times short enough for
// tests. stop() kills every member and removes the directory; stopAllEtcd() does it for every
// cluster still running (afterAll).
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type StartedChild, startChild } from './child.js';
import { freePort } from './ports.js';

/** The etcd executable on PATH (or /usr/bin/etcd), or undefined when etcd is not installed. */
export function etcdBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  for (const dir of dirs) {
    const file = join(dir, 'etcd');
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:port` */
  readonly clientUrl: string;
  /** `127.0.0.1:port`, as the etcd client and `etcd://` storage specs take it. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The running process (replaced by restart()). */
  process: StartedChild;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** `host:port` of every member. */
  readonly endpoints: readonly string[];
  /** Kills one member (SIGKILL by default) and waits for its exit. */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a killed member again with its data directory; resolves once it is healthy. */
  restart(index: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every running member reports itself healthy (a leader is known). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every member and removes the data directories. */
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  /** Number of members (default 1). */
  members?: number;
  /** Raft heartbeat interval (default 50 ms). */
  heartbeatMs?: number;
  /** Raft election timeout (default 500 ms). */
  electionMs?: number;
  /** Time allowed for the cluster to become healthy (default 20 s). */
  timeoutMs?: number;
}

const clusters = new Set<EtcdCluster>();

/** etcd takes every ETCD_* environment variable as a flag: a child must not inherit ours. */
function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('ETCD')) env[key] = undefined;
  return env;
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && (body.health === 'true' || body.health === true);
  } catch {
    return false;
  }
}

function running(m: EtcdMember): boolean {
  return m.process.child.exitCode === null && m.process.child.signalCode === null;
}

/** Starts an etcd cluster of `members` (default 1) members on loopback; see EtcdClusterOptions. */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const binary = etcdBinary();
  if (!binary) throw new Error('etcd is not installed (Debian: apt-get install etcd-server)');
  const count = options.members ?? 1;
  const base = (() => {
    try {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    } catch {
      return tmpdir();
    }
  })();
  const dir = mkdtempSync(join(base, 'cinder-etcd-'));
  const token = `cinder-test-${process.pid}-${Date.now().toString(36)}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < count; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      endpoint: `127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: join(dir, `m${i}`),
      process: undefined as unknown as StartedChild,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const spawnMember = (m: EtcdMember, state: 'new' | 'existing') => {
    // startChild takes the command's first argument as `file`.
    m.process = startChild(
      `--name=${m.name}`,
      [
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        `--initial-cluster-state=${state}`,
        `--heartbeat-interval=${options.heartbeatMs ?? 50}`,
        `--election-timeout=${options.electionMs ?? 500}`,
        '--logger=zap',
        '--log-level=error',
      ],
      { command: binary, env: cleanEnv() },
    );
  };
  for (const m of members) spawnMember(m, 'new');

  const killed = new Set<EtcdMember>();
  const waitHealthy = async (timeoutMs = options.timeoutMs ?? 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = members.filter(running);
      const dead = members.find((m) => !running(m) && !killed.has(m));
      if (dead) throw new Error(`etcd member ${dead.name} exited: ${dead.process.stderr().slice(-2000)}`);
      const ok = await Promise.all(live.map((m) => healthy(m.clientUrl)));
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `etcd cluster not healthy within ${timeoutMs} ms: ${live.map((m) => m.process.stderr().slice(-500)).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let stopped = false;
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async kill(index, signal = 'SIGKILL') {
      const m = members[index]!;
      killed.add(m);
      await m.process.stop(signal, 2000);
    },
    async restart(index, timeoutMs) {
      const m = members[index]!;
      if (running(m)) return;
      killed.delete(m);
      spawnMember(m, 'existing');
      await waitHealthy(timeoutMs);
    },
    waitHealthy,
    async stop() {
      if (stopped) return;
      stopped = true;
      clusters.delete(cluster);
      for (const m of members) killed.add(m);
      await Promise.all(members.map((m) => m.process.stop('SIGKILL', 0)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);
  try {
    await waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Stops every cluster started through this module that is still running (afterAll/afterEach). */
export async function stopAllEtcd(): Promise<void> {
  await Promise.all([...clusters].map((c) => c.stop()));
}
