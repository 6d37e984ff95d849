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
  type Logger,
  type ObjectMetadata,
  ProtocolError,
  resolveConfig,
  URI,
  type UriLocation,
} from '@cinder/core';
import { Flags, type ProtocolVersion } from '@cinder/protocol';
import type { HandshakeContext } from '@cinder/rpc';
import {
  behaviorOf,
  type CallServer,
  Capability,
  type Exposure,
  exposureOf,
  type IncomingCall,
  type InstanceMode,
  invokeExposed,
  PushStreamReply,
  proxyDict,
  type SerializerLookup,
  SpecialReply,
} from '@cinder/rpc';
import {
  bindWarning,
  type ConnectionLimitError,
  ConnectionLimiter,
  clientAddressKey,
  loadTlsOptions,
  SharedKey,
  sharedKeyWarning,
} from '@cinder/security';
import {
  type ClassRegistry,
  type CodecHooks,
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
} from '@cinder/transport';
import { DaemonObject } from './daemon-object.js';
import { ServerConnection } from './server-connection.js';
import { isStreamable, StreamRegistry, toIterator } from './stream-registry.js';

export type { HandshakeContext };

export interface DaemonOptions {
  config?: Partial<CinderConfig> | CinderConfig;
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
  /** Address published in URIs when the daemon is behind NAT. */
  natHost?: string;
  natPort?: number;
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
  transport?: Transport;
  logger?: Logger;
}

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
  /** The serializers clients may use (`config.serializersAccepted`), checked on every message. */
  readonly acceptedSerializers: { 4: SerializerLookup; 5: SerializerLookup };
  readonly streams: StreamRegistry;
  readonly options: DaemonOptions;
  /** The shared key clients must hold, if any. */
  readonly sharedKey: SharedKey | undefined;
  private readonly objects = new Map<string, ObjectEntry>();
  private readonly idsByObject = new WeakMap<object, string>();
  private listener: Listener | undefined;
  private readonly connections = new Set<ServerConnection>();
  private readonly limiter: ConnectionLimiter;
  /**
   * Connections holding a slot, by client address ('' for Unix sockets), oldest first: those still
   * in their handshake, and those serving. When slots run out they are what can be reclaimed.
   */
  private readonly halfOpen = new Map<string, Set<ServerConnection>>();
  private halfOpenCount = 0;
  private readonly serving = new Map<string, Set<ServerConnection>>();
  private readonly slotKeys = new Map<ServerConnection, string>();
  /** Refused connections waiting for their CONNECT, with the timer that closes them. */
  private readonly refusing = new Map<ServerConnection, NodeJS.Timeout>();
  private refusalReport = { at: Number.NEGATIVE_INFINITY, suppressed: 0 };
  private closing = false;
  private location: UriLocation | undefined;
  private natLocation: UriLocation | undefined;

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
    this.limiter = new ConnectionLimiter({
      maxConnections: this.config.maxConnections,
      maxConnectionsPerClient: this.config.maxConnectionsPerClient,
    });
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

  /** Binds and starts accepting connections. */
  async start(): Promise<this> {
    if (this.listener) return this;
    const o = this.options;
    const endpoint: Endpoint =
      o.unixSocket !== undefined
        ? { kind: 'unix', path: o.unixSocket }
        : { kind: 'tcp', host: o.host ?? this.config.host, port: o.port ?? 0 };
    const tls = o.tls ?? (this.config.ssl ? true : undefined);
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
      o.transport ??
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
            tls: tlsServer !== undefined,
            key: this.sharedKey !== undefined,
            ...(tlsServer ? { clientCertificates: tlsServer.requestCert === true } : {}),
          });
    if (warning) this.logger.warn({ location: endpoint }, warning);
    this.listener = await transport.listen(
      {
        endpoint,
        framing: {
          maxMessageSize: this.config.maxMessageSize,
          maxInflatedSize: this.config.maxInflatedSize,
          versions: o.protocols ?? (this.sharedKey ? [502] : [502, 48]),
          ...(this.sharedKey ? { hmacKey: this.sharedKey.bytes } : {}),
          ...(this.config.compression ? { compressAbove: 100 } : {}),
        },
        ...(o.socketMode !== undefined ? { socketMode: o.socketMode } : {}),
        ...(this.config.idleTimeoutMs > 0 ? { idleTimeoutMs: this.config.idleTimeoutMs } : {}),
        logger: this.logger,
      },
      (connection) => this.accept(connection),
    );
    const bound = this.listener.endpoint;
    this.location = bound.kind === 'unix' ? { path: bound.path } : { host: bound.host, port: bound.port };
    const natHost = o.natHost ?? this.config.natHost;
    if (natHost && bound.kind === 'tcp') {
      const natPort = o.natPort ?? this.config.natPort;
      this.natLocation = { host: natHost, port: natPort === 0 ? bound.port : natPort };
    }
    this.logger.info({ location: this.locationString }, 'daemon started');
    return this;
  }

  /** `host:port`, `[v6]:port` or `./u:path` of the bound socket. */
  get locationString(): string {
    const loc = this.requireLocation();
    if ('path' in loc) return `./u:${loc.path}`;
    return loc.host.includes(':') ? `[${loc.host}]:${loc.port}` : `${loc.host}:${loc.port}`;
  }

  /** The bound endpoint (with the real port). */
  get endpoint(): Endpoint {
    if (!this.listener) throw new DaemonError('daemon is not started');
    return this.listener.endpoint;
  }

  /** The URI of the built-in `Pyro.Daemon` object. */
  get uri(): URI {
    return this.uriFor(DAEMON_NAME);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private requireLocation(): UriLocation {
    if (!this.location) throw new DaemonError('daemon is not started: call start() first');
    return this.location;
  }

  // ---------------------------------------------------------------------------------------------
  // Registration

  /**
   * Registers an object (or a class, instantiated per the instance mode) under `objectId` (default
   * `obj_<uuid>`) and returns its URI. Registering the same object or id twice is a DaemonError
   * unless `force` is set.
   */
  register(target: object, objectId?: string, options: RegisterOptions = {}): URI {
    this.requireLocation();
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

  /** The URI of a registered object (or of any id); `nat: false` gives the internal address. */
  uriFor(target: object | string, options: { nat?: boolean } = {}): URI {
    const id = typeof target === 'string' ? target : this.idsByObject.get(target);
    if (id === undefined) throw new DaemonError('object is not registered');
    const loc = options.nat === false ? this.requireLocation() : (this.natLocation ?? this.requireLocation());
    return URI.forObject(id, loc);
  }

  /** Metadata of a registered object. */
  metadataOf(objectId: string): ObjectMetadata | undefined {
    return this.objects.get(objectId)?.exposure.metadata;
  }

  private describe(): string {
    const nat = this.natLocation
      ? 'path' in this.natLocation
        ? this.natLocation.path
        : `${this.natLocation.host}:${this.natLocation.port}`
      : 'None';
    return `${DAEMON_NAME} bound on ${this.location ? this.locationString : '(not started)'}, NAT ${nat}, ${this.objects.size} objects registered. Servertype: Cinder (Node.js ${process.version}, async)`;
  }

  // ---------------------------------------------------------------------------------------------
  // Connections

  private accept(connection: Connection): void {
    if (this.closing) {
      connection.destroy();
      return;
    }
    const key = clientAddressKey(connection.remoteAddress) ?? '';
    let acquired = this.limiter.tryAcquire(connection.remoteAddress);
    // Out of slots: a peer must not be able to hoard them. Reclaim one from whoever holds the most.
    if (acquired instanceof Error && acquired.limit === 'maxConnections' && this.reclaimSlot(key))
      acquired = this.limiter.tryAcquire(connection.remoteAddress);
    const refusal = acquired instanceof Error ? acquired.message : undefined;
    if (acquired instanceof Error) {
      this.reportRefusal(acquired);
      if (this.refusing.size >= MAX_PENDING_REFUSALS) {
        connection.destroy();
        return;
      }
    }
    const server = new ServerConnection(
      this,
      connection,
      refusal,
      acquired instanceof Error ? undefined : acquired,
    );
    this.connections.add(server);
    if (!(acquired instanceof Error)) {
      if (this.halfOpenCount >= this.config.maxHalfOpenConnections) this.dropHalfOpen();
      this.slotKeys.set(server, key);
      addTo(this.halfOpen, key, server);
      this.halfOpenCount++;
    }
    if (acquired instanceof Error) {
      const grace = Math.min(REFUSAL_GRACE_MS, this.config.handshakeTimeoutMs || REFUSAL_GRACE_MS);
      const timer = setTimeout(() => connection.destroy(), grace);
      timer.unref();
      this.refusing.set(server, timer);
    }
    connection.setHandler(server);
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
    const key = this.slotKeys.get(server);
    if (key === undefined) return;
    if (removeFrom(this.halfOpen, key, server)) this.halfOpenCount--;
    addTo(this.serving, key, server);
  }

  /**
   * Drops the oldest half-open connection of the address holding the most of them (the newest
   * connections, a well-behaved client's among them, finish their handshake in a round trip).
   */
  private dropHalfOpen(): boolean {
    let victims: Set<ServerConnection> | undefined;
    for (const set of this.halfOpen.values()) if (!victims || set.size > victims.size) victims = set;
    const victim = victims?.values().next().value;
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
    if (this.halfOpenCount > 0) return this.dropHalfOpen();
    const own = (this.serving.get(key)?.size ?? 0) + (this.halfOpen.get(key)?.size ?? 0) + 1;
    const holders = [...this.serving.values()].filter((s) => s.size > own).sort((a, b) => b.size - a.size);
    for (const set of holders) {
      for (const server of set) {
        if (server.idle) {
          this.reclaim(server, 'idle connection closed to admit a client from another address');
          return true;
        }
      }
    }
    return false;
  }

  private reclaim(server: ServerConnection, why: string): void {
    this.logger.debug({ client: server.connection.remoteAddress }, why);
    server.connection.destroy(new CommunicationError(why));
    // the slot is free now, not when the socket's close event comes
    this.connectionEnded(server);
  }

  /** @internal a ServerConnection ended. */
  connectionEnded(server: ServerConnection): void {
    if (!this.connections.delete(server)) return;
    const key = this.slotKeys.get(server);
    if (key !== undefined) {
      this.slotKeys.delete(server);
      if (removeFrom(this.halfOpen, key, server)) this.halfOpenCount--;
      else removeFrom(this.serving, key, server);
    }
    server.release?.();
    const refusalTimer = this.refusing.get(server);
    if (refusalTimer !== undefined) {
      clearTimeout(refusalTimer);
      this.refusing.delete(server);
    }
    this.streams.connectionClosed(server.connection.id);
    this.options.onClientDisconnect?.(server.connection);
  }

  /** @internal the CallServer of one client connection. */
  callServer(server: ServerConnection, hooks: CodecHooks): CallServer {
    return {
      hooks,
      dispatch: (incoming) => this.dispatch(server, incoming),
    };
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
        let inst = server.sessionInstances.get(entry.id);
        if (!inst) {
          inst = this.create(entry);
          server.sessionInstances.set(entry.id, inst);
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

  private dispatch(server: ServerConnection, incoming: IncomingCall): unknown {
    const { call, message } = incoming;
    const entry = this.objects.get(call.object);
    if (entry === undefined) throw new DaemonError('unknown object');
    const target = this.instanceFor(entry, server);
    if ((message.flags & Flags.BATCH) !== 0)
      return counted(server, this.runBatch(target, entry.exposure, call.params));
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

  private async runBatch(target: object, exposure: Exposure, calls: readonly unknown[]): Promise<unknown[]> {
    if (calls.length > this.config.maxBatchSize) {
      throw new DaemonError(`batch too large: ${calls.length} calls (max ${this.config.maxBatchSize})`);
    }
    const results: unknown[] = [];
    for (const item of calls) {
      try {
        if (!Array.isArray(item) || typeof item[0] !== 'string') throw new DaemonError('invalid batch item');
        const [method, args, kwargs] = item as [string, unknown, unknown];
        let value = invokeExposed(
          target,
          exposure,
          method,
          Array.isArray(args) ? args : [],
          (kwargs ?? null) as Record<string, unknown> | null,
        );
        if (value instanceof Promise) value = await value;
        results.push(value);
      } catch (err) {
        results.push(new ExceptionWrapper(err instanceof Error ? err : new Error(String(err))));
        break;
      }
    }
    return results;
  }

  /** Autoproxy: a registered object in a result or argument travels as a proxy to it. */
  autoproxy(value: object, dialect: 4 | 5): unknown {
    const id = this.idsByObject.get(value);
    if (id === undefined || !this.location) return undefined;
    const meta = this.objects.get(id)?.exposure.metadata ?? { methods: [], oneway: [], attrs: [] };
    return proxyDict({ uri: this.uriFor(id), metadata: meta, handshake: 'hello', serializer: null }, dialect);
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
    const listener = this.listener;
    if (!listener) return;
    await listener.stopAccepting();
    const graceMs = options.graceMs ?? 5000;
    await Promise.all([...this.connections].map((c) => c.shutdown(graceMs)));
    await listener.close();
    this.streams.closeAll();
    this.logger.info({ location: this.locationString }, 'daemon closed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

/** Removes `value` from the set at `key` (and an emptied set); true if it was there. */
function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): boolean {
  const set = map.get(key);
  if (set === undefined || !set.delete(value)) return false;
  if (set.size === 0) map.delete(key);
  return true;
}

/** Counts a call served asynchronously, so a connection waiting for it is never taken for an idle one. */
function counted<T>(server: ServerConnection, result: Promise<T>): Promise<T> {
  server.inFlight++;
  return result.finally(() => {
    server.inFlight--;
  });
}
