// Interoperability with real Python Pyro4 (Debian's 4.82 under /usr/bin/python3), both ways:
// Pyro4's own tools and proxies against a Cinder name server, and Cinder's client and proxies
// against Pyro4's name server (`pyro4-ns`), which Cinder detects and speaks protocol 48 to.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveConfig, URI } from '@cinder/core';
import { Daemon, expose } from '@cinder/daemon';
import { connect } from '@cinder/proxy';
import { freePort, type StartedChild, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateNS, type RunningNameServer, resolveUri, startNameServer } from '../src/index.js';

const PYTHON = '/usr/bin/python3';
const hasPyro4 = spawnSync(PYTHON, ['-c', 'import Pyro4'], { timeout: 10_000 }).status === 0;
if (!hasPyro4) console.warn(`skipping Python interop: Pyro4 is not importable by ${PYTHON}`);

const run = promisify(execFile);
const config = resolveConfig({}, { useEnvironment: false });
// Pyro4 reads PYRO_* variables: none may leak in from the environment running the tests.
const pythonEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PYRO_') && v !== undefined) env[k] = v;
  return { ...env, PYRO_SERIALIZER: 'serpent', ...extra };
};

@expose
class Calc {
  add(a: number, b: number): number {
    return a + b;
  }
}

describe.skipIf(!hasPyro4)('Python Pyro4 clients against a Cinder name server', () => {
  let ns: RunningNameServer;
  let daemon: Daemon;
  beforeAll(async () => {
    ns = await startNameServer({
      host: '127.0.0.1',
      port: 0,
      bcHost: '127.0.0.1',
      bcPort: 0,
      broadcastOnLoopback: true,
      config,
    });
    daemon = await Daemon.start({ host: '127.0.0.1', port: 0, config });
    await ns.nameServer.register('test.calc', daemon.register(new Calc(), 'calc'), false, ['calc', 'js']);
  });
  afterAll(async () => {
    await daemon?.close({ graceMs: 0 });
    await ns?.close();
  });

  it('pyro4-nsc lists, looks up and registers', async () => {
    const nsc = (...args: string[]) =>
      run(PYTHON, ['-m', 'Pyro4.nsc', '-n', '127.0.0.1', '-p', String(ns.uri.port), ...args], {
        env: pythonEnv(),
        timeout: 20_000,
      });
    const list = await nsc('list');
    expect(list.stdout).toContain(`Pyro.NameServer --> ${ns.uri}`);
    expect(list.stdout).toContain(`test.calc --> ${daemon.uriFor('calc')}`);
    expect((await nsc('lookup', 'test.calc')).stdout).toContain(String(daemon.uriFor('calc')));
    expect((await nsc('register', 'py.thing', 'PYRO:thing@localhost:4444')).stdout).toContain(
      'Registered py.thing',
    );
    expect(String(ns.nameServer.lookup('py.thing'))).toBe('PYRO:thing@localhost:4444');
    expect((await nsc('listmeta_all', 'calc', 'js')).stdout).toContain('test.calc -->');
    expect((await nsc('lookup', 'no.such')).stdout).toContain('NamingError - unknown name: no.such');
    expect((await nsc('remove', 'py.thing')).stdout).toContain('Removed py.thing');
  });

  it('a Pyro4 PYRONAME proxy resolves through it and calls a Cinder object', async () => {
    const script = `
import sys, Pyro4
Pyro4.config.NS_HOST = "127.0.0.1"
Pyro4.config.NS_PORT = int(sys.argv[1])
with Pyro4.Proxy("PYRONAME:test.calc") as p:
    print("add", p.add(20, 22))
ns = Pyro4.locateNS()
ns.register("py.meta", "PYRO:m@localhost:1", metadata={"from-python", "x"})
print("meta", sorted(ns.list(metadata_all={"from-python"}).keys()))
print("lookup", sorted(ns.lookup("py.meta", return_metadata=True)[1]))
print("count", ns.count())
print("removed", ns.remove(prefix="py."))
`;
    const { stdout } = await run(PYTHON, ['-c', script, String(ns.uri.port)], {
      env: pythonEnv(),
      timeout: 20_000,
    });
    expect(stdout).toContain('add 42');
    expect(stdout).toContain("meta ['py.meta']");
    expect(stdout).toContain("lookup ['from-python', 'x']");
    expect(stdout).toContain('count 3');
    expect(stdout).toContain('removed 1');
  });

  it('Pyro4 finds it by broadcast', async () => {
    const script = `
import sys, Pyro4
Pyro4.config.NS_HOST = "127.0.0.1"
Pyro4.config.NS_PORT = int(sys.argv[1])
Pyro4.config.NS_BCPORT = int(sys.argv[2])
Pyro4.config.BROADCAST_ADDRS = "127.0.0.1"
ns = Pyro4.locateNS()
print("found", ns._pyroUri)
`;
    const deadPort = await freePort();
    const { stdout } = await run(PYTHON, ['-c', script, String(deadPort), String(ns.broadcast!.port)], {
      env: pythonEnv(),
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe(`found ${ns.uri}`);
  });
});

describe.skipIf(!hasPyro4)('Cinder against a Python Pyro4 name server', () => {
  let pyNs: StartedChild;
  let port: number;
  let daemon: Daemon;
  beforeAll(async () => {
    port = await freePort();
    pyNs = startChild('-u', ['-m', 'Pyro4.naming', '-n', '127.0.0.1', '-p', String(port), '-x'], {
      command: PYTHON,
      env: pythonEnv(),
    });
    await pyNs.waitForLine(/^NS running on/, 20_000);
    daemon = await Daemon.start({ host: '127.0.0.1', port: 0, config });
  });
  afterAll(async () => {
    await daemon?.close({ graceMs: 0 });
    await pyNs?.stop();
    await stopAllChildren();
  });

  it('the client detects Pyro4 and uses its API', async () => {
    const ns = await locateNS({ host: '127.0.0.1', port, config });
    try {
      expect(ns.isPyro4).toBe(true);
      const uri = daemon.register(new Calc(), 'calc');
      await ns.register('js.calc', uri, { metadata: ['calc', 'node'] });
      expect(String(await ns.lookup('js.calc'))).toBe(String(uri));
      expect(await ns.lookupWithMetadata('js.calc')).toEqual({
        uri,
        metadata: expect.arrayContaining(['calc', 'node']),
      });
      expect((await ns.list({ prefix: 'js.' })).map((r) => r.name)).toEqual(['js.calc']);
      expect((await ns.list({ metadataAll: ['calc', 'node'] })).map((r) => r.name)).toEqual(['js.calc']);
      expect(
        (await ns.list({ metadataAny: ['nothing', 'node'] }, { withMetadata: false })).map((r) => r.uri),
      ).toEqual([String(uri)]);
      await expect(ns.register('js.calc', 'PYRO:x@localhost:1', { safe: true })).rejects.toThrow(
        'name already registered: js.calc',
      );
      await expect(ns.lookup('no.such')).rejects.toThrow('unknown name: no.such');
      expect(await ns.count()).toBe(2);
    } finally {
      await ns.close();
    }
  });

  it('PYRONAME and PYROMETA proxies resolve through it', async () => {
    const proxy = connect<Calc>(`PYRONAME:js.calc@127.0.0.1:${port}`, { config });
    try {
      expect(await proxy.add(1, 2)).toBe(3);
    } finally {
      await proxy.$release();
    }
    const target = await resolveUri(URI.parse(`PYROMETA:node@127.0.0.1:${port}`), { config });
    expect(target.object).toBe('calc');
  });
});
