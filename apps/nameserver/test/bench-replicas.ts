// Name-server throughput by storage and number of replicas (a benchmark, not a test): registrations/s
// and lookups/s from concurrent clients spread over the replicas, for memory and SQLite (one
// replica) and etcd (3 members) with one and two replicas, in the same run, rounds alternating.
// (Two replicas on one SQLite file do not work: writers get "database is locked".) Plus the failover time a client sees when its
// replica is SIGKILLed. Run:
//   node --conditions=@cinder/source --import ./tooling/node-ts/register.mjs apps/nameserver/test/bench-replicas.ts [seconds] [rounds]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { locateNS, type NameServerClient } from '@cinder/naming';
import { scratchDir, startEtcdCluster, stopAllChildren, stopAllEtcd } from '@cinder/test-utils';
import { type RunningNs, removeCliBundle, startNs } from './helpers.js';

const SECONDS = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.argv[3] ?? 2);
const CLIENTS = 8;

interface Setup {
  label: string;
  replicas: number;
  storage: () => string;
}

async function phase(
  clients: NameServerClient[],
  ms: number,
  op: (ns: NameServerClient, c: number, n: number) => Promise<unknown>,
) {
  const end = Date.now() + ms;
  const counts = clients.map(() => 0);
  await Promise.all(
    clients.map(async (ns, c) => {
      for (let n = 0; Date.now() < end; n++) {
        await op(ns, c, n);
        counts[c]!++;
      }
    }),
  );
  return { perSecond: counts.reduce((a, b) => a + b, 0) / (ms / 1000), counts };
}

async function measure(replicas: RunningNs[], tag: string) {
  const clients: NameServerClient[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    const r = replicas[c % replicas.length]!;
    clients.push(await locateNS({ host: `127.0.0.1:${r.port}` }));
  }
  try {
    const reg = await phase(clients, SECONDS * 1000, (ns, c, n) =>
      ns.register(`bench.${tag}.c${c}.${n % 500}`, `PYRO:o${n}@127.0.0.1:${1000 + c}`),
    );
    // Only names this client registered (a slow store may have taken fewer than 500).
    const look = await phase(clients, SECONDS * 1000, (ns, c, n) =>
      ns.lookup(`bench.${tag}.c${c}.${n % Math.min(500, reg.counts[c]!)}`),
    );
    return { reg: reg.perSecond, look: look.perSecond };
  } finally {
    await Promise.all(clients.map((ns) => ns.close()));
  }
}

async function failover(replicas: RunningNs[]): Promise<number> {
  const [a, b] = replicas as [RunningNs, RunningNs];
  const ns = await locateNS({ host: `127.0.0.1:${a.port},127.0.0.1:${b.port}` });
  try {
    await ns.register('failover.probe', 'PYRO:x@127.0.0.1:1');
    await a.child.stop('SIGKILL', 0);
    const t0 = performance.now();
    await ns.lookup('failover.probe');
    return performance.now() - t0;
  } finally {
    await ns.close();
  }
}

async function main() {
  const dir = scratchDir('bench-ns');
  const etcd = await startEtcdCluster({ members: 3 });
  let prefix = 0;
  const etcdSpec = () => `etcd://${etcd.endpoints.join(',')}/bench${prefix++}`;
  let file = 0;
  const sqlSpec = () => `sql:${join(dir, `ns${file++}.sqlite`)}`;
  const setups: Setup[] = [
    { label: 'memory, 1 replica', replicas: 1, storage: () => 'memory' },
    { label: 'sql, 1 replica', replicas: 1, storage: sqlSpec },
    { label: 'etcd (3 members), 1 replica', replicas: 1, storage: etcdSpec },
    { label: 'etcd (3 members), 2 replicas', replicas: 2, storage: etcdSpec },
  ];
  const results = new Map<string, { reg: number[]; look: number[] }>();
  const failovers: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const s of order) {
        const spec = s.storage();
        const replicas: RunningNs[] = [];
        for (let i = 0; i < s.replicas; i++)
          replicas.push(
            await startNs(['-n', '127.0.0.1', '-p', '0', '-x', '--log-level', 'warn', '-s', spec]),
          );
        try {
          const r = await measure(replicas, `r${round}`);
          const acc = results.get(s.label) ?? { reg: [], look: [] };
          acc.reg.push(r.reg);
          acc.look.push(r.look);
          results.set(s.label, acc);
          process.stderr.write(`${s.label}: ${r.reg.toFixed(0)} reg/s, ${r.look.toFixed(0)} lookups/s\n`);
          if (s.replicas === 2 && spec.startsWith('etcd')) failovers.push(await failover(replicas));
        } finally {
          await Promise.all(replicas.map((r) => r.child.stop('SIGKILL', 0)));
        }
      }
    }
  } finally {
    await stopAllChildren();
    await stopAllEtcd();
    await removeCliBundle();
    rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (xs: number[]) =>
    `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const base = results.get('memory, 1 replica')!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`| storage, replicas | registrations/s | × memory | lookups/s | × memory |`);
  console.log(`|---|---|---|---|---|`);
  for (const [label, r] of results) {
    console.log(
      `| ${label} | ${fmt(r.reg)} | ${(mean(r.reg) / mean(base.reg)).toFixed(2)} | ${fmt(r.look)} | ${(mean(r.look) / mean(base.look)).toFixed(2)} |`,
    );
  }
  console.log(
    `\n${CLIENTS} clients (one connection each, spread round robin over the replicas), ${SECONDS} s per phase, ${ROUNDS} rounds, mean (min–max).`,
  );
  console.log(
    `failover (first call after the client's replica was SIGKILLed): ${failovers.map((f) => f.toFixed(1)).join(', ')} ms`,
  );
}

await main();
