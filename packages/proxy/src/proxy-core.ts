// One proxy's state and its calls: the settings taken from its options, the remote object's
// metadata, and every kind of call — a method (the hot path), an attribute, `$ping`, a batch, the
// daemon's own object — each with its one deadline, retried after a lost connection when allowed.
// Connecting is its Connector's (connector.ts); the public object is a JS Proxy over this
// (proxy-object.ts).
import {
  type CallOptions,
  type CinderConfig,
  ConnectionClosedError,
  componentLogger,
  DAEMON_NAME,
  Deadline,
  type Logger,
  NotExposedError,
  type ObjectMetadata,
  ProtocolError,
  resolveConfig,
  SerializeError,
  TimeoutError,
  type URI,
} from '@cinder/core';
import { Flags, type ProtocolVersion } from '@cinder/protocol';
import type { ProxyDescriptor } from '@cinder/rpc';
import {
  Capability,
  isProxyClassName,
  type OutgoingCall,
  parseProxyDict,
  proxyDict,
  type Session,
  wasNotSent,
} from '@cinder/rpc/internal';
import type { CodecHooks, QueuedCalls, Serializer, SerializerSet } from '@cinder/serializers';
import { NO_PARAMS } from './batch.js';
import { withCallerFrames } from './caller-frames.js';
import { Connector } from './connector.js';
import type { ProxyOptions, ReconnectOptions } from './proxy-options.js';
import {
  EMPTY_KWARGS,
  type Meta,
  parseUri,
  reconnectPolicy,
  serializersFor,
  sharedKeyOf,
  toMeta,
} from './proxy-setup.js';
import type { RemoteCallOptions } from './remote.js';
import type { ConnectProxy } from './resolve.js';

const NO_NAMES: ReadonlySet<string> = new Set();

/** How a proxy's codec recognises proxy objects and makes new ones (connect.ts provides them). */
export interface ProxyObjects {
  /** A proxy object for a proxy received as a value, or for a name server to resolve a uri. */
  readonly connect: ConnectProxy;
  /** The descriptor of a proxy object, or undefined for anything else. */
  describe(value: object): ProxyDescriptor | undefined;
}

/**
 * The codec hooks of one proxy's calls (@cinder/rpc's proxyHooks, as one object whose methods are
 * shared by every proxy: a proxy made per call builds no closures for them). Outgoing: an object
 * outside the value model goes as the proxy lends it (ProxyCore.lend), a proxy as Pyro's proxy
 * dict. Incoming: a proxy dict becomes a proxy with this proxy's options.
 */
class ProxyCodecHooks implements CodecHooks {
  // declared, not class fields: assigned once here, with no field initializer to run per proxy
  declare private readonly core: ProxyCore;
  declare private readonly dialect: 4 | 5;
  declare private readonly objects: ProxyObjects;

  constructor(core: ProxyCore, dialect: 4 | 5, objects: ProxyObjects) {
    this.core = core;
    this.dialect = dialect;
    this.objects = objects;
  }

  replace(value: object): unknown {
    const lent = this.core.lend(value, this.dialect);
    if (lent !== undefined) return lent;
    const d = this.objects.describe(value);
    return d ? proxyDict(d, this.dialect) : undefined;
  }

  revive(className: string, dict: Record<string, unknown>): unknown {
    if (!isProxyClassName(className)) return undefined;
    const d = parseProxyDict(className, dict);
    return this.objects.connect(d.uri, {
      ...this.core.options,
      boundSession: undefined,
      metadata: d.metadata,
    });
  }
}

/** Internal state of one proxy. The public object is a JS Proxy over it (see `connect`). */
export class ProxyCore {
  readonly uri: URI;
  readonly config: CinderConfig;
  readonly logger: Logger;
  readonly serializer: Serializer;
  readonly serializers: SerializerSet;
  readonly protocol: ProtocolVersion;
  readonly options: ProxyOptions;
  readonly timeoutMs: number;
  resolved: URI | undefined;
  handshakeResponse: unknown;
  readonly hooks: CodecHooks;
  private readonly link: Connector;
  private meta: Meta | undefined;
  /**
   * $metadata: this connection's own copy of `meta.raw`, made when first read — `meta.raw` may be
   * shared with other connections and proxies (the same CONNECTOK read again), so it is never
   * handed out itself. A connection that brings metadata drops it.
   */
  private ownMetadata: ObjectMetadata | undefined;
  private readonly reconnect: Required<ReconnectOptions> | undefined;
  private readonly idempotent: ReadonlySet<string>;
  private readonly maxRetries: number;
  private readonly callerStacks: boolean;
  private readonly pipelineFirstCall: boolean;
  /** Call options of plain calls (no per-call options), built once: the hot path allocates none. */
  private defaultCall: OutgoingCall | undefined;
  private defaultOneway: OutgoingCall | undefined;

  /** @internal made by connect() and the callback proxies (connect.ts). */
  constructor(uri: string | URI, options: ProxyOptions, objects: ProxyObjects) {
    this.options = options;
    const config = resolveConfig(
      options.config,
      options.useEnvironment === false ? { useEnvironment: false } : undefined,
    );
    this.config = config;
    this.uri = parseUri(uri, config.nsPort);
    this.logger = componentLogger(options.logger, 'proxy');
    this.protocol = options.protocol ?? 502;
    if (this.protocol !== 502 && this.protocol !== 48)
      throw new TypeError(`unsupported protocol version ${String(this.protocol)}`);
    this.serializers = serializersFor(this.protocol === 48 ? 4 : 5, config, options.registry);
    const name = options.serializer ?? config.serializer;
    const serializer = this.serializers.byName(name);
    if (!serializer) throw new SerializeError(`unknown serializer '${name}'`);
    this.serializer = serializer;
    this.timeoutMs = options.timeoutMs ?? config.commTimeoutMs;
    this.reconnect = reconnectPolicy(options);
    this.idempotent = options.idempotent?.length ? new Set(options.idempotent) : NO_NAMES;
    this.maxRetries = options.maxRetries ?? config.maxRetries;
    this.callerStacks = config.callerStacks;
    const sharedKey = sharedKeyOf(options, config);
    if (options.metadata) {
      this.meta = toMeta(options.metadata);
      this.ownMetadata = options.metadata;
    }
    this.pipelineFirstCall =
      (options.pipelineFirstCall ?? true) &&
      sharedKey === undefined &&
      options.validateHandshake === undefined &&
      this.reconnect === undefined &&
      options.boundSession === undefined;
    this.hooks = new ProxyCodecHooks(this, this.protocol === 48 ? 4 : 5, objects);
    this.link = new Connector({
      uri: this.uri,
      config,
      logger: this.logger,
      options,
      protocol: this.protocol,
      serializers: this.serializers,
      serializer,
      hooks: this.hooks,
      sharedKey,
      reconnect: this.reconnect,
      connect: objects.connect,
      streams: this,
      owner: this,
    });
  }

  /** @internal a handshake with `target` succeeded (the connector's ConnectorOwner). */
  onConnected(target: URI, response: unknown, metadata: ObjectMetadata | undefined): void {
    if (metadata) {
      this.meta = toMeta(metadata, this.meta);
      this.ownMetadata = undefined;
    }
    this.handshakeResponse = response;
    this.resolved = target;
  }

  /**
   * @internal what an object outside the value model travels as in this proxy's calls: what the
   * autoproxy option makes of it, else a callback reference when the connection can serve callbacks.
   */
  lend(value: object, dialect: 4 | 5): unknown {
    const viaDaemon = this.options.autoproxy?.autoproxy(value, dialect);
    if (viaDaemon !== undefined) return viaDaemon;
    const s = this.link.session;
    if (s === undefined || (s.capabilities & Capability.CALLBACKS) === 0) return undefined;
    return this.link.callbacks.reference(value);
  }

  /** What travels when this proxy is passed as a value. */
  describe(): ProxyDescriptor {
    return {
      uri: this.resolved ?? this.uri,
      metadata: this.metadata ?? { methods: [], oneway: [], attrs: [] },
      handshake: this.options.handshake ?? 'hello',
      serializer: this.serializer.name,
    };
  }

  get metadata(): ObjectMetadata | undefined {
    const meta = this.meta;
    if (meta === undefined) return undefined;
    const raw = meta.raw;
    this.ownMetadata ??= {
      methods: raw.methods.slice(),
      oneway: raw.oneway.slice(),
      attrs: raw.attrs.slice(),
    };
    return this.ownMetadata;
  }

  get connected(): boolean {
    const s = this.link.session;
    return s !== undefined && !s.isClosed;
  }

  get multiplexed(): boolean {
    return this.link.session?.multiplexed ?? false;
  }

  get objectId(): string {
    return (this.resolved ?? this.uri).object;
  }

  /** The live session, connecting first when needed (retrying with backoff when enabled). */
  ensure(
    deadline?: Deadline | CallOptions,
    firstCall?: (session: Session, objectId: string) => void,
  ): Promise<Session> {
    return this.link.ensure(deadline, firstCall);
  }

  /** Closes the connection; the proxy stays usable. */
  release(): Promise<void> {
    return this.link.release();
  }

  /**
   * Lets the connection go without cutting calls in flight: the next call connects again (resolving
   * a PYRONAME/PYROMETA uri again); the old connection closes once its calls are answered, or after
   * 60 s at the latest.
   */
  rebind(): void {
    this.link.rebind();
  }

  /** A local refusal (nothing is sent), with Pyro's AttributeError text. */
  private notExposed(name: string): NotExposedError {
    return new NotExposedError(`remote object '${this.uri}' has no exposed attribute or method '${name}'`);
  }

  /** Calls a remote method. The hot path: no work beyond encoding and one map insert when connected. */
  call(method: string, args: unknown[], options?: RemoteCallOptions): Promise<unknown> {
    const s = this.link.session;
    let attempt: Promise<unknown>;
    if (s !== undefined && !s.isClosed && this.meta !== undefined) {
      attempt = this.invokeOn(s, method, args, options); // the session makes the call's deadline
    } else {
      // the call's one deadline, made now: it bounds connecting (resolving, dialing, the handshake)
      // and then the call on the wire, so timeoutMs is the whole call's
      const deadline = Deadline.from(options, this.timeoutMs);
      attempt = this.connectAndCall(method, args, options, deadline);
    }
    if (this.reconnect !== undefined || this.maxRetries !== 0) {
      attempt = attempt.catch((err: unknown) => this.retry(err, method, args, options, 1));
    }
    return this.callerStacks ? attempt.then(undefined, withCallerFrames) : attempt;
  }

  /**
   * Connects, then calls; or, when this call starts the connecting and it is safe, sends the call
   * right behind CONNECT and checks it against the metadata once CONNECTOK has brought it.
   */
  private connectAndCall(
    method: string,
    args: unknown[],
    options: RemoteCallOptions | undefined,
    deadline: Deadline,
  ): Promise<unknown> {
    // Only a call without a deadline: one that expired on the wire before CONNECTOK would drop the
    // connection (replies are in order until pipelining is agreed) that other calls may wait for.
    const pipeline = this.pipelineFirstCall && !deadline.bounded && !this.link.attemptUnderWay;
    if (!pipeline)
      return this.ensure(deadline).then((session) => this.invokeOn(session, method, args, options, deadline));
    let first: Promise<unknown> | undefined;
    const checked = this.meta !== undefined; // invokeOn checks the name against known metadata itself
    const send = (session: Session, objectId: string) => {
      first = this.invokeOn(session, method, args, options, deadline, objectId);
      // observed here: when the CONNECT is refused, the caller gets the refusal through ensure()
      first.catch((err: unknown) => {
        // not encodable before the handshake (a callback needs the capability CONNECTOK agrees):
        // nothing was sent, so it goes again once connected
        if (err instanceof SerializeError) unsent = true;
      });
    };
    let unsent = false;
    return this.ensure(deadline, send).then((session) => {
      if (first === undefined || unsent) return this.invokeOn(session, method, args, options, deadline);
      const meta = this.meta;
      if (!checked && meta !== undefined) {
        // sent before the metadata was known: answer as the call would have been answered after it
        // (the daemon's reply, the oneway method's or an AttributeError, is read and dropped)
        if (meta.oneway.has(method)) return undefined;
        if (!meta.methods.has(method)) throw this.notExposed(method);
      }
      return first;
    });
  }

  /** Calls a method of the daemon's own object (`Pyro.Daemon`) over this proxy's connection. */
  async callDaemon(method: string, args: unknown[], oneway: boolean): Promise<unknown> {
    const deadline = Deadline.after(this.timeoutMs);
    const s = await this.ensure(deadline);
    return s.invoke(
      { object: DAEMON_NAME, method, params: args, kwargs: EMPTY_KWARGS },
      { serializer: this.serializer, flags: oneway ? Flags.ONEWAY : 0, timeoutMs: this.timeoutMs },
      deadline,
    );
  }

  private invokeOn(
    s: Session,
    method: string,
    args: unknown[],
    options: RemoteCallOptions | undefined,
    deadline?: Deadline,
    objectId = this.objectId,
  ): Promise<unknown> {
    const meta = this.meta;
    let flags = 0;
    if (meta !== undefined) {
      if (meta.oneway.has(method)) flags = Flags.ONEWAY;
      else if (!meta.methods.has(method)) return Promise.reject(this.notExposed(method));
    }
    if (options === undefined) {
      const plain =
        flags === 0
          ? (this.defaultCall ??= this.outgoing(0))
          : (this.defaultOneway ??= this.outgoing(Flags.ONEWAY));
      return s.invoke({ object: objectId, method, params: args, kwargs: EMPTY_KWARGS }, plain, deadline);
    }
    return s.invoke(
      { object: objectId, method, params: args, kwargs: options.kwargs ?? EMPTY_KWARGS },
      {
        serializer: this.serializer,
        flags,
        timeoutMs: options?.timeoutMs ?? this.timeoutMs,
        signal: options?.signal,
        annotations: options?.annotations ?? this.options.annotations ?? null,
        ...(options?.correlationId ? { correlationId: options.correlationId } : {}),
        ...(options?.onReplyAnnotations ? { onReplyAnnotations: options.onReplyAnnotations } : {}),
      },
      deadline,
    );
  }

  private outgoing(flags: number): OutgoingCall {
    return {
      serializer: this.serializer,
      flags,
      timeoutMs: this.timeoutMs,
      signal: undefined,
      annotations: this.options.annotations ?? null,
    };
  }

  private async retry(
    err: unknown,
    method: string,
    args: unknown[],
    options: RemoteCallOptions | undefined,
    attempt: number,
  ): Promise<unknown> {
    const lost = err instanceof ConnectionClosedError || (err instanceof TimeoutError && this.maxRetries > 0);
    const allowed =
      lost &&
      (attempt <= this.maxRetries ||
        (this.reconnect !== undefined && (this.idempotent.has(method) || wasNotSent(err)) && attempt <= 10));
    if (!allowed || this.link.closedByUser || options?.signal?.aborted) throw err;
    this.logger.debug({ err, method, attempt }, 'retrying call after connection loss');
    // Each retry is bounded anew, as Pyro's MAX_RETRIES re-runs the call with the socket's full
    // timeout: a retry after a TimeoutError under the spent deadline could only fail again.
    const deadline = Deadline.from(options, this.timeoutMs);
    try {
      const session = await this.ensure(deadline);
      return await this.invokeOn(session, method, args, options, deadline);
    } catch (again) {
      return this.retry(again, method, args, options, attempt + 1);
    }
  }

  async getAttribute(name: string, options?: CallOptions): Promise<unknown> {
    const deadline = Deadline.from(options, this.timeoutMs);
    const s = await this.ensure(deadline);
    if (this.meta && !this.meta.attrs.has(name)) throw this.notExposed(name);
    return s.invoke(
      { object: this.objectId, method: '__getattr__', params: [name], kwargs: null },
      { serializer: this.serializer },
      deadline,
    );
  }

  async setAttribute(name: string, value: unknown, options?: CallOptions): Promise<void> {
    const deadline = Deadline.from(options, this.timeoutMs);
    const s = await this.ensure(deadline);
    if (this.meta && !this.meta.attrs.has(name)) throw this.notExposed(name);
    await s.invoke(
      { object: this.objectId, method: '__setattr__', params: [name, value], kwargs: null },
      { serializer: this.serializer },
      deadline,
    );
  }

  async ping(options?: CallOptions): Promise<void> {
    const deadline = Deadline.from(options, this.timeoutMs);
    const s = await this.ensure(deadline);
    await s.ping(deadline);
  }

  /** Sends a batch of calls as one `<batch>` INVOKE; resolves with the raw result list. */
  async runBatch(calls: QueuedCalls, oneway: boolean, options?: CallOptions): Promise<unknown[] | undefined> {
    const deadline = Deadline.from(options, this.timeoutMs);
    const s = await this.ensure(deadline);
    // the calls go as the envelope's batch: each serializer writes Pyro's list of calls from it
    const result = await s.invoke(
      { object: this.objectId, method: '<batch>', params: NO_PARAMS, kwargs: null, batch: calls },
      {
        serializer: this.serializer,
        flags: Flags.BATCH | (oneway ? Flags.ONEWAY : 0),
      },
      deadline,
    );
    if (oneway) return undefined;
    if (!Array.isArray(result)) throw new ProtocolError('batch reply is not a list');
    return result;
  }
}
