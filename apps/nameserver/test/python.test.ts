// The tools against real Python Pyro4 (/usr/bin/python3, Debian's 4.82): Pyro4's pyro4-nsc and a
// Pyro4 PYRONAME proxy against the cinder-ns process, and cinder-nsc against Pyro4's own name
// server — detecting its protocol by itself, or told with --protocol 48 --serializer serpent.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, type StartedChild, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, nsc, nscProcess, type RunningNs, removeCliBundle, startNs } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const hasPyro4 = spawnSync(PYTHON, ['-c', 'import Pyro4'], { timeout: 10_000 }).status === 0;
if (!hasPyro4) console.warn(`skipping Python interop: Pyro4 is not importable by ${PYTHON}`);
const run = promisify(execFile);

afterAll(async () => {
  await stopAllChildren();
  await removeCliBundle();
});

describe.skipIf(!hasPyro4)('Python Pyro4 against cinder-ns', () => {
  let ns: RunningNs;
  beforeAll(async () => {
    ns = await startNs(['-n', '127.0.0.1', '-p', '0', '-x', '--log-level', 'warn']);
  });

  it('pyro4-nsc registers and lists; a Pyro4 proxy resolves PYRONAME through it', async () => {
    const env = { ...cleanEnv(), PYRO_SERIALIZER: 'serpent' };
    const pyNsc = (...args: string[]) =>
      run(PYTHON, ['-m', 'Pyro4.nsc', '-n', '127.0.0.1', '-p', String(ns.port), ...args], {
        env,
        timeout: 20_000,
      });
    expect((await pyNsc('register', 'py.ns', ns.uri)).stdout).toContain('Registered py.ns');
    const list = await pyNsc('list');
    expect(list.stdout).toContain(`Pyro.NameServer --> ${ns.uri}`);
    expect(list.stdout).toContain(`py.ns --> ${ns.uri}`);
    // A Pyro4 proxy by name: the entry points at the name server itself, so count() answers.
    const script = `
import sys, Pyro4
Pyro4.config.NS_HOST = "127.0.0.1"
Pyro4.config.NS_PORT = int(sys.argv[1])
with Pyro4.Proxy("PYRONAME:py.ns") as p:
    print("count", p.count())
`;
    expect((await run(PYTHON, ['-c', script, String(ns.port)], { env, timeout: 20_000 })).stdout).toBe(
      'count 2\n',
    );
    // …and cinder-nsc sees what Python registered.
    expect((await nscProcess(['-n', '127.0.0.1', '-p', String(ns.port), 'lookup', 'py.ns'])).stdout).toBe(
      `${ns.uri}\n`,
    );
  });
});

describe.skipIf(!hasPyro4)('cinder-nsc against Python pyro4-ns', () => {
  let pyNs: StartedChild;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    pyNs = startChild('-u', ['-m', 'Pyro4.naming', '-n', '127.0.0.1', '-p', String(port), '-x'], {
      command: PYTHON,
      env: cleanEnv(),
    });
    await pyNs.waitForLine(/^NS running on/, 20_000);
  });
  afterAll(async () => {
    await pyNs?.stop();
  });

  it('detects Pyro4 by itself', async () => {
    const at = ['-n', '127.0.0.1', '-p', String(port)];
    expect(await nscProcess([...at, 'register', 'js.thing', 'PYRO:thing@localhost:4321'])).toMatchObject({
      code: 0,
      stdout: 'Registered js.thing\n',
    });
    expect(await nsc([...at, 'setmeta', 'js.thing', 'blue', 'round'])).toMatchObject({ code: 0 });
    const list = await nsc([...at, 'list']);
    expect(list.stdout).toContain('js.thing --> PYRO:thing@localhost:4321\n    metadata: blue, round\n');
    expect(list.stdout).toContain(`Pyro.NameServer --> PYRO:Pyro.NameServer@127.0.0.1:${port}\n`);
    // Pyro4 has no yplookup: the client uses list(metadata_all=…) instead.
    expect(JSON.parse((await nsc([...at, '--json', 'yplookup_all', 'blue', 'round'])).stdout)).toEqual({
      'js.thing': { uri: 'PYRO:thing@localhost:4321', metadata: ['blue', 'round'] },
    });
    expect(await nsc([...at, 'lookup', 'nope'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'cinder-nsc: error: NamingError: unknown name: nope\n',
    });
  });

  it('works when told the protocol and serializer', async () => {
    const at = ['-n', '127.0.0.1', '-p', String(port), '--protocol', '48', '--serializer', 'serpent'];
    expect(await nsc([...at, 'ping'])).toEqual({ code: 0, stdout: 'Name server ping ok.\n', stderr: '' });
    expect(await nsc([...at, 'register', 'js.two', 'PYRO:two@localhost:2'])).toMatchObject({ code: 0 });
    expect(await nsc([...at, '--yes', 'removematching', 'js\\..*'])).toMatchObject({ code: 0 });
    expect(JSON.parse((await nsc([...at, '--json', 'count'])).stdout)).toEqual({ count: 1 });
  });
});
