// Child processes for tests: start a TypeScript or JavaScript file, wait for a line it prints, and
// make sure it is stopped when the test ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tsNodeArgs } from './paths.js';

export interface StartedChild {
  readonly child: ChildProcess;
  /** Every line printed on stdout so far. */
  readonly lines: string[];
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** Resolves with the first stdout line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Sends a signal (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run the file with the TypeScript hooks (default: true for `.ts` files). */
  typescript?: boolean;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Command instead of node (e.g. `/usr/bin/python3`). */
  command?: string;
}

const running = new Set<StartedChild>();

/** Starts `file` with node (or `options.command`) and collects its output. */
export function startChild(file: string, args: string[] = [], options: StartOptions = {}): StartedChild {
  const useTs = options.typescript ?? file.endsWith('.ts');
  const command = options.command ?? process.execPath;
  const argv = options.command
    ? [file, ...args]
    : [...(useTs ? tsNodeArgs() : []), ...(options.nodeArgs ?? []), file, ...args];
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(command, argv, { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let errText = '';
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      const m = line.match(w.pattern);
      if (m) {
        waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    errText += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const started: StartedChild = {
    child,
    lines,
    stderr: () => errText,
    exited,
    waitForLine(pattern, timeoutMs = 15_000) {
      for (const line of lines) {
        const m = line.match(pattern);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${errText}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          pattern,
          resolve: (m: RegExpMatchArray) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        waiters.push(waiter);
        exited.then((code) => {
          const idx = waiters.indexOf(waiter);
          if (idx >= 0) {
            waiters.splice(idx, 1);
            clearTimeout(timer);
            reject(
              new Error(
                `process exited (${code}) before printing ${pattern}; stdout:\n${lines.join('\n')}\nstderr:\n${errText}`,
              ),
            );
          }
        }, reject);
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        running.delete(started);
        return code;
      }
      running.delete(started);
      return exited;
    },
  };
  running.add(started);
  exited.then(() => running.delete(started)).catch(() => {});
  return started;
}

/** Stops every child started through this module that is still running (use in afterAll/afterEach). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop('SIGKILL', 0)));
}
