// Replicated naming: a 3-member etcd cluster on loopback and two cinder-ns replicas sharing it, as
// child processes. A registration acknowledged by one replica is visible through the other at
// once; cinder-nsc and a Python Pyro4 client work against either replica.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { connectNameServer } from '@cinder/naming';
import {
  type EtcdCluster,
  etcdBinary,
  startEtcdCluster,
  stopAllChildren,
  stopAllEtcd,
} from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, nscProcess, type RunningNs, removeCliBundle, startNs } from './helpers.js';

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
