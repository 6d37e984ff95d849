// Running the two tools in tests: cinder-ns and cinder-nsc as real processes, or cinder-nsc
// in-process through runNsc with captured output. The processes run the current sources, bundled
// once per test file with esbuild: the same code as dist/, but no build step needed and a start
// several times cheaper than loading every source file through the TypeScript hooks.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StartedChild, scratchDir, startChild } from '@cinder/test-utils';
import { build } from 'esbuild';
import { runNsc } from '../src/nsc-cli.js';

const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
// better-sqlite3 is native, and etcd3 loads its .proto file from beside itself: both stay separate
// modules, loaded from where @cinder/naming finds them.
const namingRequire = createRequire(
  fileURLToPath(new URL('../../../packages/naming/package.json', import.meta.url)),
);
const sqlitePath = namingRequire.resolve('better-sqlite3');
const etcd3Path = namingRequire.resolve('etcd3');

export interface CliBundle {
  ns: string;
  nsc: string;
  /** test/fixtures/ttl-daemon.ts: a daemon registering itself with a time to live. */
  ttlDaemon: string;
  dir: string;
}

let bundle: Promise<CliBundle> | undefined;

/** Bundles src/ns.ts and src/nsc.ts (once per test file); remove it with removeCliBundle(). */
export function cliBundle(): Promise<CliBundle> {
  bundle ??= (async () => {
    const dir = scratchDir('cli');
    await build({
      entryPoints: {
        ns: join(srcDir, 'ns.ts'),
        nsc: join(srcDir, 'nsc.ts'),
        'ttl-daemon': fileURLToPath(new URL('./fixtures/ttl-daemon.ts', import.meta.url)),
      },
      outdir: dir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'es2022',
      conditions: ['@cinder/source'],
      // CommonJS dependencies (pino) call require() for Node built-ins.
      banner: {
        js: "import { createRequire as $req } from 'node:module'; const require = $req(import.meta.url);",
      },
      plugins: [
        {
          name: 'native-modules',
          setup(b) {
            b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqlitePath, external: true }));
            b.onResolve({ filter: /^etcd3$/ }, () => ({ path: etcd3Path, external: true }));
          },
        },
      ],
      logLevel: 'error',
    });
    return { ns: join(dir, 'ns.js'), nsc: join(dir, 'nsc.js'), ttlDaemon: join(dir, 'ttl-daemon.js'), dir };
  })();
  return bundle;
}

export async function removeCliBundle(): Promise<void> {
  if (!bundle) return;
  const { dir } = await bundle;
  rmSync(dir, { recursive: true, force: true });
  bundle = undefined;
}

/** The environment without CINDER_* / PYRO_* variables, so the caller's settings cannot leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('CINDER_') && !k.startsWith('PYRO_')) env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunningNs {
  child: StartedChild;
  uri: string;
  port: number;
}

/** Starts cinder-ns with `args` and waits for its `URI = …` line. */
export async function startNs(args: string[], env: Record<string, string> = {}): Promise<RunningNs> {
  const child = startChild((await cliBundle()).ns, args, { env: { ...cleanEnv(), ...env } });
  const m = await child.waitForLine(/^URI = (PYRO:Pyro\.NameServer@.+)$/, 30_000);
  const uri = m[1]!;
  return { child, uri, port: Number(uri.slice(uri.lastIndexOf(':') + 1)) };
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs cinder-nsc as a process. */
export async function nscProcess(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const { nsc } = await cliBundle();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [nsc, ...args],
      { env: { ...cleanEnv(), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs cinder-nsc in this process (same code as the executable, without the process start). */
export async function nsc(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runNsc(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: { ...cleanEnv(), ...env },
  });
  return { code, stdout, stderr };
}

/** Runs cinder-ns where it is expected to exit by itself (bad usage, port in use…). */
export async function nsExpectingExit(
  args: string[],
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = startChild((await cliBundle()).ns, args, { env: cleanEnv() });
  const timer = setTimeout(() => {
    child.stop('SIGKILL').catch(() => {});
  }, 30_000);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.lines.map((l) => `${l}\n`).join(''), stderr: child.stderr() };
}

/** A UDP port that was free a moment ago. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
