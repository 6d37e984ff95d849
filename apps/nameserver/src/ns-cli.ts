// cinder-ns, the name server executable (Pyro's `pyro5-ns`): its options and its banner. ns.ts
// runs it as a process.
import {
  configOrUsageError,
  intOption,
  LISTEN_OPTIONS,
  listenArgs,
  logLevelOption,
  type Privileges,
  parseCommandLine,
  UsageError,
} from '@cinder/cinder/cli';
import { type LogLevel, resolveConfig } from '@cinder/core';
import { parseEtcdSpec, type RunningNameServer, type StartNameServerOptions } from '@cinder/naming';
import { type CliIo, TLS_OPTIONS, tlsConfig } from './cli.js';

export const NS_USAGE = `Usage: cinder-ns [options]

Starts a Cinder name server (compatible with Python Pyro4 and Pyro5 clients).

Options:
  -n, --host HOST           address to bind (default: configured nsHost, 127.0.0.1)
  -p, --port PORT           TCP port (default 9090; 0 picks a free port)
  -u, --unixsocket PATH     serve on a Unix domain socket instead of TCP
      --socket-mode MODE    file mode of the Unix socket, octal (e.g. 660)
      --user USER           after binding, switch to this user (name or uid; needs root);
                            a sql: storage directory must be writable by that user
      --group GROUP         ... and this group (default: the user's primary group); with
                            --unixsocket the socket is handed to them first
  -s, --storage SPEC        memory (default), sql:FILE (SQLite, kept across restarts), or
                            etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (shared by every replica
                            using the same etcd cluster and prefix; default prefix cinder)
      --etcd-ca FILE        CA certificates (PEM) of the etcd members: talk TLS to etcd
      --etcd-cert FILE      client certificate (PEM) for etcd; --etcd-key FILE its key
      --etcd-user USER      etcd user; the password comes from CINDER_NS_ETCD_PASSWORD
      --bchost HOST         address of the broadcast responder (default: all interfaces)
      --bcport PORT         UDP port of the broadcast responder (default 9091)
      --nathost HOST        external host written in the name server's URI (behind NAT)
      --natport PORT        external port written in the URI (default: the bound port)
  -x, --nobc                do not start the broadcast responder
      --bc-on-loopback      start the broadcast responder even when bound to a loopback address
      --autoclean MS        remove registrations unreachable for MS milliseconds (>= 3000; 0 = off)
      --ssl                 serve over TLS (certificates from the --ssl-* options or CINDER_SSL_*)
      --ssl-cert FILE       server certificate (PEM); --ssl-key FILE its private key
      --ssl-key-passwd PW   passphrase of the key
      --ssl-ca FILE         CA certificates that verify client certificates
      --ssl-require-client-cert
                            require a client certificate (2-way TLS)
      --log-level LEVEL     fatal, error, warn, info (default), debug, trace or silent
  -h, --help                show this help

Prints "URI = PYRO:Pyro.NameServer@host:port" on stdout once it serves; logs go to stderr.
Stops cleanly on SIGINT or SIGTERM.
Exit codes: 0 stopped normally, 1 failed (port in use, storage unusable…), 2 bad usage.
`;

const OPTIONS = {
  host: { type: 'string', short: 'n' },
  ...LISTEN_OPTIONS,
  storage: { type: 'string', short: 's' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'etcd-user': { type: 'string' },
  bchost: { type: 'string' },
  bcport: { type: 'string' },
  nathost: { type: 'string' },
  natport: { type: 'string' },
  nobc: { type: 'boolean', short: 'x' },
  'bc-on-loopback': { type: 'boolean' },
  autoclean: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...TLS_OPTIONS,
} as const;

export interface NsPlan {
  options: StartNameServerOptions;
  logLevel: LogLevel;
  /** Switch to this user and/or group once bound (dropPrivileges). */
  privileges?: Privileges;
}

/** Turns the command line into name server options; throws UsageError for bad usage. */
export function parseNsArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): NsPlan | 'help' {
  const parsed = parseCommandLine(argv, OPTIONS, false);
  const v = parsed.values;
  if (v.help) return 'help';
  const { socketMode, privileges } = listenArgs(v);
  const storage = v.storage ?? 'memory';
  if (storage.startsWith('etcd://')) {
    try {
      parseEtcdSpec(storage);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  } else if (storage !== 'memory' && !(storage.startsWith('sql:') && storage.length > 4)) {
    throw new UsageError(
      `invalid storage ${JSON.stringify(storage)} (expected memory, sql:FILE or etcd://HOST:PORT[,...]/PREFIX)`,
    );
  }
  const etcdItems = {
    ...(v['etcd-ca'] !== undefined ? { nsEtcdCaCerts: v['etcd-ca'] } : {}),
    ...(v['etcd-cert'] !== undefined ? { nsEtcdCert: v['etcd-cert'] } : {}),
    ...(v['etcd-key'] !== undefined ? { nsEtcdKey: v['etcd-key'] } : {}),
    ...(v['etcd-user'] !== undefined ? { nsEtcdUser: v['etcd-user'] } : {}),
  };
  if (Object.keys(etcdItems).length > 0 && !storage.startsWith('etcd://')) {
    throw new UsageError('the --etcd-* options need --storage etcd://...');
  }
  const port = intOption(v.port, '--port', 0, 65535);
  const bcPort = intOption(v.bcport, '--bcport', 0, 65535);
  const natPort = intOption(v.natport, '--natport', 0, 65535);
  const autocleanMs = intOption(v.autoclean, '--autoclean', 0, 2 ** 31 - 1);
  if (autocleanMs !== undefined && autocleanMs > 0 && autocleanMs < 3000) {
    throw new UsageError('option --autoclean must be 0 (off) or at least 3000 ms');
  }
  let logLevel = logLevelOption(v['log-level']);
  const config = configOrUsageError(() =>
    resolveConfig(
      {
        ...tlsConfig(v, true),
        ...etcdItems,
        ...(autocleanMs !== undefined ? { nsAutocleanMs: autocleanMs } : {}),
      },
      { env },
    ),
  );
  // The config's own default level is `silent` (libraries log nothing); a server says what it does.
  logLevel ??= env.CINDER_LOG_LEVEL !== undefined ? config.logLevel : 'info';
  const options: StartNameServerOptions = {
    config,
    storage,
    ...(v.unixsocket !== undefined ? { unixSocket: v.unixsocket } : {}),
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(v.bchost !== undefined ? { bcHost: v.bchost } : {}),
    ...(bcPort !== undefined ? { bcPort } : {}),
    ...(v.nathost !== undefined ? { natHost: v.nathost } : {}),
    ...(natPort !== undefined ? { natPort } : {}),
    ...(v.nobc ? { noBroadcast: true } : {}),
    ...(v['bc-on-loopback'] ? { broadcastOnLoopback: true } : {}),
    ...(socketMode !== undefined ? { daemonOptions: { socketMode } } : {}),
  };
  return { options, logLevel, ...(privileges ? { privileges } : {}) };
}

/** Prints the banner lines of a started name server (the URI line is the one scripts wait for). */
export function announce(ns: RunningNameServer, io: CliIo): void {
  if (!ns.uri.equals(ns.internalUri)) io.stderr(`internal URI = ${ns.internalUri}\n`);
  io.stdout(`URI = ${ns.uri}\n`);
}
