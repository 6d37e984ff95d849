// cinder-echoserver's command line: options, usage text, exit codes, and running the server until
// it is told to stop (SIGINT/SIGTERM, or a client calling `shutdown()`). main.ts runs it as a
// process; tests call `runEchoServer` with their own streams and stop signal.
import { parseArgs } from 'node:util';
import {
  type CinderConfig,
  ConfigError,
  Daemon,
  dropPrivileges,
  type Logger,
  type LogLevel,
  locateNS,
  logLevels,
  type NameServerClient,
  type ProtocolVersion,
  resolveConfig,
  type URI,
} from '@cinder/cinder';
import { EchoServer } from './echo-server.js';

/** The object id the echo server is registered under (Pyro's too). */
export const OBJECT_NAME = 'test.echoserver';

/** Exit codes. */
export const ExitCode = {
  /** Stopped normally: a signal, or a client called shutdown(). */
  OK: 0,
  /** Could not start (address in use, bad socket path…) or failed while running. */
  FAILURE: 1,
  /** Bad usage: unknown option, invalid value. */
  USAGE: 2,
} as const;

export const USAGE = `Usage: cinder-echoserver [options]

Serves Pyro's test echo server object "${OBJECT_NAME}" (echo, error, error_with_text,
oneway_echo, slow, generator, nan, inf, oneway_slow, shutdown, the verbose attribute) to Cinder
clients and to Python Pyro4 and Pyro5 clients, on the same port.

Options:
  -H, --host HOST           address to bind (default: configured host, 127.0.0.1)
  -p, --port PORT           TCP port (default 0: a free port)
  -u, --unixsocket PATH     serve on a Unix domain socket instead of TCP
      --socket-mode MODE    file mode of the Unix socket, octal (e.g. 660)
      --user USER           after binding, switch to this user (name or uid; needs root)
      --group GROUP         ... and this group (default: the user's primary group); with
                            --unixsocket the socket is handed to them first
  -s, --serializers LIST    serializers accepted, comma separated (default: all of
                            cbor, json, msgpack, serpent, marshal; Python Pyro clients
                            use serpent, json, msgpack or marshal)
      --protocols LIST      protocol versions served: 502 (Pyro5, Cinder), 48 (Pyro4)
                            (default both; with a key (CINDER_HMAC_KEY) only 502 unless given)
  -n, --naming              register the object with a name server, if one is found
      --ns-host HOST        the name server's host (default: configured, then broadcast)
      --ns-port PORT        the name server's port
  -v, --verbose             print every call (the object's verbose attribute)
  -q, --quiet               print nothing but the URI line
      --log-level LEVEL     fatal, error, warn (default), info, debug, trace or silent
  -h, --help                show this help

Prints "URI = PYRO:${OBJECT_NAME}@host:port" on stdout once it serves; logs go to stderr.
Stops cleanly on SIGINT or SIGTERM, or when a client calls shutdown().
Exit codes: 0 stopped normally, 1 failed (address in use…), 2 bad usage.
`;

/** A command-line mistake (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface EchoPlan {
  config: CinderConfig;
  host?: string;
  port?: number;
  unixSocket?: string;
  socketMode?: number;
  user?: string;
  group?: string;
  protocols?: ProtocolVersion[];
  naming: boolean;
  nsHost?: string;
  nsPort?: number;
  verbose: boolean;
  quiet: boolean;
  logLevel: LogLevel;
}

const OPTIONS = {
  host: { type: 'string', short: 'H' },
  port: { type: 'string', short: 'p' },
  unixsocket: { type: 'string', short: 'u' },
  'socket-mode': { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string' },
  serializers: { type: 'string', short: 's' },
  protocols: { type: 'string' },
  naming: { type: 'boolean', short: 'n' },
  'ns-host': { type: 'string' },
  'ns-port': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function portOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`option ${option} needs a port number 0..65535, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Turns the command line into a plan; throws UsageError for bad usage. */
export function parseEchoArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): EchoPlan | 'help' {
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false; strict: true }>
  >;
  try {
    // pnpm passes a `--` through to the script
    const args = argv[0] === '--' ? argv.slice(1) : [...argv];
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.unixsocket !== undefined && (v.host !== undefined || v.port !== undefined)) {
    throw new UsageError('give either --unixsocket or --host/--port');
  }
  let socketMode: number | undefined;
  if (v['socket-mode'] !== undefined) {
    if (v.unixsocket === undefined) throw new UsageError('option --socket-mode needs --unixsocket');
    if (!/^(0o?)?[0-7]{3,4}$/.test(v['socket-mode'])) {
      throw new UsageError(
        `option --socket-mode takes an octal mode such as 660, got ${JSON.stringify(v['socket-mode'])}`,
      );
    }
    socketMode = Number.parseInt(v['socket-mode'].replace(/^0o?/, ''), 8);
  }
  for (const name of ['user', 'group'] as const) {
    if (v[name] === '') throw new UsageError(`option --${name} needs a name or a number`);
  }
  let protocols: ProtocolVersion[] | undefined;
  if (v.protocols !== undefined) {
    const list = v.protocols.split(',').map((p) => p.trim());
    if (list.length === 0 || list.some((p) => p !== '502' && p !== '48')) {
      throw new UsageError(`option --protocols takes 502 and/or 48, got ${JSON.stringify(v.protocols)}`);
    }
    protocols = [...new Set(list.map((p) => Number(p) as ProtocolVersion))];
  }
  const logLevel = v['log-level'] ?? 'warn';
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new UsageError(`option --log-level must be one of ${logLevels.join(', ')}`);
  }
  let config: CinderConfig;
  try {
    const serializers = v.serializers?.split(',').map((s) => s.trim());
    config = resolveConfig(serializers ? { serializersAccepted: serializers as never } : {}, { env });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const port = portOption(v.port, '--port');
  const nsPort = portOption(v['ns-port'], '--ns-port');
  return {
    config,
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(v.unixsocket !== undefined ? { unixSocket: v.unixsocket } : {}),
    ...(socketMode !== undefined ? { socketMode } : {}),
    ...(v.user !== undefined ? { user: v.user } : {}),
    ...(v.group !== undefined ? { group: v.group } : {}),
    ...(protocols ? { protocols } : {}),
    naming: v.naming ?? false,
    ...(v['ns-host'] !== undefined ? { nsHost: v['ns-host'] } : {}),
    ...(nsPort !== undefined ? { nsPort } : {}),
    verbose: v.verbose ?? false,
    quiet: (v.quiet ?? false) && !v.verbose,
    logLevel: logLevel as LogLevel,
  };
}

/** Where the server writes, and what tells it to stop. */
export interface EchoIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves when the process is asked to stop (a signal). */
  stopRequested: Promise<string>;
  logger?: Logger;
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** Registers the URI with a name server if one can be found; never fails the server. */
async function registerWithNameServer(
  plan: EchoPlan,
  uri: URI,
  io: EchoIo,
): Promise<NameServerClient | undefined> {
  try {
    const ns = await locateNS({
      config: plan.config,
      ...(plan.nsHost !== undefined ? { host: plan.nsHost } : {}),
      ...(plan.nsPort !== undefined ? { port: plan.nsPort } : {}),
      timeoutMs: 10_000,
    });
    await ns.register(OBJECT_NAME, uri);
    if (plan.verbose) io.stdout(`using name server at ${ns.uri}\n`);
    await ns.close(); // the proxy reconnects to remove the name at shutdown
    return ns;
  } catch (err) {
    io.stderr(`cinder-echoserver: warning: not registered with a name server: ${oneLine(err)}\n`);
    return undefined;
  }
}

/** Runs the echo server until it is asked to stop; resolves with the exit code. */
export async function runEchoServer(plan: EchoPlan, io: EchoIo): Promise<number> {
  const say = (line: string) => {
    if (!plan.quiet) io.stdout(`${line}\n`);
  };
  say("Starting Cinder's test echo server.");
  let shutdownRequested: () => void = () => {};
  const shutdown = new Promise<string>((resolve) => {
    shutdownRequested = () => resolve('shutdown()');
  });
  const echo = new EchoServer({
    verbose: plan.verbose,
    print: (line) => io.stdout(`${line}\n`),
    onShutdown: () => shutdownRequested(),
  });
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({
      config: plan.config,
      ...(plan.unixSocket !== undefined ? { unixSocket: plan.unixSocket } : {}),
      ...(plan.socketMode !== undefined ? { socketMode: plan.socketMode } : {}),
      ...(plan.host !== undefined ? { host: plan.host } : {}),
      ...(plan.port !== undefined ? { port: plan.port } : {}),
      ...(plan.protocols ? { protocols: plan.protocols } : {}),
      ...(io.logger ? { logger: io.logger } : {}),
    });
  } catch (err) {
    io.stderr(`cinder-echoserver: error: ${oneLine(err)}\n`);
    return ExitCode.FAILURE;
  }
  if (plan.user !== undefined || plan.group !== undefined) {
    // Bound and keys read: nothing else needs root. Synchronous, so no request is served before.
    try {
      const state = dropPrivileges({
        user: plan.user,
        group: plan.group,
        ownPaths: plan.unixSocket !== undefined ? [plan.unixSocket] : [],
      });
      say(`running as uid ${state.uid}, gid ${state.gid}`);
    } catch (err) {
      io.stderr(`cinder-echoserver: error: ${oneLine(err)}\n`);
      await daemon.close({ graceMs: 0 });
      return ExitCode.FAILURE;
    }
  }
  const uri = daemon.register(echo, OBJECT_NAME);
  if (!daemon.sharedKey)
    say('Warning: no shared key set (CINDER_HMAC_KEY). Anyone who can connect can call it!');
  say(`serializers accepted: ${plan.config.serializersAccepted.join(', ')}`);
  const ns = plan.naming ? await registerWithNameServer(plan, uri, io) : undefined;
  if (!plan.naming && plan.verbose) io.stdout('not using a name server.\n');
  say(`object name: ${OBJECT_NAME}`);
  io.stdout(`URI = ${uri}\n`);
  say('echoserver running.');
  const why = await Promise.race([io.stopRequested, shutdown]);
  if (plan.verbose) io.stdout(`stopping (${why})\n`);
  let code: number = ExitCode.OK;
  if (ns) {
    try {
      await ns.remove({ name: OBJECT_NAME }, { timeoutMs: 5000 });
    } catch (err) {
      io.stderr(`cinder-echoserver: warning: could not remove the name: ${oneLine(err)}\n`);
    }
    await ns.close().catch(() => {});
  }
  try {
    await daemon.close({ graceMs: 1000 });
  } catch (err) {
    io.stderr(`cinder-echoserver: error while shutting down: ${oneLine(err)}\n`);
    code = ExitCode.FAILURE;
  }
  return code;
}
