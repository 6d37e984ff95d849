// Replicated naming: a 3-member etcd cluster on loopback and two cinder-ns replicas sharing it, as
// child processes. A registration acknowledged by one replica is visible through the other at
// once; cinder-nsc and a Python Pyro4 client work against either replica. Then the failures: an
// etcd member and a replica SIGKILLed during a flood of registrations (clients fail over, no
// acknowledged registration is lost), a daemon's TTL registration disappearing after it is killed,
// auto-clean moving to the surviving replica, and a PYRONAME proxy rebinding to a moved object.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from '@cinder/cinder';
import { connectNameServer, followName, locateNS, type NameServerClient } from '@cinder/naming';
import {
  type EtcdCluster,
  etcdBinary,
  freePort,
  type StartedChild,
  startChild,
  startEtcdCluster,
  stopAllChildren,
  stopAllEtcd,
} from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, cliBundle, nscProcess, type RunningNs, removeCliBundle, startNs } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const hasPyro4 = spawnSync(PYTHON, ['-c', 'import Pyro4'], { timeout: 10_000 }).status === 0;
const run = promisify(execFile);

afterAll(async () => {
  await stopAllChildren();
  await stopAllEtcd();
  await removeCliBundle();
});

describe.skipIf(!etcdBinary())('cinder-ns replicas on one etcd cluster', () => {
  let etcd: EtcdCluster;
  let a: RunningNs;
  let b: RunningNs;
  let spec: string;
  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 3 });
    spec = `etcd://${etcd.endpoints.join(',')}/replicas`;
    const replica = () => startNs(['-n', '127.0.0.1', '-p', '0', '-x', '--log-level', 'warn', '-s', spec]);
    [a, b] = await Promise.all([replica(), replica()]);
  }, 60_000);

  it('shows a registration made through one replica through the other at once', async () => {
    const [pa, pb] = await Promise.all([connectNameServer(a.uri), connectNameServer(b.uri)]);
    try {
      for (let i = 0; i < 50; i++) {
        const [from, to] = i % 2 === 0 ? [pa, pb] : [pb, pa];
        const uri = `PYRO:obj${i}@127.0.0.1:${1000 + i}`;
        await from.register(`x.${i}`, uri, { metadata: [`t${i % 3}`] });
        // The next call after the acknowledgement, on the other replica, must see it.
        expect(String(await to.lookup(`x.${i}`))).toBe(uri);
      }
      expect(await pa.list({ prefix: 'x.' })).toHaveLength(50);
      expect(await pb.list({ metadataAll: ['t1'] })).toHaveLength(17);
      expect(await pb.remove({ prefix: 'x.' })).toBe(50);
      expect(await pa.list({ prefix: 'x.' })).toEqual([]);
      // Each replica answers Pyro.NameServer with itself.
      expect(String(await pa.lookup('Pyro.NameServer'))).toBe(a.uri);
      expect(String(await pb.lookup('Pyro.NameServer'))).toBe(b.uri);
    } finally {
      await Promise.all([pa.close(), pb.close()]);
    }
  });

  it('refuses a safe registration of a taken name through the other replica', async () => {
    const [pa, pb] = await Promise.all([connectNameServer(a.uri), connectNameServer(b.uri)]);
    try {
      await pa.register('safe.one', 'PYRO:a@127.0.0.1:1', { safe: true });
      await expect(pb.register('safe.one', 'PYRO:b@127.0.0.1:2', { safe: true })).rejects.toThrow(
        /already registered/,
      );
      expect(String(await pb.lookup('safe.one'))).toBe('PYRO:a@127.0.0.1:1');
    } finally {
      await Promise.all([pa.close(), pb.close()]);
    }
  });

  it('cinder-nsc registers through one replica and looks up through the other', async () => {
    const at = (ns: RunningNs) => ['-n', '127.0.0.1', '-p', String(ns.port)];
    const reg = await nscProcess([...at(a), 'register', 'nsc.thing', 'PYRO:thing@127.0.0.1:4444']);
    expect(reg.code, reg.stderr).toBe(0);
    const look = await nscProcess([...at(b), 'lookup', 'nsc.thing']);
    expect(look.stdout).toBe('PYRO:thing@127.0.0.1:4444\n');
    // A list whose first replica is dead: the next one answers.
    const dead = await freePort();
    const listed = await nscProcess(['-n', `127.0.0.1:${dead},127.0.0.1:${a.port}`, 'lookup', 'nsc.thing']);
    expect(listed.stdout, listed.stderr).toBe('PYRO:thing@127.0.0.1:4444\n');
  });

  it.skipIf(!hasPyro4)(
    'a Python Pyro4 client registers, lists and resolves PYRONAME through a replica',
    async () => {
      const script = `
import sys, Pyro4
Pyro4.config.SERIALIZER = "serpent"
ns = Pyro4.locateNS("127.0.0.1", int(sys.argv[1]))
ns.register("py.replica", "PYRO:py@127.0.0.1:5555", metadata={"py"})
print(sorted(ns.list(prefix="py.").items()))
print(ns.lookup("py.replica", return_metadata=True)[1])
Pyro4.config.NS_PORT = int(sys.argv[2])
with Pyro4.Proxy("PYRONAME:Pyro.NameServer") as p:
    print(p.lookup("py.replica"))
`;
      const out = await run(PYTHON, ['-c', script, String(a.port), String(b.port)], {
        env: cleanEnv(),
        timeout: 30_000,
      });
      expect(out.stdout).toBe("[('py.replica', 'PYRO:py@127.0.0.1:5555')]\n['py']\nPYRO:py@127.0.0.1:5555\n");
    },
  );
});

const LEADING = /"msg":"leading autoclean"/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns true; the time it took, or a failure after `limitMs`. */
async function until(check: () => Promise<boolean>, limitMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(100);
  }
  return Date.now() - t0;
}

describe.skipIf(!etcdBinary())('replicated naming under failures', () => {
  let etcd: EtcdCluster;
  let a: RunningNs;
  let b: RunningNs;
  let both: string;
  const daemons: StartedChild[] = [];
  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 3 });
    const spec = `etcd://${etcd.endpoints.join(',')}/failures`;
    const replica = () =>
      startNs(['-n', '127.0.0.1', '-p', '0', '-x', '--log-level', 'info', '--autoclean', '3000', '-s', spec]);
    // a starts first and wins the auto-clean election; b waits as the standby.
    a = await replica();
    await until(async () => LEADING.test(a.child.stderr()), 10_000, 'a leads autoclean');
    b = await replica();
    both = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL', 0)));
  });

  const startDaemon = async (name: string, label: string, ttlMs: number, replicas = both) => {
    const child = startChild((await cliBundle()).ttlDaemon, [replicas, name, label, String(ttlMs)], {
      env: cleanEnv(),
    });
    daemons.push(child);
    const m = await child.waitForLine(/^READY (\S+) (\d+)$/, 30_000);
    return { child, uri: m[1]!, lease: m[2]! };
  };

  it('a TTL registration disappears after its daemon is SIGKILLed, and stays while it lives', async () => {
    const ns = await locateNS({ host: both });
    try {
      const d = await startDaemon('ttl.one', 'one', 2000);
      await sleep(3000); // longer than the TTL: the renewals keep it
      expect(String(await ns.lookup('ttl.one'))).toBe(d.uri);
      await d.child.stop('SIGKILL', 0);
      const gone = await until(
        async () => (await ns.list({ prefix: 'ttl.one' })).length === 0,
        8000,
        'TTL registration removed',
      );
      console.log(`ttl: registration of a SIGKILLed daemon gone after ${gone} ms (TTL 2000 ms)`);
    } finally {
      await ns.close();
    }
  }, 30_000);

  it('a PYRONAME proxy rebinds when its object moves to another daemon', async () => {
    const one = await startDaemon('moving', 'one', 5000);
    const proxy = connect<{ where(): Promise<string> }>('PYRONAME:moving', {
      config: { nsHost: both },
      maxRetries: 3,
    });
    try {
      expect(await proxy.where()).toBe('one');
      await startDaemon('moving', 'two', 5000);
      await one.child.stop('SIGKILL', 0);
      expect(await proxy.where()).toBe('two');
    } finally {
      await proxy.$release();
    }
  }, 30_000);

  it('a PYRONAME proxy told that its name moved rebinds on its next call, the old daemon still alive', async () => {
    const one = await startDaemon('follow', 'one', 5000);
    const proxy = connect<{ where(): Promise<string> }>('PYRONAME:follow', { config: { nsHost: both } });
    // The watch goes to replica a; the new registration comes through replica b.
    const follow = await followName(proxy, { config: { nsHost: both } });
    try {
      expect(await proxy.where()).toBe('one');
      await startDaemon('follow', 'two', 5000, `127.0.0.1:${b.port}`);
      const took = await until(async () => (await proxy.where()) === 'two', 5000, 'proxy follows its name');
      console.log(
        `follow: proxy on the new daemon within ${took} ms of its registration (polling every 100 ms)`,
      );
      expect(one.child.child.exitCode).toBeNull(); // not a failover: the old daemon still serves
    } finally {
      await follow.stop();
      await proxy.$release();
      await one.child.stop('SIGKILL', 0);
    }
  }, 30_000);

  it('runs auto-clean on exactly one replica', async () => {
    await sleep(1500);
    expect(LEADING.test(a.child.stderr())).toBe(true);
    expect(LEADING.test(b.child.stderr())).toBe(false);
  });

  it('keeps serving a flood of registrations through an etcd member and a replica being SIGKILLed; no acknowledged registration is lost', async () => {
    const clients: NameServerClient[] = [];
    for (let i = 0; i < 4; i++) {
      // Spread over both replicas: half start on a, half on b; each can fail over to the other.
      const order = i % 2 === 0 ? both : `127.0.0.1:${b.port},127.0.0.1:${a.port}`;
      clients.push(await locateNS({ host: order }));
    }
    const acked: string[][] = clients.map(() => []);
    const failed = clients.map(() => 0);
    let stop = false;
    let replicaKilledAt = 0;
    const firstAckAfterKill: number[] = clients.map(() => 0);
    const flood = clients.map(async (ns, c) => {
      for (let n = 0; !stop; n++) {
        const name = `flood.c${c}.${n}`;
        try {
          await ns.register(name, `PYRO:o${n}@127.0.0.1:${1000 + c}`, { timeoutMs: 10_000 });
          acked[c]!.push(name);
          if (replicaKilledAt > 0 && firstAckAfterKill[c] === 0) firstAckAfterKill[c] = Date.now();
        } catch {
          failed[c]!++;
          await sleep(20);
        }
      }
    });
    try {
      await sleep(1000);
      const beforeKills = acked.map((x) => x.length);
      await etcd.kill(0);
      await sleep(1000);
      replicaKilledAt = Date.now();
      await a.child.stop('SIGKILL', 0);
      // Go on for 2 s, and until every client has been served since the kill (bounded).
      await sleep(2000);
      await until(
        async () => firstAckAfterKill.every((t) => t > 0),
        20_000,
        'every client served again',
      ).catch(() => 0);
      stop = true;
      await Promise.all(flood);
      const total = acked.reduce((n, x) => n + x.length, 0);
      const report = `acked before the kills ${beforeKills}, in all ${acked.map((x) => x.length)}, failed calls ${failed}`;
      for (let c = 0; c < clients.length; c++) {
        // Every client kept registering after both kills, the ones that started on a included.
        expect(acked[c]!.length, `client ${c}: ${report}`).toBeGreaterThan(beforeKills[c]!);
        expect(firstAckAfterKill[c], `client ${c} served after the replica died: ${report}`).toBeGreaterThan(
          0,
        );
      }
      // Every acknowledged registration is there, through the surviving replica.
      const survivor = await connectNameServer(b.uri);
      try {
        const listed = new Map((await survivor.list({ prefix: 'flood.' })).map((r) => [r.name, r.uri]));
        let missing = 0;
        for (const names of acked) for (const name of names) if (!listed.has(name)) missing++;
        expect(missing).toBe(0);
        expect(listed.size).toBeGreaterThanOrEqual(total);
      } finally {
        await survivor.close();
      }
      const failover = firstAckAfterKill.map((t) => t - replicaKilledAt);
      console.log(
        `flood: ${total} acknowledged registrations from 4 clients, ${failed.reduce((x, y) => x + y, 0)} failed calls; ` +
          `first acknowledgement after the replica kill per client: ${failover.join(', ')} ms`,
      );
    } finally {
      stop = true;
      await Promise.all(flood);
      await Promise.all(clients.map((ns) => ns.close()));
    }
  }, 60_000);

  it('auto-clean moves to the surviving replica', async () => {
    // a, the leader, was SIGKILLed above; b takes over once a's election session expires.
    const took = await until(async () => LEADING.test(b.child.stderr()), 10_000, 'b leads autoclean');
    console.log(`autoclean: b leading ${took} ms after the flood test ended (session TTL 3 s)`);
    const ns = await connectNameServer(b.uri);
    try {
      await ns.register('dead.one', 'PYRO:gone@127.0.0.1:1');
      const removed = await until(
        async () => (await ns.list({ prefix: 'dead.' })).length === 0,
        15_000,
        'autoclean removes a dead registration',
      );
      console.log(`autoclean: dead registration removed by the surviving replica after ${removed} ms`);
    } finally {
      await ns.close();
    }
  }, 40_000);
});
