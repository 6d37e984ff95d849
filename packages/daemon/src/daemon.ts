// The daemon: listens on TCP, a Unix socket or TLS, serves registered objects to Cinder and Python
// Pyro clients on the same port (the protocol version is detected per connection), handles the
// Pyro handshake with metadata and capability negotiation, instance modes, the built-in
// `Pyro.Daemon` object, item streams, batches, autoproxy, limits and graceful shutdown.
import { randomUUID } from 'node:crypto';
import {
  type CinderConfig,
  CinderError,
  CommunicationError,
  componentLogger,
  DAEMON_NAME,
  DaemonError,
  LinkedList,
  type Logger,
  type ObjectMetadata,
  ProtocolError,
  resolveConfig,
  URI,
  type UriLocation,
} from '@cinder/core';
import { Flags, type ProtocolVersion } from '@cinder/protocol';
import { behaviorOf, type Exposure, exposureOf, type HandshakeContext, type InstanceMode } from '@cinder/rpc';
import {
  Capability,
  type IncomingCall,
  invokeExposed,
  PushStreamReply,
  proxyDict,
  type SerializerLookup,
  type ServerHandshakeSettings,
  SpecialReply,
} from '@cinder/rpc/internal';
import {
  bindWarning,
  ConnectionLimitError,
  clientAddressKey,
  clientHostKey,
  loadTlsOptions,
  SharedKey,
  sharedKeyWarning,
} from '@cinder/security';
import {
  type BatchCalls,
  type ClassRegistry,
  createSerializers,
  ExceptionWrapper,
  type SerializerSet,
} from '@cinder/serializers';
import {
  type Connection,
  type Endpoint,
  type Listener,
  type TlsServerOptions,
  type Transport,
  tcpTransport,
  tlsTransport,
  unixTransport,
  webSocketUri,
} from '@cinder/transport';
import { DaemonObject } from './daemon-object.js';
import { type ListenerLocation, ServerConnection } from './server-connection.js';
import { SlotBook } from './slots.js';
import { isStreamable, StreamRegistry, toIterator } from './stream-registry.js';

export type { HandshakeContext };

/** Where and how one listener of a daemon accepts connections. */
export interface DaemonListenOptions {
  /** Host to bind (default `config.host`, 127.0.0.1). */
  host?: string;
  /** Port to bind; 0 (default) picks a free port. */
  port?: number;
  /** Listen on a Unix domain socket instead (a leading `\0` selects Linux's abstract namespace). */
  unixSocket?: string;
  /** File mode of the Unix socket file (e.g. 0o600). */
  socketMode?: number;
  /** TLS server options (certificate, key, CA, requestCert); `true` uses the config's SSL items. */
  tls?: TlsServerOptions | boolean;
  /** Address published in URIs when the daemon is behind NAT (TCP listeners). */
  natHost?: string;
  natPort?: number;
  /**
   * The transport to listen with (default: TCP, TLS or Unix from the options above), e.g.
   * `webSocketTransport({ path: '/cinder' })` for browsers.
   */
  transport?: Transport;
}

/** One bound listener of a started daemon. */
export interface DaemonListener {
  /** `tcp`, `unix`, `tls`, `ws` or `wss`. */
  readonly kind: Transport['kind'];
  /** The bound endpoint (with the real port). */
  readonly endpoint: Endpoint;
  /** The HTTP path of a WebSocket listener (`ws`/`wss`); undefined for the others. */
  readonly path: string | undefined;
}

export interface DaemonOptions extends DaemonListenOptions {
  config?: Partial<CinderConfig> | CinderConfig;
  /**
   * Several listeners sharing the daemon's objects, connection slots and limits, e.g. TCP for Node
   * and Python peers next to WebSocket for browsers:
   * `listen: [{ port: 9090 }, { port: 9091, transport: webSocketTransport({ path: '/cinder' }) }]`.
   * Replaces the single listener the top-level host/port/unixSocket/tls/transport options describe
   * (giving both is a DaemonError). More can be added to a started daemon with `daemon.listen()`.
   */
  listen?: readonly DaemonListenOptions[];
  /**
   * Protocol versions served, detected per connection. Default both (Pyro5 502 and Pyro4 48);
   * with a shared key only 502 unless 48 is asked for, since Pyro4's HMAC is the weaker scheme.
   */
  protocols?: readonly ProtocolVersion[];
  /**
   * Shared key (default `config.hmacKey`, i.e. `CINDER_HMAC_KEY`): Cinder clients must pass the
   * challenge-response handshake and sign every message; Pyro4 clients (protocol 48) must use
   * Pyro4's HMAC with the same key.
   */
  hmacKey?: string | Uint8Array;
  /**
   * Validates a client's handshake. Return the handshake response (default "hello"); throw to
   * refuse the connection (the client gets CONNECTFAIL with the error message).
   */
  validateHandshake?: (context: HandshakeContext) => unknown;
  /** Called when a client connection closes. */
  onClientDisconnect?: (connection: Connection) => void;
  /** `false` ignores `CINDER_*` environment variables (for untrusted environments). */
  useEnvironment?: boolean;
  registry?: ClassRegistry;
  logger?: Logger;
}

/** The top-level options that describe a listener; with `listen` they must be absent. */
const LISTEN_KEYS = [
  'host',
  'port',
  'unixSocket',
  'socketMode',
  'tls',
  'natHost',
  'natPort',
  'transport',
] as const;

interface BoundListener extends DaemonListener {
  readonly listener: Listener;
  /** What URIs of this listener's objects name: its address, or the NAT address. */
  readonly location: UriLocation;
  readonly natLocation: UriLocation | undefined;
}

/** Options of `daemon.register()`. */
export interface RegisterOptions {
  /** Replace an existing registration with the same id. */
  force?: boolean;
  /** For classes: the instance mode (default from `@behavior`, else `session`). */
  instanceMode?: InstanceMode;
  /** For classes: makes the instance (must return an instance of the class). */
  instanceCreator?: (cls: new () => object) => object;
}

type Ctor = new () => object;

/**
 * A refused client gets this long to send its CONNECT and read why (Pyro answers the CONNECT); and
 * at most this many wait at once: beyond that a flood of connections is closed on accept, so the
 * refused ones cannot hold more sockets than the limits allow.
 */
const REFUSAL_GRACE_MS = 1000;
/**
 * Steps of the handshake deadline: a connection still shaking hands is dropped between
 * handshakeTimeoutMs and an eighth of it later.
 */
const HANDSHAKE_STEPS = 8;
const MAX_PENDING_REFUSALS = 64;

interface ObjectEntry {
  readonly id: string;
  readonly exposure: Exposure;
  readonly instance: object | undefined;
  readonly cls: Ctor | undefined;
  readonly mode: InstanceMode;
  readonly creator: ((cls: Ctor) => object) | undefined;
  single: object | undefined;
}

/** A Cinder daemon. `await new Daemon(options).start()` (or `Daemon.start(options)`). */
export class Daemon implements AsyncDisposable {
  readonly config: CinderConfig;
  readonly logger: Logger;
  readonly serializers: { 4: SerializerSet; 5: SerializerSet };
  /**
   * The serializers clients may use (`config.serializersAccepted`), checked on every message.
   * Read by this package's server connections only.
   * @internal
   */
  readonly acceptedSerializers: { 4: SerializerLookup; 5: SerializerLookup };
  readonly streams: StreamRegistry;
  readonly options: DaemonOptions;
  /** The shared key clients must hold, if any. */
  readonly sharedKey: SharedKey | undefined;
  /** @internal what every client connection's handshake reads (made once). */
  readonly handshakeSettings: ServerHandshakeSettings;
  private readonly objects = new Map<string, ObjectEntry>();
  private readonly idsByObject = new WeakMap<object, string>();
  private readonly bound: BoundListener[] = [];
  private starting: Promise<this> | undefined;
  /** Every open client connection (a list, not a Set: see slots.ts). */
  private readonly connections = new LinkedList<ServerConnection>();
  /**
   * Connections holding a slot, by client address ('' for Unix sockets), oldest first: those still
   * in their handshake, and those serving. When slots run out they are what can be reclaimed.
   */
  private readonly slots = new SlotBook<ServerConnection>();
  /** Refused connections waiting for their CONNECT (each with the timer that closes it). */
  private refusingCount = 0;
  private refusalReport = { at: Number.NEGATIVE_INFINITY, suppressed: 0 };
  private closing = false;
  /**
   * The handshake deadline's and the heartbeat's intervals, one each for every connection (started
   * with the first connection, stopped by close): each tick walks what the daemon keeps anyway — the
   * half-open lists of the slot book, the list of connections — so that a connection costs no timer,
   * list node or closure of its own for them.
   */
  private tickers: NodeJS.Timeout[] | undefined;

  constructor(options: DaemonOptions = {}) {
    this.options = options;
    this.config = resolveConfig(
      options.config,
      options.useEnvironment === false ? { useEnvironment: false } : undefined,
    );
    this.logger = componentLogger(options.logger, 'daemon');
    const common = {
      maxDepth: this.config.maxDepth,
      maxItems: this.config.maxDecodeItems,
      serpentBytesRepr: this.config.serpentBytesRepr,
      ...(options.registry ? { registry: options.registry } : {}),
    };
    this.serializers = {
      4: createSerializers({ ...common, dialect: 4 }),
      5: createSerializers({ ...common, dialect: 5 }),
    };
    const accepted = new Set<string>(this.config.serializersAccepted);
    const only = (set: SerializerSet): SerializerLookup => ({
      byId: (id) => {
        const s = set.byId(id);
        return s && accepted.has(s.name) ? s : undefined;
      },
    });
    this.acceptedSerializers = { 4: only(this.serializers[4]), 5: only(this.serializers[5]) };
    this.streams = new StreamRegistry(this.config.iterStreamLifetimeMs, this.config.iterStreamLingerMs);
    const key = options.hmacKey ?? this.config.hmacKey;
    this.sharedKey = key === null || key === undefined || key === '' ? undefined : SharedKey.from(key);
    if (this.sharedKey) {
      const weak = sharedKeyWarning(this.sharedKey);
      if (weak) this.logger.warn(weak);
    }
    this.handshakeSettings = {
      logger: this.logger,
      serializerSets: this.serializers,
      serializersAccepted: this.config.serializersAccepted,
      sharedKey: this.sharedKey,
      multiplex: this.config.multiplex,
      // the daemon bounds the handshake and runs the heartbeat itself (startTickers)
      handshakeTimeoutMs: 0,
      heartbeatMs: 0,
      streamCredit: this.config.streamCredit,
      validate: options.validateHandshake,
    };
    const daemonObject = new DaemonObject({
      registeredIds: () => [...this.objects.keys()],
      describe: () => this.describe(),
      metadataOf: (id) => this.objects.get(id)?.exposure.metadata,
      nextStreamItem: (id) => this.streams.next(id, -1),
      closeStream: (id) => this.streams.close(id),
    });
    this.addEntry(daemonObject, DAEMON_NAME, {});
  }

  /** Creates and starts a daemon. */
  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const d = new Daemon(options);
    await d.start();
    return d;
  }

  /** Binds every listener (`listen`, or the one the top-level options describe) and starts accepting. */
  start(): Promise<this> {
    this.starting ??= (async () => {
      const o = this.options;
      let specs: readonly DaemonListenOptions[] = [o];
      if (o.listen !== undefined) {
        const clash = LISTEN_KEYS.filter((k) => o[k] !== undefined);
        if (clash.length > 0)
          throw new DaemonError(
            `give either listen or ${clash.join('/')}, not both: each listener takes its own`,
          );
        if (o.listen.length === 0) throw new DaemonError('listen needs at least one listener');
        specs = o.listen;
      }
      try {
        for (const spec of specs) await this.listen(spec);
      } catch (err) {
        await Promise.all(this.bound.splice(0).map((b) => b.listener.close()));
        this.starting = undefined;
        throw err;
      }
      return this;
    })();
    return this.starting;
  }

  /**
   * Adds a listener: the daemon accepts connections on it too, with the same objects, connection
   * slots and limits. `start()` calls it for the configured listeners; call it on a started daemon
   * to add more (e.g. a WebSocket endpoint next to TCP). `close()` closes every listener.
   */
  async listen(spec: DaemonListenOptions = {}): Promise<DaemonListener> {
    if (this.closing) throw new DaemonError('daemon is closing');
    const endpoint: Endpoint =
      spec.unixSocket !== undefined
        ? { kind: 'unix', path: spec.unixSocket }
        : { kind: 'tcp', host: spec.host ?? this.config.host, port: spec.port ?? 0 };
    const tls = spec.tls ?? (this.config.ssl && spec.transport === undefined ? true : undefined);
    let tlsServer: TlsServerOptions | undefined;
    if (tls === true) {
      tlsServer = loadTlsOptions(this.config).server;
      if (!tlsServer) throw new DaemonError('TLS is on but sslServerCert/sslServerKey are not set');
    } else if (tls) {
      tlsServer = tls;
    }
    // The TLS handshake comes before our own, so it gets the same deadline (slow or silent clients).
    if (tlsServer && tlsServer.handshakeTimeoutMs === undefined && this.config.handshakeTimeoutMs > 0) {
      tlsServer = { ...tlsServer, handshakeTimeoutMs: this.config.handshakeTimeoutMs };
    }
    const transport: Transport =
      spec.transport ??
      (tlsServer
        ? tlsTransport({ server: tlsServer })
        : endpoint.kind === 'unix'
          ? unixTransport()
          : tcpTransport());
    // a Unix socket is never reachable from the network (and a relative path is no host name)
    const warning =
      endpoint.kind === 'unix'
        ? null
        : bindWarning(endpoint.host, {
            tls: tlsServer !== undefined || transport.kind === 'tls' || transport.kind === 'wss',
            key: this.sharedKey !== undefined,
            ...(tlsServer ? { clientCertificates: tlsServer.requestCert === true } : {}),
          });
    if (warning) this.logger.warn({ location: endpoint }, warning);
    let entry: BoundListener | undefined;
    const webSocket = transport.kind === 'ws' || transport.kind === 'wss';
    const listener = await transport.listen(
      {
        endpoint,
        framing: {
          maxMessageSize: this.config.maxMessageSize,
          maxInflatedSize: this.config.maxInflatedSize,
          maxBufferedOutput: this.config.maxBufferedOutput,
          drainTimeoutMs: this.config.drainTimeoutMs,
          versions: this.options.protocols ?? (this.sharedKey ? [502] : [502, 48]),
          ...(this.sharedKey ? { hmacKey: this.sharedKey.bytes } : {}),
          // Browsers cannot inflate synchronously (the browser build has no zlib), so replies on a
          // WebSocket listener are never compressed; what a client sends compressed is still read.
          ...(this.config.compression && !webSocket ? { compressAbove: 100 } : {}),
        },
        ...(spec.socketMode !== undefined ? { socketMode: spec.socketMode } : {}),
        ...(this.config.idleTimeoutMs > 0 ? { idleTimeoutMs: this.config.idleTimeoutMs } : {}),
        logger: this.logger,
      },
      (connection) => this.accept(connection, entry),
    );
    const bound = listener.endpoint;
    const kind = transport.kind;
    const natHost = spec.natHost ?? (this.bound.length === 0 ? this.config.natHost : null);
    const natPort = spec.natPort ?? this.config.natPort;
    entry = {
      kind,
      endpoint: bound,
      path: webSocket ? ((transport as { path?: string }).path ?? '/') : undefined,
      listener,
      location: bound.kind === 'unix' ? { path: bound.path } : { host: bound.host, port: bound.port },
      natLocation:
        natHost && bound.kind === 'tcp'
          ? { host: natHost, port: natPort === 0 ? bound.port : natPort }
          : undefined,
    };
    if (this.closing) {
      await listener.close();
      throw new DaemonError('daemon is closing');
    }
    this.bound.push(entry);
    this.logger.info({ location: locationText(entry.location), transport: kind }, 'daemon listening');
    return entry;
  }

  /** Every listener, in the order they were added. */
  get listeners(): readonly DaemonListener[] {
    return this.bound.map(({ kind, endpoint, path }) => ({ kind, endpoint, path }));
  }

  /**
   * The listener PYRO URIs name by default: the first that is not a WebSocket one (Pyro peers and
   * the name server need a socket address), else the first.
   */
  private get primary(): BoundListener {
    const first = this.bound.find((b) => b.kind !== 'ws' && b.kind !== 'wss') ?? this.bound[0];
    if (!first) throw new DaemonError('daemon is not started: call start() first');
    return first;
  }

  /** `host:port`, `[v6]:port` or `./u:path` of the primary listener. */
  get locationString(): string {
    return locationText(this.primary.location);
  }

  /** The bound endpoint (with the real port) of the primary listener. */
  get endpoint(): Endpoint {
    return this.primary.endpoint;
  }

  /** The URI of the built-in `Pyro.Daemon` object. */
  get uri(): URI {
    return this.uriFor(DAEMON_NAME);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  // ---------------------------------------------------------------------------------------------
  // Registration

  /**
   * Registers an object (or a class, instantiated per the instance mode) under `objectId` (default
   * `obj_<uuid>`) and returns its URI. Registering the same object or id twice is a DaemonError
   * unless `force` is set.
   */
  register(target: object, objectId?: string, options: RegisterOptions = {}): URI {
    if (this.bound.length === 0) throw new DaemonError('daemon is not started: call start() first');
    return this.uriFor(this.addEntry(target, objectId, options));
  }

  private addEntry(target: object, objectId: string | undefined, options: RegisterOptions): string {
    if (typeof objectId !== 'undefined' && (typeof objectId !== 'string' || objectId === '')) {
      throw new DaemonError('object id must be a non-empty string');
    }
    const id = objectId ?? `obj_${randomUUID().replaceAll('-', '')}`;
    if (/\s/.test(id) || id.includes('@')) throw new DaemonError(`invalid object id '${id}'`);
    const existing = this.objects.get(id);
    if (existing && !options.force) throw new DaemonError(`object or class already registered: ${id}`);
    const previousId = this.idsByObject.get(target);
    if (previousId !== undefined && previousId !== id && !options.force) {
      throw new DaemonError(`object or class already registered: ${previousId}`);
    }
    const isClass = typeof target === 'function';
    const exposure = exposureOf(target);
    if (exposure.methods.size === 0 && exposure.attrs.size === 0) {
      throw new DaemonError(
        `${isClass ? 'class' : 'object'} '${id}' exposes nothing: mark members with @expose (or expose(...))`,
      );
    }
    const b = isClass ? behaviorOf(target) : undefined;
    const entry: ObjectEntry = {
      id,
      exposure,
      instance: isClass ? undefined : target,
      cls: isClass ? (target as Ctor) : undefined,
      mode: options.instanceMode ?? b?.instanceMode ?? 'session',
      creator: (options.instanceCreator ?? b?.instanceCreator) as ((cls: Ctor) => object) | undefined,
      single: undefined,
    };
    if (existing) this.unregister(id);
    this.objects.set(id, entry);
    this.idsByObject.set(target, id);
    return id;
  }

  /** Removes a registration (by object or id). Unregistering `Pyro.Daemon` is ignored, like Pyro. */
  unregister(target: object | string): void {
    const id = typeof target === 'string' ? target : this.idsByObject.get(target);
    if (id === undefined || id === DAEMON_NAME) return;
    const entry = this.objects.get(id);
    if (!entry) return;
    this.objects.delete(id);
    const key = entry.instance ?? entry.cls;
    if (key && this.idsByObject.get(key) === id) this.idsByObject.delete(key);
  }

  /** The ids of every registered object. */
  registered(): string[] {
    return [...this.objects.keys()];
  }

  /**
   * The URI of a registered object (or of any id) at the primary listener (see `listeners`), or at
   * the first listener of `transport`; `nat: false` gives the internal address. For a WebSocket
   * listener it is the `ws://host:port/path#objectId` text that `connect()` takes.
   */
  uriFor(target: object | string, options: { transport: 'ws' | 'wss' }): string;
  uriFor(target: object | string, options?: { nat?: boolean; transport?: 'tcp' | 'unix' | 'tls' }): URI;
  uriFor(
    target: object | string,
    options: { nat?: boolean; transport?: Transport['kind'] } = {},
  ): URI | string {
    const id = typeof target === 'string' ? target : this.idsByObject.get(target);
    if (id === undefined) throw new DaemonError('object is not registered');
    const at =
      options.transport === undefined ? this.primary : this.bound.find((b) => b.kind === options.transport);
    if (at === undefined) throw new DaemonError(`daemon has no ${options.transport} listener`);
    if (at.path !== undefined && options.transport !== undefined) {
      const { host, port } = at.endpoint as { host: string; port: number };
      return webSocketUri(id, { host, port, path: at.path, secure: at.kind === 'wss' });
    }
    return URI.forObject(id, options.nat === false ? at.location : (at.natLocation ?? at.location));
  }

  /** Metadata of a registered object. */
  metadataOf(objectId: string): ObjectMetadata | undefined {
    return this.objects.get(objectId)?.exposure.metadata;
  }

  private describe(): string {
    const first = this.bound.length > 0 ? this.primary : undefined;
    const nat = first?.natLocation ? locationText(first.natLocation) : 'None';
    return `${DAEMON_NAME} bound on ${first ? locationText(first.location) : '(not started)'}, NAT ${nat}, ${this.objects.size} objects registered. Servertype: Cinder (Node.js ${process.version}, async)`;
  }

  // ---------------------------------------------------------------------------------------------
  // Connections

  private accept(connection: Connection, at: BoundListener | undefined): void {
    if (this.closing) {
      connection.destroy();
      return;
    }
    // the client's IP address; null (no per-client limit) for a Unix socket's peer
    const host = connection.remoteHost;
    const client = host !== undefined ? clientHostKey(host) : clientAddressKey(connection.remoteAddress);
    const key = client ?? '';
    let refused = this.limitReached(connection, client);
    // Out of slots: a peer must not be able to hoard them. Reclaim one from whoever holds the most.
    if (refused?.limit === 'maxConnections' && this.reclaimSlot(key))
      refused = this.limitReached(connection, client);
    if (refused !== undefined) {
      this.reportRefusal(refused);
      if (this.refusingCount >= MAX_PENDING_REFUSALS) {
        connection.destroy();
        return;
      }
    }
    const server = new ServerConnection(this, connection, refused?.message, at);
    this.connections.push(server.link);
    if (this.tickers === undefined) this.startTickers();
    if (refused === undefined) {
      if (this.slots.halfOpenCount >= this.config.maxHalfOpenConnections) this.dropHalfOpen();
      server.slot = this.slots.add(server, key);
    } else {
      const grace = Math.min(REFUSAL_GRACE_MS, this.config.handshakeTimeoutMs || REFUSAL_GRACE_MS);
      const timer = setTimeout(() => connection.destroy(), grace);
      timer.unref();
      server.refusalTimer = timer;
      this.refusingCount++;
    }
    connection.setHandler(server);
  }

  private startTickers(): void {
    const { handshakeTimeoutMs, heartbeatMs } = this.config;
    const tickers: NodeJS.Timeout[] = [];
    if (handshakeTimeoutMs > 0) {
      tickers.push(setInterval(this.handshakeTick, handshakeTimeoutMs / HANDSHAKE_STEPS));
    }
    if (heartbeatMs > 0) tickers.push(setInterval(this.heartbeatTick, heartbeatMs));
    for (const ticker of tickers) ticker.unref();
    this.tickers = tickers;
  }

  /** Drops the connections that have not finished their handshake within handshakeTimeoutMs. */
  private readonly handshakeTick = (): void => {
    this.slots.expireHalfOpen(HANDSHAKE_STEPS, this.handshakeExpired);
  };

  private readonly handshakeExpired = (server: ServerConnection): void => {
    this.logger.debug({ client: server.connection.remoteAddress }, 'handshake timeout: dropping connection');
    server.connection.destroy(new CommunicationError('handshake timeout'));
    // its slot is free now, as the client sees its FIN, not when the socket's close event comes
    this.connectionEnded(server);
  };

  /** The heartbeat of every connection (between Cinder peers, while the daemon waits for the client). */
  private readonly heartbeatTick = (): void => {
    const intervalMs = this.config.heartbeatMs;
    for (let link = this.connections.first; link !== null; ) {
      const next = link.next;
      link.value.heartbeat(intervalMs);
      link = next;
    }
  };

  /**
   * Whether a new connection would exceed maxConnections, or maxConnectionsPerClient
   * for its address `client`: the connections counted are those holding a slot in the book.
   */
  private limitReached(connection: Connection, client: string | null): ConnectionLimitError | undefined {
    const { maxConnections, maxConnectionsPerClient } = this.config;
    const open = this.slots.held;
    if (open >= maxConnections) {
      return new ConnectionLimitError(
        'maxConnections',
        maxConnections,
        `connection from ${connection.remoteAddress} refused: ${open} connections open (maxConnections=${maxConnections})`,
      );
    }
    if (client === null) return undefined;
    const count = this.slots.countFor(client);
    if (count < maxConnectionsPerClient) return undefined;
    return new ConnectionLimitError(
      'maxConnectionsPerClient',
      maxConnectionsPerClient,
      `connection from ${connection.remoteAddress} refused: ${count} connections open from ${client} (maxConnectionsPerClient=${maxConnectionsPerClient})`,
    );
  }

  /** Logs refusals at most once a second (a flood would otherwise flood the log too). */
  private reportRefusal(error: ConnectionLimitError): void {
    const now = performance.now();
    const report = this.refusalReport;
    if (now - report.at < 1000) {
      report.suppressed++;
      return;
    }
    this.logger.warn(
      { limit: error.limit, max: error.max, refusedSinceLastReport: report.suppressed },
      error.message,
    );
    this.refusalReport = { at: now, suppressed: 0 };
  }

  /** @internal a ServerConnection finished its handshake: it serves now. */
  connectionReady(server: ServerConnection): void {
    if (server.slot !== undefined) this.slots.ready(server.slot);
  }

  /**
   * Drops the oldest half-open connection of the address holding the most of them (the newest
   * connections, a well-behaved client's among them, finish their handshake in a round trip).
   */
  private dropHalfOpen(): boolean {
    const victim = this.slots.oldestHalfOpenOfBiggest();
    if (victim === undefined) return false;
    this.reclaim(victim, 'half-open connection dropped to admit a new one');
    return true;
  }

  /**
   * Frees a slot for a new connection from `key` when all are taken: a half-open connection if any,
   * else the oldest idle connection of an address holding more connections than `key` does (the
   * most first). False when nothing can be reclaimed: the newcomer is refused.
   */
  private reclaimSlot(key: string): boolean {
    if (this.slots.halfOpenCount > 0) return this.dropHalfOpen();
    const server = this.slots.idleOfBiggerHolder(key);
    if (server === undefined) return false;
    this.reclaim(server, 'idle connection closed to admit a client from another address');
    return true;
  }

  private reclaim(server: ServerConnection, why: string): void {
    this.logger.debug({ client: server.connection.remoteAddress }, why);
    server.connection.destroy(new CommunicationError(why));
    // the slot is free now, not when the socket's close event comes
    this.connectionEnded(server);
  }

  /** @internal a ServerConnection ended. */
  connectionEnded(server: ServerConnection): void {
    if (!this.connections.remove(server.link)) return;
    if (server.slot !== undefined) this.slots.remove(server.slot);
    const refusalTimer = server.refusalTimer;
    if (refusalTimer !== undefined) {
      clearTimeout(refusalTimer);
      server.refusalTimer = undefined;
      this.refusingCount--;
    }
    this.streams.connectionClosed(server.connection.id);
    this.options.onClientDisconnect?.(server.connection);
  }

  /** @internal whether an object id is registered (handshake). */
  hasObject(id: string): boolean {
    return this.objects.has(id);
  }

  private instanceFor(entry: ObjectEntry, server: ServerConnection): object {
    if (entry.instance) return entry.instance;
    switch (entry.mode) {
      case 'single':
        entry.single ??= this.create(entry);
        return entry.single;
      case 'percall':
        return this.create(entry);
      default: {
        const instances = (server.sessionInstances ??= new Map());
        let inst = instances.get(entry.id);
        if (!inst) {
          inst = this.create(entry);
          instances.set(entry.id, inst);
        }
        return inst;
      }
    }
  }

  private create(entry: ObjectEntry): object {
    const cls = entry.cls!;
    const inst = entry.creator ? entry.creator(cls) : new cls();
    if (!(inst instanceof cls))
      throw new TypeError(`instance creator returned an object that is not a ${cls.name}`);
    return inst;
  }

  /** @internal one call of a client connection. */
  dispatch(server: ServerConnection, incoming: IncomingCall): unknown {
    const { call, message } = incoming;
    const entry = this.objects.get(call.object);
    if (entry === undefined) throw new DaemonError('unknown object');
    const target = this.instanceFor(entry, server);
    if ((message.flags & Flags.BATCH) !== 0)
      return counted(server, this.runBatch(target, entry.exposure, call.batch ?? call.params));
    if (call.object === DAEMON_NAME && call.method === 'get_next_stream_item') {
      const id = call.params[0];
      return this.streams.next(typeof id === 'string' ? id : '', server.connection.id);
    }
    const result = invokeExposed(target, entry.exposure, call.method, call.params, call.kwargs);
    if (result instanceof Promise)
      return counted(server, result).then((value: unknown) => this.shapeResult(server, value));
    return this.shapeResult(server, result);
  }

  private shapeResult(server: ServerConnection, value: unknown): unknown {
    if (!isStreamable(value)) return value;
    if (!this.config.iterStreaming)
      throw new CinderError('streaming is disabled in this daemon (iterStreaming)');
    if ((server.capabilities & Capability.PUSH_STREAMS) !== 0) return new PushStreamReply(toIterator(value));
    const id = this.streams.add(toIterator(value), server.connection.id);
    // Pyro's own marker class: a client checks ITEMSTREAMRESULT first and never raises it.
    const marker = new ProtocolError('result of call is an iterator');
    return new SpecialReply(
      Flags.ITEMSTREAMRESULT,
      marker,
      new Map([['STRM', Buffer.from(id, 'ascii')]]),
      true,
    );
  }

  private async runBatch(
    target: object,
    exposure: Exposure,
    calls: BatchCalls | readonly unknown[],
  ): Promise<unknown[]> {
    if (calls.length > this.config.maxBatchSize) {
      throw new DaemonError(`batch too large: ${calls.length} calls (max ${this.config.maxBatchSize})`);
    }
    // sized once: appending to a list of 40,000 re-allocates it as it grows
    const results = new Array<unknown>(calls.length);
    let count = 0;
    for (const item of calls) {
      try {
        let value = runBatchItem(target, exposure, item);
        if (value instanceof Promise) value = await value;
        results[count++] = value;
      } catch (err) {
        results[count++] = new ExceptionWrapper(err instanceof Error ? err : new Error(String(err)));
        break;
      }
    }
    results.length = count;
    return results;
  }

  /**
   * Autoproxy: a registered object in a result or argument travels as a proxy to it, at the
   * primary listener (see `listeners`); undefined for a value that is not registered.
   */
  autoproxy(value: object, dialect: 4 | 5): unknown {
    return this.autoproxyAt(value, dialect, undefined);
  }

  /**
   * @internal autoproxy at the listener a client's connection came in on (a browser's proxy
   * reconnects over WebSocket, a Pyro peer's over TCP).
   */
  autoproxyAt(value: object, dialect: 4 | 5, listener: ListenerLocation | undefined): unknown {
    const id = this.idsByObject.get(value);
    if (id === undefined || this.bound.length === 0) return undefined;
    const at = listener ?? this.primary;
    const uri = URI.forObject(id, at.natLocation ?? at.location);
    const meta = this.objects.get(id)?.exposure.metadata ?? { methods: [], oneway: [], attrs: [] };
    return proxyDict({ uri, metadata: meta, handshake: 'hello', serializer: null }, dialect);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Stops accepting, lets calls in progress finish (up to `graceMs`, default 5 s), then closes every
   * connection; calls still running then are cut off and their clients get ConnectionClosedError.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      await this.closeConnections(options.graceMs ?? 5000);
    } finally {
      for (const ticker of this.tickers ?? []) clearInterval(ticker);
    }
  }

  private async closeConnections(graceMs: number): Promise<void> {
    // a start() in progress finishes binding first, so every listener it made is closed here
    await this.starting?.catch(() => {});
    if (this.bound.length === 0) return;
    const where = this.locationString;
    await Promise.all(this.bound.map((b) => b.listener.stopAccepting()));
    await Promise.all([...this.connections].map((c) => c.shutdown(graceMs)));
    await Promise.all(this.bound.map((b) => b.listener.close()));
    this.streams.closeAll();
    this.logger.info({ location: where }, 'daemon closed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function locationText(loc: UriLocation): string {
  if ('path' in loc) return `./u:${loc.path}`;
  return loc.host.includes(':') ? `[${loc.host}]:${loc.port}` : `${loc.host}:${loc.port}`;
}

/**
 * Runs one call of a batch, an `[method, args, kwargs]` item. A function of its own (called once per
 * call, so optimized within the first batches) rather than the body of runBatch's loop, which runs
 * once per batch and would wait for on-stack replacement in a process's first large batch.
 */
function runBatchItem(target: object, exposure: Exposure, item: unknown): unknown {
  if (!Array.isArray(item) || typeof item[0] !== 'string') throw new DaemonError('invalid batch item');
  const args: unknown = item[1];
  return invokeExposed(
    target,
    exposure,
    item[0],
    Array.isArray(args) ? args : [],
    (item[2] ?? null) as Record<string, unknown> | null,
  );
}

/** Counts a call served asynchronously, so a connection waiting for it is never taken for an idle one. */
function counted<T>(server: ServerConnection, result: Promise<T>): Promise<T> {
  server.inFlight++;
  return result.finally(() => {
    server.inFlight--;
  });
}
