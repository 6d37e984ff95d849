// What Cinder's command-line servers and tools share (`@cinder/cinder/cli`, used by cinder-ns,
// cinder-nsc and cinder-echoserver): exit codes, usage errors, option helpers for node:util's
// parseArgs, the listening options of a server (Unix socket, socket mode, user and group), dropping
// privileges once bound, and waiting for a stop signal. Kept out of the main entry point: a library
// user needs none of it.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, type LogLevel, logLevels } from '@cinder/core';
import { type DropPrivilegesOptions, dropPrivileges, type PrivilegeState } from '@cinder/security';

/** Exit codes of the command-line programs. */
export const ExitCode = {
  /** Success, or stopped normally. */
  OK: 0,
  /** Runtime failure: could not start (address in use…), a request was refused, failed while running. */
  FAILURE: 1,
  /** Bad usage: unknown option or command, missing or invalid argument. */
  USAGE: 2,
} as const;

/** A command-line mistake: reported with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a program's own words go: the process streams, or buffers in tests. */
export interface ProgramOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * Runs a program's argument parser and answers what needs no more: `--help` prints `usage`, a
 * UsageError prints its message and where help is. Resolves with the plan, or with the exit code
 * when the program is done.
 */
export function planOrExit<T extends object>(
  program: string,
  usage: string,
  out: ProgramOutput,
  parse: () => T | 'help',
): T | number {
  let plan: T | 'help';
  try {
    plan = parse();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    out.stderr(`${program}: ${err.message}\nTry '${program} --help' for more information.\n`);
    return ExitCode.USAGE;
  }
  if (plan !== 'help') return plan;
  out.stdout(usage);
  return ExitCode.OK;
}

/** The first line of an error, for one-line reports. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

/**
 * node:util's strict parseArgs over a program's arguments; its complaints become UsageErrors. pnpm
 * passes a `--` through to the script: a leading one is not an argument.
 */
export function parseCommandLine<
  const O extends NonNullable<ParseArgsConfig['options']>,
  const P extends boolean,
>(
  argv: readonly string[],
  options: O,
  allowPositionals: P,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: P; strict: true }>> {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(oneLine(err));
  }
}

/** Resolves a configuration; a ConfigError (a bad option or CINDER_* variable) becomes a UsageError. */
export function configOrUsageError<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** An integer option within bounds, or a UsageError naming the option and what it needs. */
export function intOption(
  value: string | undefined,
  option: string,
  min: number,
  max: number,
  what = 'an integer',
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`option ${option} needs ${what} ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** A `--log-level` value, checked against the known levels. */
export function logLevelOption(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  if (!(logLevels as readonly string[]).includes(value)) {
    throw new UsageError(`option --log-level must be one of ${logLevels.join(', ')}`);
  }
  return value as LogLevel;
}

/** parseArgs options of a listening server (`--host`, whose short form differs, is the program's). */
export const LISTEN_OPTIONS = {
  port: { type: 'string', short: 'p' },
  unixsocket: { type: 'string', short: 'u' },
  'socket-mode': { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string' },
} as const;

export interface ListenArgs {
  host?: string | undefined;
  port?: string | undefined;
  unixsocket?: string | undefined;
  'socket-mode'?: string | undefined;
  user?: string | undefined;
  group?: string | undefined;
}

/** Who the server runs as once bound (dropPrivileges). */
export interface Privileges {
  user?: string;
  group?: string;
}

/**
 * Checks the listening options that go together (a Unix socket excludes host and port, a socket
 * mode needs a Unix socket, user and group are not empty) and returns the socket mode and the
 * privileges to switch to, when given. The port is the program's to parse: its range differs.
 */
export function listenArgs(v: ListenArgs): { socketMode?: number; privileges?: Privileges } {
  if (v.unixsocket !== undefined && (v.host !== undefined || v.port !== undefined)) {
    throw new UsageError('give either --unixsocket or --host/--port');
  }
  let socketMode: number | undefined;
  const mode = v['socket-mode'];
  if (mode !== undefined) {
    if (v.unixsocket === undefined) throw new UsageError('option --socket-mode needs --unixsocket');
    if (!/^(0o?)?[0-7]{3,4}$/.test(mode)) {
      throw new UsageError(
        `option --socket-mode takes an octal mode such as 660, got ${JSON.stringify(mode)}`,
      );
    }
    socketMode = Number.parseInt(mode.replace(/^0o?/, ''), 8);
  }
  for (const name of ['user', 'group'] as const) {
    if (v[name] === '') throw new UsageError(`option --${name} needs a name or a number`);
  }
  const privileges: Privileges = {
    ...(v.user !== undefined ? { user: v.user } : {}),
    ...(v.group !== undefined ? { group: v.group } : {}),
  };
  return {
    ...(socketMode !== undefined ? { socketMode } : {}),
    ...(v.user !== undefined || v.group !== undefined ? { privileges } : {}),
  };
}

/**
 * Switches to the unprivileged user and group once the server is bound and has read its keys;
 * its Unix socket, if any, is handed to them first so its mode applies to that group and the
 * server can still remove it. Synchronous, so nothing is served before. Throws as dropPrivileges.
 */
export function dropPrivilegesOnceBound(
  privileges: Pick<DropPrivilegesOptions, 'user' | 'group'>,
  unixSocket: string | undefined,
): PrivilegeState {
  return dropPrivileges({ ...privileges, ownPaths: unixSocket !== undefined ? [unixSocket] : [] });
}

/**
 * Resolves with the first SIGINT or SIGTERM; from then on a second one of either means "now": the
 * process exits with ExitCode.FAILURE without waiting for the shutdown.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
      const force = () => process.exit(ExitCode.FAILURE);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
