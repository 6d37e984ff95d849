// Python Pyro4 peers for the interop tests: whether they can run here, a clean environment for them,
// a long-lived Python driver (packages/integration/python/pyro_repl.py) that runs Pyro4 client code
// sent from a test, and a Python Pyro4 daemon (pyro4_server.py) in its own process.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type StartedChild, startChild } from '@cinder/test-utils';
import { describe } from 'vitest';

export const PYTHON = '/usr/bin/python3';
const pythonDir = fileURLToPath(new URL('../python/', import.meta.url));

/** Why the Python peer cannot run here, or undefined when it can. */
export const pyro4Missing: string | undefined = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import Pyro4, serpent, msgpack'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (probe.status === 0) return undefined;
  const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`;
  return `Python Pyro4 is not available (${PYTHON} -c 'import Pyro4': ${why}); install python3-pyro4 python3-serpent python3-msgpack`;
})();

/** `describe` for tests that need Python Pyro4: skipped, with the reason in the title, without it. */
export function describeWithPyro4(title: string, body: () => void): void {
  if (pyro4Missing === undefined) describe(title, body);
  else describe.skip(`${title} (skipped: ${pyro4Missing})`, body);
}

/**
 * The environment of a Python peer: no PYRO_* variable of ours can change its configuration, a
 * fixed hash seed keeps set order stable, and no bytecode files are written into the repository.
 */
export function pythonEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('PYRO_')) env[key] = undefined;
  return { ...env, PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...extra };
}

/** What one piece of Python code gave back. */
export type PyAnswer =
  | { ok: true; repr: string; type: string; value: unknown }
  | {
      ok: false;
      type: string;
      message: string;
      args: string;
      attributes: string;
      traceback: string | null;
      local_traceback: string;
    };

/** A Python exception, thrown by `PythonRepl.eval`/`exec` when the code raised. */
export class PythonError extends Error {
  override name = 'PythonError';
  constructor(readonly answer: Extract<PyAnswer, { ok: false }>) {
    super(`${answer.type}: ${answer.message}`);
  }
}

/**
 * The Python driver: Pyro4 client code runs in one persistent namespace (`proxy(uri, serializer,
 * hmac)` and `start_daemon(*objects)` are defined there). One process serves a whole test file.
 */
export class PythonRepl {
  private next = 1;
  private readonly waiting = new Map<number, (answer: PyAnswer) => void>();
  private stderr = '';
  private exited = false;

  private constructor(private readonly child: ReturnType<typeof spawn>) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as PyAnswer & { id: number };
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    child.on('exit', () => {
      this.exited = true;
    });
  }

  static start(): PythonRepl {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(pythonEnv())) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const child = spawn(PYTHON, [`${pythonDir}pyro_repl.py`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    return new PythonRepl(child);
  }

  /** Runs Python code and resolves with its answer (exceptions included). */
  run(op: 'exec' | 'eval', code: string, timeoutMs = 15_000): Promise<PyAnswer> {
    if (this.exited) return Promise.reject(new Error(`the Python driver has exited:\n${this.stderr}`));
    const id = this.next++;
    return new Promise<PyAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`Python did not answer within ${timeoutMs} ms: ${code}\n${this.stderr}`));
      }, timeoutMs);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.child.stdin!.write(`${JSON.stringify({ id, op, code })}\n`);
    });
  }

  /** Evaluates a Python expression: its repr, type and (plain JSON) value. Throws PythonError. */
  async eval(code: string, timeoutMs?: number): Promise<{ repr: string; type: string; value: unknown }> {
    const answer = await this.run('eval', code, timeoutMs);
    if (!answer.ok) throw new PythonError(answer);
    return answer;
  }

  /** The repr of a Python expression's value. */
  async repr(code: string, timeoutMs?: number): Promise<string> {
    return (await this.eval(code, timeoutMs)).repr;
  }

  /** Runs Python statements. Throws PythonError. */
  async exec(code: string, timeoutMs?: number): Promise<void> {
    const answer = await this.run('exec', code, timeoutMs);
    if (!answer.ok) throw new PythonError(answer);
  }

  /** The exception a Python expression or statement raises (fails when it raises none). */
  async raises(code: string, timeoutMs?: number): Promise<Extract<PyAnswer, { ok: false }>> {
    const answer = await this.run('exec', code, timeoutMs);
    if (answer.ok) throw new Error(`expected Python to raise: ${code}`);
    return answer;
  }

  /** Ends the process (stdin closed, then SIGKILL if it lingers). */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await done;
    clearTimeout(timer);
  }
}

export interface PythonServer {
  child: StartedChild;
  /** The URI of `test.thing`. */
  uri: string;
  /** The URI of another object of the same daemon. */
  uriOf(objectId: string): string;
}

/** Starts pyro4_server.py (options: --hmac-key, --unix, --serializers, --compression). */
export async function startPythonServer(args: string[] = []): Promise<PythonServer> {
  const child = startChild(`${pythonDir}pyro4_server.py`, args, { command: PYTHON, env: pythonEnv() });
  const [, uri] = (await child.waitForLine(/^URI = (.+)$/, 20_000)) as unknown as [string, string];
  return { child, uri, uriOf: (objectId) => uri.replace('test.thing@', `${objectId}@`) };
}

/** A Python string literal for `text` (for building code). */
export function py(text: string): string {
  return JSON.stringify(text);
}
