// The test helper that runs etcd clusters: members agree, survive the loss of one, and stop()
// leaves no process and no data directory behind.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { etcdBinary, startEtcdCluster, stopAllEtcd } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

afterAll(stopAllEtcd);

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Through etcd's JSON gateway, so the helper is checked without the client under test. */
async function put(clientUrl: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${clientUrl}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(value) }),
  });
  expect(res.ok).toBe(true);
}

async function get(clientUrl: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${clientUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key) }),
  });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const v = body.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
}

function refused(endpoint: string): Promise<boolean> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe.skipIf(!etcdBinary())('startEtcdCluster', () => {
  it('runs 3 members that replicate, keep serving without one, and stop without leftovers', async () => {
    const cluster = await startEtcdCluster({ members: 3 });
    const [a, b, c] = cluster.members;
    try {
      expect(new Set(cluster.endpoints).size).toBe(3);
      await put(a!.clientUrl, 'k', 'v1');
      expect(await get(c!.clientUrl, 'k')).toBe('v1');
      await cluster.kill(0);
      expect(await refused(a!.endpoint)).toBe(true);
      await cluster.waitHealthy();
      await put(b!.clientUrl, 'k', 'v2');
      expect(await get(c!.clientUrl, 'k')).toBe('v2');
      await cluster.restart(0);
      expect(await get(a!.clientUrl, 'k')).toBe('v2');
    } finally {
      await cluster.stop();
    }
    for (const m of cluster.members) {
      expect(m.process.child.exitCode !== null || m.process.child.signalCode !== null).toBe(true);
      expect(await refused(m.endpoint)).toBe(true);
    }
    expect(existsSync(dirname(a!.dataDir))).toBe(false);
  }, 60_000);
});
