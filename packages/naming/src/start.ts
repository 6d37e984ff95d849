// startNameServer(): the name server as one running service — storage, a daemon serving the
// NameServer object as `Pyro.NameServer`, its own registration, the broadcast responder and the
// optional auto-cleaner — with one close() that stops them in the right order.
import {
  AbortedError,
  type CallOptions,
  type CinderConfig,
  ConfigError,
  componentLogger,
  type Logger,
  NAMESERVER_NAME,
  resolveConfig,
  type URI,
} from '@cinder/core';
import { Daemon, type DaemonOptions } from '@cinder/daemon';
import { AutoCleaner, type AutoCleanOptions } from './autoclean.js';
import { BroadcastResponder } from './broadcast.js';
import { NameServer } from './name-server.js';
import type { SqliteStorageOptions } from './sqlite-storage.js';
import type { NameStorage } from './storage.js';
import { type EtcdConnectOptions, etcdOptionsFromConfig, openStorage } from './storage-spec.js';

/** The tags the name server registers itself with: Pyro5's and Pyro4's class tags, and Cinder's. */
export const NAMESERVER_TAGS: readonly string[] = Object.freeze([
  'class:Pyro5.nameserver.NameServer',
  'class:Pyro4.naming.NameServer',
  'class:cinder.NameServer',
]);

export interface StartNameServerOptions extends CallOptions {
  /** Host to bind (default `config.nsHost`, 127.0.0.1). */
  host?: string;
  /** TCP port (default `config.nsPort`, 9090; 0 picks a free port). */
  port?: number;
  /** Serve on a Unix domain socket instead of TCP (no broadcast responder then). */
  unixSocket?: string;
  /** TLS: server options, or `true` for the config's SSL items. */
  tls?: DaemonOptions['tls'];
  /**
   * `memory` (default), `sql:<file>`, `etcd://host:port[,…]/prefix`, or a storage object (closed
   * with the name server).
   */
  storage?: string | NameStorage;
  /** Options of `sql:` storage. */
  sqlite?: SqliteStorageOptions;
  /** Options of `etcd://` storage (TLS, user and password, time limits; default from the config's nsEtcd* items). */
  etcd?: EtcdConnectOptions;
  /** Address the broadcast responder binds (default `config.nsBcHost`, all interfaces). */
  bcHost?: string | null;
  /** UDP port of the broadcast responder (default `config.nsBcPort`, 9091; 0 picks one). */
  bcPort?: number;
  /** Do not start the broadcast responder. */
  noBroadcast?: boolean;
  /**
   * Start the broadcast responder even when the name server binds a loopback address (Pyro never
   * does: nobody else could use the answer). Meant for tests and single-host setups.
   */
  broadcastOnLoopback?: boolean;
  /** Address published in the name server's URI when it is behind NAT. */
  natHost?: string;
  natPort?: number;
  /**
   * Auto-clean settings; `false` turns it off. Default: on when `config.nsAutocleanMs` > 0, with
   * that as the longest time a registration may stay unreachable.
   */
  autoclean?: AutoCleanOptions | false;
  /** Longest time one regex filter may run (default 1000 ms; 0 = no limit). */
  regexTimeoutMs?: number;
  /** Further daemon options (HMAC key, handshake validation, protocols, limits…). */
  daemonOptions?: Omit<
    DaemonOptions,
    'host' | 'port' | 'unixSocket' | 'tls' | 'natHost' | 'natPort' | 'config' | 'logger'
  >;
  config?: Partial<CinderConfig> | CinderConfig;
  logger?: Logger;
}

export interface RunningNameServer extends AsyncDisposable {
  readonly nameServer: NameServer;
  readonly daemon: Daemon;
  /** The name server's URI as published (the NAT address when one is set). */
  readonly uri: URI;
  /** The URI at the bound address (what the broadcast responder answers). */
  readonly internalUri: URI;
  readonly broadcast: BroadcastResponder | null;
  readonly autoclean: AutoCleaner | null;
  readonly storage: NameStorage;
  readonly config: CinderConfig;
  /** Stops broadcast and auto-clean, closes the daemon (calls in progress may finish), then the storage. */
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

/** Starts a name server; see StartNameServerOptions for the defaults. */
export async function startNameServer(options: StartNameServerOptions = {}): Promise<RunningNameServer> {
  const config = resolveConfig(options.config);
  const logger = componentLogger(options.logger, 'nameserver');
  const signal = options.signal;
  const timeoutMs = options.timeoutMs ?? 0;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  const cleanups: (() => unknown)[] = [];
  const checkpoint = () => {
    if (signal?.aborted)
      throw new AbortedError('starting the name server was aborted', { cause: signal.reason });
    if (Date.now() > deadline)
      throw new AbortedError(`starting the name server took longer than ${timeoutMs} ms`);
  };
  try {
    const storage =
      typeof options.storage === 'object'
        ? options.storage
        : await openStorage(
            options.storage,
            options.sqlite,
            options.etcd ??
              (options.storage?.startsWith('etcd://') ? etcdOptionsFromConfig(config) : undefined),
          );
    cleanups.push(() => storage.close());
    checkpoint();
    const existing = await storage.count();
    if (existing > 0)
      logger.info({ storage: storage.kind, existing }, 'storage holds existing registrations');
    const nameServer = new NameServer({
      storage,
      ...(options.regexTimeoutMs !== undefined ? { regexTimeoutMs: options.regexTimeoutMs } : {}),
      logger,
    });
    if (options.host === undefined && options.unixSocket === undefined && config.nsHost.includes(',')) {
      // A list names the replicas clients may use; which of them this one is, only the caller knows.
      throw new ConfigError(
        `nsHost is a list of name servers (${config.nsHost}): give this name server its own host to bind`,
      );
    }
    const natHost = options.natHost ?? config.natHost ?? undefined;
    const daemon = await Daemon.start({
      ...options.daemonOptions,
      config,
      logger: options.logger ?? logger,
      ...(options.unixSocket !== undefined
        ? { unixSocket: options.unixSocket }
        : { host: options.host ?? config.nsHost, port: options.port ?? config.nsPort }),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(natHost ? { natHost, natPort: options.natPort ?? config.natPort } : {}),
    });
    cleanups.push(() => daemon.close({ graceMs: 0 }));
    checkpoint();
    const uri = daemon.register(nameServer, NAMESERVER_NAME);
    const internalUri = daemon.uriFor(NAMESERVER_NAME, { nat: false });
    await nameServer.registerSelf(uri, NAMESERVER_TAGS);

    let broadcast: BroadcastResponder | null = null;
    const boundHost = internalUri.host;
    let why: string | undefined;
    if (options.noBroadcast) why = 'disabled';
    else if (boundHost === null) why = 'the name server uses a Unix socket';
    else if (boundHost.includes(':') && !isLoopback(boundHost)) why = 'IPv6 has no broadcast';
    else if (isLoopback(boundHost) && !options.broadcastOnLoopback)
      why = 'the name server is bound to localhost';
    if (why === undefined) {
      broadcast = await BroadcastResponder.start({
        uri: internalUri,
        host: options.bcHost !== undefined ? options.bcHost : config.nsBcHost,
        port: options.bcPort ?? config.nsBcPort,
        reuseAddr: config.sockReuse,
        logger: options.logger ?? logger,
      });
      const b = broadcast;
      cleanups.push(() => b.close());
    } else {
      logger.info({ reason: why }, 'not starting the broadcast responder');
    }
    checkpoint();

    let autoclean: AutoCleaner | null = null;
    let resign: (() => Promise<void>) | undefined;
    if (options.autoclean !== false && (options.autoclean !== undefined || config.nsAutocleanMs > 0)) {
      const cleaner = new AutoCleaner(storage, config, options.autoclean ?? {}, options.logger ?? logger);
      autoclean = cleaner;
      if (storage.lead) {
        // A store shared by replicas: exactly one of them sweeps, the one etcd's election chose.
        resign = await storage.lead('autoclean', (leading) => {
          logger.info({ leading }, leading ? 'leading autoclean' : 'no longer leading autoclean');
          if (leading) cleaner.start();
          else cleaner.pause();
        });
        cleanups.push(resign);
      } else {
        cleaner.start();
      }
    }
    logger.info({ uri: uri.toString(), storage: storage.kind }, 'name server running');

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        try {
          await resign?.();
          await autoclean?.close();
          await broadcast?.close();
          await daemon.close();
        } finally {
          // Whatever failed above, the database must be closed (and its WAL checkpointed).
          await storage.close();
        }
        logger.info({ uri: uri.toString() }, 'name server shut down');
      })();
      return closing;
    };
    return {
      nameServer,
      daemon,
      uri,
      internalUri,
      broadcast,
      autoclean,
      storage,
      config,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // the original error is the one worth reporting
      }
    }
    throw err;
  }
}
