// cinder-echoserver's command line: options, usage text, exit codes, and running the server until
// it is told to stop (SIGINT/SIGTERM, or a client calling `shutdown()`). main.ts runs it as a
// process; tests call `runEchoServer` with their own streams and stop signal.
import {
  type CinderConfig,
  Daemon,
  type Logger,
  type LogLevel,
  locateNS,
  type NameServerClient,
  type ProtocolVersion,
  resolveConfig,
  type URI,
} from '@cinder/cinder';
import {
  configOrUsageError,
  dropPrivilegesOnceBound,
  ExitCode,
  intOption,
  LISTEN_OPTIONS,
  listenArgs,
  logLevelOption,
  oneLine,
  parseCommandLine,
  UsageError,
} from '@cinder/cinder/cli';
import { EchoServer } from './echo-server.js';

/** The object id the echo server is registered under (Pyro's too). */
export const OBJECT_NAME = 'test.echoserver';

// Exit codes (0 stopped normally: a signal, or a client called shutdown(); 1 could not start or
// failed while running; 2 bad usage) and usage errors are those of every Cinder command-line tool.
export { ExitCode, UsageError };

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
  ...LISTEN_OPTIONS,
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

/** Turns the command line into a plan; throws UsageError for bad usage. */
export function parseEchoArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): EchoPlan | 'help' {
  const parsed = parseCommandLine(argv, OPTIONS, false);
  const v = parsed.values;
  if (v.help) return 'help';
  const { socketMode, privileges } = listenArgs(v);
  let protocols: ProtocolVersion[] | undefined;
  if (v.protocols !== undefined) {
    const list = v.protocols.split(',').map((p) => p.trim());
    if (list.length === 0 || list.some((p) => p !== '502' && p !== '48')) {
      throw new UsageError(`option --protocols takes 502 and/or 48, got ${JSON.stringify(v.protocols)}`);
    }
    protocols = [...new Set(list.map((p) => Number(p) as ProtocolVersion))];
  }
  const logLevel = logLevelOption(v['log-level']) ?? 'warn';
  const serializers = v.serializers?.split(',').map((s) => s.trim());
  const config = configOrUsageError(() =>
    resolveConfig(serializers ? { serializersAccepted: serializers as never } : {}, { env }),
  );
  const port = intOption(v.port, '--port', 0, 65535, 'a port number');
  const nsPort = intOption(v['ns-port'], '--ns-port', 0, 65535, 'a port number');
  return {
    config,
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(v.unixsocket !== undefined ? { unixSocket: v.unixsocket } : {}),
    ...(socketMode !== undefined ? { socketMode } : {}),
    ...privileges,
    ...(protocols ? { protocols } : {}),
    naming: v.naming ?? false,
    ...(v['ns-host'] !== undefined ? { nsHost: v['ns-host'] } : {}),
    ...(nsPort !== undefined ? { nsPort } : {}),
    verbose: v.verbose ?? false,
    quiet: (v.quiet ?? false) && !v.verbose,
    logLevel,
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
      const state = dropPrivilegesOnceBound({ user: plan.user, group: plan.group }, plan.unixSocket);
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
