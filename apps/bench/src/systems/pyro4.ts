// Python Pyro4 baseline: Debian's Pyro4 4.82 under /usr/bin/python3, running the same scenarios
// with the scripts in ../../python. The server accepts every serializer; the client picks one, so
// each serializer is its own measurement. Skipped with a clear reason when Pyro4 is not importable.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ClientPlan, ServerPlan } from '../messages.js';
import { systemScenarios } from '../scenarios.js';
import type { Command, ProbeResult, SystemSpec } from '../system.js';

/** Debian's interpreter: the `python3` first on PATH on these machines cannot see Debian's Pyro4. */
export const PYTHON = '/usr/bin/python3';
/** The Pyro4 server's THREADPOOL_SIZE: room for the 64 connections of clients64, and a few more. */
export const PYRO4_THREADPOOL_SIZE = 80;
export const PYRO4_SERIALIZERS: readonly string[] = ['serpent', 'json', 'msgpack', 'marshal', 'pickle'];

const pythonDir = fileURLToPath(new URL('../../python/', import.meta.url));

const PROBE = `
import json, sys
import Pyro4, serpent
out = {"python": sys.version.split()[0], "pyro4": Pyro4.__version__, "serpent": serpent.__version__}
try:
    import msgpack
    out["msgpack"] = ".".join(str(p) for p in msgpack.version)
except Exception as e:
    out["msgpack_error"] = str(e)
print(json.dumps(out))
`;

async function probe(): Promise<ProbeResult> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(PYTHON, ['-E', '-c', PROBE], { timeout: 20_000 }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why =
      e.code === 'ENOENT' ? `${PYTHON} not found` : (e.stderr ?? e.message).trim().split('\n').pop();
    return {
      available: false,
      reason: `\`${PYTHON} -c 'import Pyro4'\` failed (${why}); install python3-pyro4 python3-serpent python3-msgpack`,
    };
  }
  const info = JSON.parse(stdout) as Record<string, string>;
  const { msgpack_error: msgpackError, ...versions } = info;
  return {
    available: true,
    versions,
    ...(msgpackError
      ? { unavailableSerializers: { msgpack: `python msgpack missing: ${msgpackError}` } }
      : {}),
  };
}

/** Python children see no inherited PYRO_* variable: the environment must not change the results. */
function python(script: string, plan: ServerPlan | ClientPlan, env: Record<string, string> = {}): Command {
  return {
    command: PYTHON,
    args: ['-E', `${pythonDir}${script}`, JSON.stringify(plan)],
    env,
    clearEnvPrefixes: ['PYRO_'],
  };
}

export const pyro4Spec: SystemSpec = {
  id: 'pyro4',
  label: 'Pyro4',
  serializers: PYRO4_SERIALIZERS,
  // The transfer curve with the serializers that carry bytes as bytes (json cannot, serpent as base64).
  scenarios: systemScenarios(['pipelined16', 'pipelined128'], ['msgpack', 'marshal', 'pickle']),
  probe,
  serverCommand: (plan) =>
    python('pyro4_server.py', plan, {
      PYRO_SERIALIZERS_ACCEPTED: PYRO4_SERIALIZERS.join(','),
      // One worker thread per connection: the default pool of 40 refuses clients64's 41st
      // connection ("no free workers"). 80 is Pyro5's default.
      PYRO_THREADPOOL_SIZE: String(PYRO4_THREADPOOL_SIZE),
    }),
  clientCommand: (plan) => python('pyro4_client.py', plan),
};
