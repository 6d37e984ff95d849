// Child processes of the bench: spawning with a controlled environment, reading their JSON lines,
// sampling their peak RSS (VmHWM in /proc/<pid>/status), and making sure none survives the bench,
// whether it ends normally, fails, or is interrupted with Ctrl-C.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BenchError } from './errors.js';
import { type ChildMessage, parseChildMessage } from './messages.js';
import type { Command } from './system.js';

const live = new Set<Child>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

/** Peak resident set size of a process in KiB, or undefined when /proc cannot tell (gone, not Linux). */
export function readPeakRssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A temporary directory removed when the bench exits, however it exits. */
export function registerTempDir(dir: string): void {
  installCleanup();
  tempDirs.add(dir);
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function cleanupNow(): void {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.stderr.write(`\nbench interrupted (${signal}); child processes stopped\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

type Waiter = {
  match: (m: ChildMessage) => boolean;
  resolve: (m: ChildMessage) => void;
  reject: (e: Error) => void;
};

/** One child process speaking the JSON-lines protocol of messages.ts. */
export class Child {
  readonly label: string;
  readonly #proc: ChildProcess;
  readonly #waiters = new Set<Waiter>();
  readonly #otherLines: string[] = [];
  #stderr = '';
  #peakKiB: number | undefined;
  #sampler: NodeJS.Timeout;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;

  constructor(label: string, cmd: Command, onMessage: (m: ChildMessage) => void) {
    installCleanup();
    this.label = label;
    const env: Record<string, string | undefined> = { ...process.env };
    for (const key of Object.keys(env)) {
      if (cmd.clearEnvPrefixes?.some((p) => key.startsWith(p))) delete env[key];
    }
    for (const [key, value] of Object.entries(cmd.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    this.#proc = spawn(cmd.command, cmd.args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.#proc.once('close', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        clearInterval(this.#sampler);
        const err = new BenchError(
          'CHILD',
          `${label} exited (${this.exitDescription}) ${this.diagnostics()}`,
        );
        for (const w of this.#waiters) w.reject(err);
        this.#waiters.clear();
        resolve();
      });
    });
    this.#proc.once('error', (err) => {
      this.#stderr += `spawn failed: ${err.message}\n`;
    });
    // The orchestrator closing our end of stdin is how children are told to stop; a child that is
    // already gone must not make that an unhandled EPIPE.
    this.#proc.stdin!.on('error', () => {});
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      const message = parseChildMessage(line);
      if (!message) {
        if (this.#otherLines.length < 50) this.#otherLines.push(line);
        return;
      }
      onMessage(message);
      for (const w of this.#waiters) {
        if (w.match(message)) {
          this.#waiters.delete(w);
          w.resolve(message);
        }
      }
    });
    this.#proc.stderr!.on('data', (d: Buffer) => {
      // Keep the tail only: a chatty child must not grow the orchestrator without bound.
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    // VmHWM never decreases, so sampling only protects against the process vanishing before the
    // final read; a coarse period is enough.
    this.#sampler = setInterval(() => this.#sample(), 250);
    this.#sampler.unref();
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  get exitDescription(): string {
    if (!this.#exit) return 'running';
    return this.#exit.signal ? `signal ${this.#exit.signal}` : `code ${this.#exit.code}`;
  }

  /** stderr tail and unparsed stdout, for error messages. */
  diagnostics(): string {
    const parts: string[] = [];
    const err = this.#stderr.trim();
    if (err) parts.push(`stderr: ${err.split('\n').slice(-8).join('\n  ')}`);
    if (this.#otherLines.length > 0) parts.push(`stdout: ${this.#otherLines.slice(-5).join('\n  ')}`);
    return parts.join('\n  ');
  }

  /** Resolves with the first message (from now on) matching `match`; rejects on exit or timeout. */
  waitFor(match: (m: ChildMessage) => boolean, timeoutMs: number, what: string): Promise<ChildMessage> {
    if (this.#exit) {
      return Promise.reject(
        new BenchError('CHILD', `${this.label} is not running (${this.exitDescription})`),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new BenchError(
            'TIMEOUT',
            `${this.label}: no ${what} within ${timeoutMs / 1000} s ${this.diagnostics()}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  #sample(): void {
    if (this.#exit || this.#proc.pid === undefined) return;
    const kib = readPeakRssKiB(this.#proc.pid);
    if (kib !== undefined) this.#peakKiB = Math.max(this.#peakKiB ?? 0, kib);
  }

  /** Peak RSS so far in KiB (read now if the process is alive). */
  peakRssKiB(): number | undefined {
    this.#sample();
    return this.#peakKiB;
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#exit) this.#proc.kill(signal);
  }

  /** Closes stdin (the child's cue to exit), then SIGKILLs it if it is still there after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#proc.stdin!.end();
    if (this.#exit) return;
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
