// The client: `connect<T>(uri)` gives a typed proxy whose method calls become remote calls. Lazy
// connect, PYRONAME/PYROMETA resolution on every (re)connect, the Pyro handshake with metadata,
// oneway calls, remote attributes, batches, per-call options, timeouts and cancellation, automatic
// reconnection with backoff, and calls pipelined on one connection when both ends are Cinder.
import {
  type CallOptions,
  type CinderConfig,
  CommunicationError,
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
  sleep,
  TimeoutError,
  URI,
} from '@cinder/core';
import { type Annotations, Flags, type ProtocolVersion } from '@cinder/protocol';
import { type ProxyDescriptor, PullStream } from '@cinder/rpc';
import {
  CallbackTable,
  Capability,
  clientHandshake,
  installProxyFactory,
  type OutgoingCall,
  proxyHooks,
  type Session,
  wasNotSent,
} from '@cinder/rpc/internal';
import { loadTlsOptions, SharedKey } from '@cinder/security';
import {
  type ClassRegistry,
  type CodecHooks,
  createSerializers,
  ExceptionWrapper,
  type Serializer,
  type SerializerSet,
  Tuple,
} from '@cinder/serializers';
import {
  type Endpoint,
  type FramingOptions,
  type PeerCertificate,
  type TlsClientOptions,
  type Transport,
  tcpTransport,
  tlsTransport,
  unixTransport,
  webSocketTransport,
} from '@cinder/transport';
import { ConnectAttempt } from './connect-attempt.js';
import type { BatchControls, Remote, RemoteBatch, RemoteCallOptions } from './remote.js';
import { resolveUri } from './resolve.js';
import { isWebSocketUri, parseWebSocketUri } from './websocket-uri.js';

/** Reconnection with exponential backoff after a lost connection. */
export interface ReconnectOptions {
  /** First delay between attempts (doubles each time, with jitter). Default 100 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 2000 ms (Pyro waits 2 s). */
  maxDelayMs?: number;
  /** Give up after this long. Default 30000 ms. */
  maxWaitMs?: number;
}

/** Options of `connect()`: every one is optional, with defaults from the configuration. */
export interface ProxyOptions {
  /** Settings (the rest come from defaults and `CINDER_*` variables). */
  config?: Partial<CinderConfig> | CinderConfig;
  /** Serializer: cbor (default), json, msgpack, serpent or marshal. Python Pyro peers need one of the last four. */
  serializer?: string;
  /** Wire protocol: 502 (Pyro5, default) or 48 (Pyro4 peers). */
  protocol?: ProtocolVersion;
  /** Default timeout of every call (0 = none). Default `config.commTimeoutMs`. */
  timeoutMs?: number;
  /** Timeout of connecting, including TLS and the handshake. Default `config.connectTimeoutMs`. */
  connectTimeoutMs?: number;
  /** Handshake data sent with CONNECT (Pyro's `_pyroHandshake`, default `"hello"`). */
  handshake?: unknown;
  /** Checks the daemon's handshake response; throw to refuse the connection. */
  validateHandshake?: (
    response: unknown,
    peer: { peerCertificate: PeerCertificate | null; address: string },
  ) => void | Promise<void>;
  /** TLS client options (certificate, key, CA, servername); `true` uses the config's SSL items. */
  tls?: TlsClientOptions | boolean;
  /**
   * Shared key (default `config.hmacKey`, i.e. `CINDER_HMAC_KEY`). With a Cinder daemon: a
   * challenge-response handshake and a MAC on every message (protocol 502); with a Python Pyro4
   * daemon: Pyro4's HMAC annotation (protocol 48).
   */
  hmacKey?: string | Uint8Array;
  /** Reconnect with backoff when the connection drops (calls retried only when provably not delivered). */
  reconnect?: boolean | ReconnectOptions;
  /** Methods safe to retry after a connection loss even if they may have run (idempotent). */
  idempotent?: readonly string[];
  /** Retry any call this many times on connection loss or timeout (Pyro's MAX_RETRIES; beware side effects). */
  maxRetries?: number;
  /** Pipeline calls on one connection when the daemon is Cinder (default `config.multiplex`). */
  multiplex?: boolean;
  /**
   * Send a new proxy's first call right behind its CONNECT instead of waiting for CONNECTOK (one
   * round trip less; Cinder and Python Pyro daemons read in order). Default true; never done with a
   * shared key, a `validateHandshake` (the call must not reach a daemon the validator would refuse)
   * or `reconnect` (a lost attempt must not leave the call's delivery in doubt).
   */
  pipelineFirstCall?: boolean;
  /** Annotations sent with every call and with CONNECT. */
  annotations?: Annotations;
  /** Class registry for custom classes. */
  registry?: ClassRegistry;
  /** A custom transport (default: TCP, Unix socket or TLS from the URI and options). */
  transport?: Transport;
  logger?: Logger;
  /** Metadata known in advance (e.g. from an autoproxy): skips nothing on the wire but allows calls before binding. */
  metadata?: ObjectMetadata;
  /**
   * A local daemon whose registered objects travel as proxies when passed as arguments (Pyro's way
   * of doing callbacks, needed with Python peers; Cinder peers call back over the same connection).
   */
  autoproxy?: { autoproxy(value: object, dialect: 4 | 5): unknown };
  /** `false` ignores `CINDER_*` environment variables (for untrusted environments). */
  useEnvironment?: boolean;
  /** @internal a session this proxy is bound to (callback proxies): no connecting of its own. */
  boundSession?: Session | undefined;
}

interface Meta {
  methods: Set<string>;
  oneway: Set<string>;
  attrs: Set<string>;
  raw: ObjectMetadata;
}

/**
 * Gives a failed call's error the caller's frames instead of Cinder's. A reply's error is made where
 * the socket's data is decoded, so its own stack shows only Cinder internals; captured here, in the
 * rejection handler the caller's `await` waits on, V8's async stack traces give the caller's lines
 * (`at async main (app.mjs:12:3)`). When no caller frame is found (the promise is not awaited in an
 * async function) the original stack stays. The extra reaction costs every call, failed or not,
 * about 5% of a pipelined call's CPU, so it is on only with `config.callerStacks`.
 */
function withCallerFrames(err: unknown): never {
  if (err instanceof Error && typeof err.stack === 'string') {
    const here: { stack?: string } = {};
    Error.captureStackTrace(here, withCallerFrames);
    const frames = here.stack ?? '';
    const at = frames.indexOf('\n    at ');
    if (at >= 0) {
      const own = err.stack.indexOf('\n    at ');
      err.stack = (own >= 0 ? err.stack.slice(0, own) : err.stack) + frames.slice(at);
    }
  }
  throw err;
}

const noop = (): void => {};
const EMPTY_KWARGS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
const serializerCache = new Map<string, SerializerSet>();
const defaultTransports: { tcp?: Transport; unix?: Transport } = {};

function serializersFor(
  dialect: 4 | 5,
  config: CinderConfig,
  registry: ClassRegistry | undefined,
): SerializerSet {
  if (registry)
    return createSerializers({
      dialect,
      registry,
      maxDepth: config.maxDepth,
      maxItems: config.maxDecodeItems,
      serpentBytesRepr: config.serpentBytesRepr,
    });
  const key = `${dialect}:${config.maxDepth}:${config.maxDecodeItems}:${config.serpentBytesRepr}`;
  let set = serializerCache.get(key);
  if (!set) {
    set = createSerializers({
      dialect,
      maxDepth: config.maxDepth,
      maxItems: config.maxDecodeItems,
      serpentBytesRepr: config.serpentBytesRepr,
    });
    serializerCache.set(key, set);
  }
  return set;
}

function toMeta(raw: ObjectMetadata): Meta {
  return { methods: new Set(raw.methods), oneway: new Set(raw.oneway), attrs: new Set(raw.attrs), raw };
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
  private session: Session | undefined;
  private connecting: ConnectAttempt<Session> | undefined;
  private meta: Meta | undefined;
  private seq = 0;
  private readonly reconnect: Required<ReconnectOptions> | undefined;
  private readonly idempotent: ReadonlySet<string>;
  private readonly maxRetries: number;
  private readonly callerStacks: boolean;
  private readonly pipelineFirstCall: boolean;
  private readonly framing: FramingOptions;
  private readonly sharedKey: SharedKey | undefined;
  private transport: Transport | undefined;
  private closedByUser = false;
  private readonly callbacks = new CallbackTable();
  /** Call options of plain calls (no per-call options), built once: the hot path allocates none. */
  private defaultCall: OutgoingCall | undefined;
  private defaultOneway: OutgoingCall | undefined;

  constructor(uri: string | URI, options: ProxyOptions) {
    this.options = options;
    this.config = resolveConfig(
      options.config,
      options.useEnvironment === false ? { useEnvironment: false } : undefined,
    );
    this.uri = URI.parse(uri, { nsPort: this.config.nsPort });
    this.logger = componentLogger(options.logger, 'proxy');
    this.protocol = options.protocol ?? 502;
    if (this.protocol !== 502 && this.protocol !== 48)
      throw new TypeError(`unsupported protocol version ${String(this.protocol)}`);
    this.serializers = serializersFor(this.protocol === 48 ? 4 : 5, this.config, options.registry);
    const name = options.serializer ?? this.config.serializer;
    const serializer = this.serializers.byName(name);
    if (!serializer) throw new SerializeError(`unknown serializer '${name}'`);
    this.serializer = serializer;
    this.timeoutMs = options.timeoutMs ?? this.config.commTimeoutMs;
    const r = options.reconnect;
    this.reconnect = r
      ? { initialDelayMs: 100, maxDelayMs: 2000, maxWaitMs: 30_000, ...(typeof r === 'object' ? r : {}) }
      : undefined;
    this.idempotent = new Set(options.idempotent ?? []);
    this.maxRetries = options.maxRetries ?? this.config.maxRetries;
    this.callerStacks = this.config.callerStacks;
    const key = options.hmacKey ?? this.config.hmacKey;
    this.sharedKey = key === null || key === undefined || key === '' ? undefined : SharedKey.from(key);
    this.framing = {
      maxMessageSize: this.config.maxMessageSize,
      maxInflatedSize: this.config.maxInflatedSize,
      maxBufferedOutput: this.config.maxBufferedOutput,
      drainTimeoutMs: this.config.drainTimeoutMs,
      versions: [this.protocol],
      ...(this.sharedKey && this.protocol === 48 ? { hmacKey: this.sharedKey.bytes } : {}),
      ...(this.config.compression ? { compressAbove: 100 } : {}),
    };
    if (options.metadata) this.meta = toMeta(options.metadata);
    this.pipelineFirstCall =
      (options.pipelineFirstCall ?? true) &&
      this.sharedKey === undefined &&
      options.validateHandshake === undefined &&
      this.reconnect === undefined &&
      options.boundSession === undefined;
    const dialect = this.protocol === 48 ? 4 : 5;
    this.hooks = proxyHooks({
      dialect,
      describe: describeProxy,
      makeProxy: (d) => connect(d.uri, { ...this.options, boundSession: undefined, metadata: d.metadata }),
      replaceOther: (value) => {
        const viaDaemon = this.options.autoproxy?.autoproxy(value, dialect);
        if (viaDaemon !== undefined) return viaDaemon;
        const s = this.session;
        if (s === undefined || (s.capabilities & Capability.CALLBACKS) === 0) return undefined;
        return this.callbacks.reference(value);
      },
    });
    if (options.boundSession) this.session = options.boundSession;
  }

  /** What travels when this proxy is passed as a value. */
  describe(): ProxyDescriptor {
    return {
      uri: this.resolved ?? this.uri,
      metadata: this.meta?.raw ?? { methods: [], oneway: [], attrs: [] },
      handshake: this.options.handshake ?? 'hello',
      serializer: this.serializer.name,
    };
  }

  get metadata(): ObjectMetadata | undefined {
    return this.meta?.raw;
  }

  get connected(): boolean {
    return this.session !== undefined && !this.session.isClosed;
  }

  get multiplexed(): boolean {
    return this.session?.multiplexed ?? false;
  }

  get objectId(): string {
    return (this.resolved ?? this.uri).object;
  }

  // ---------------------------------------------------------------------------------------------
  // Connecting

  /** The live session, connecting first when needed (retrying with backoff when enabled). */
  ensure(
    deadline: Deadline | CallOptions = Deadline.NONE,
    firstCall?: (session: Session, objectId: string) => void,
  ): Promise<Session> {
    const s = this.session;
    if (s !== undefined && !s.isClosed) return Promise.resolve(s);
    if (this.options.boundSession)
      return Promise.reject(
        new ConnectionClosedError(`callback ${this.uri.object}: the connection it came on is closed`),
      );
    const d = deadline instanceof Deadline ? deadline : Deadline.from(deadline);
    const what = `connect to ${this.uri}`;
    const passed = d.expired();
    if (passed !== undefined) return Promise.reject(d.error(what, passed === 'aborted'));
    this.closedByUser = false;
    let attempt = this.connecting;
    if (attempt === undefined || attempt.abandoned) {
      const clear = () => {
        if (this.connecting === fresh) this.connecting = undefined;
      };
      const fresh: ConnectAttempt<Session> = new ConnectAttempt(
        (signal) => (this.reconnect ? this.openWithRetry(signal) : this.open(signal, firstCall)),
        clear,
      );
      fresh.promise.then(clear, clear);
      this.connecting = attempt = fresh;
    }
    return attempt.join(d, what);
  }

  /** `open`, again with backoff while it fails for reasons a later attempt may not meet. */
  private async openWithRetry(signal: AbortSignal): Promise<Session> {
    const r = this.reconnect!;
    const deadline = Date.now() + r.maxWaitMs;
    let delay = r.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.open(signal);
      } catch (err) {
        const retriable =
          err instanceof CommunicationError && !(err instanceof ProtocolError) && !this.closedByUser;
        if (!retriable || Date.now() + delay > deadline || signal.aborted) throw err;
        this.logger.debug({ err, attempt, delay }, 'connect failed, retrying');
        await sleep(delay * (0.75 + Math.random() * 0.5), signal);
        delay = Math.min(delay * 2, r.maxDelayMs);
      }
    }
  }

  private transportFor(endpoint: Endpoint): Transport {
    if (this.options.transport) return this.options.transport;
    const tls = this.options.tls ?? (this.config.ssl ? true : undefined);
    if (tls) {
      // one transport per proxy: it keeps the parsed TLS context for every reconnect
      this.transport ??= tlsTransport({ client: tls === true ? loadTlsOptions(this.config).client : tls });
      return this.transport;
    }
    if (endpoint.kind === 'unix') return (defaultTransports.unix ??= unixTransport());
    return (defaultTransports.tcp ??= tcpTransport());
  }

  /**
   * Resolves the uri, dials and runs the handshake. `signal` aborts when every call waiting for
   * this attempt has given up; the connection's own bound (connectTimeoutMs) covers the dial, TLS
   * and the handshake together, with one timer.
   */
  private async open(
    signal: AbortSignal,
    firstCall?: (session: Session, objectId: string) => void,
  ): Promise<Session> {
    const target = await resolveUri(this.uri, { config: this.config, logger: this.logger, signal });
    const bound = Deadline.from({
      timeoutMs: this.options.connectTimeoutMs ?? this.config.connectTimeoutMs,
      signal,
    });
    // held from the dial to the end of the handshake, so the bound's one timer stays armed between them
    const hold = bound.onExpire(noop);
    try {
      return await this.dialAndHandshake(target, bound, firstCall);
    } finally {
      hold();
    }
  }

  private async dialAndHandshake(
    target: URI,
    bound: Deadline,
    firstCall: ((session: Session, objectId: string) => void) | undefined,
  ): Promise<Session> {
    const endpoint = target.endpoint() as Endpoint;
    const transport = this.transportFor(endpoint);
    const connection = await bound.withSignal(
      (dialSignal) =>
        transport.connect({
          endpoint,
          framing: this.framing,
          timeoutMs: 0, // the bound's signal says when
          ...(dialSignal ? { signal: dialSignal } : {}),
          logger: this.logger,
        }),
      `connecting to ${target.location ?? target}`,
    );
    try {
      const { session, response, metadata } = await clientHandshake({
        connection,
        serializers: this.serializers,
        serializer: this.serializer,
        hooks: this.hooks,
        protocol: this.protocol,
        objectId: target.object,
        uriText: this.uri.toString(),
        handshake: this.options.handshake,
        annotations: this.options.annotations,
        multiplex: this.options.multiplex ?? this.config.multiplex,
        seq: this.seq,
        sharedKey: this.sharedKey,
        deadline: bound,
        firstCall,
        streamCredit: this.config.streamCredit,
        heartbeatMs: this.config.heartbeatMs,
        validate: this.options.validateHandshake,
        session: {
          logger: this.logger,
          maxConcurrentCalls: this.config.maxConcurrentCalls,
          maxBufferedOutput: this.config.maxBufferedOutput,
          hooks: this.hooks,
          server: { hooks: this.hooks, dispatch: (incoming) => this.callbacks.dispatch(incoming) },
          makeStream: (start) => new PullStream(this, start.streamId),
        },
        onClose: (closed) => {
          if (this.session === closed) {
            this.session = undefined;
            this.callbacks.clear();
          }
        },
      });
      if (metadata) this.meta = toMeta(metadata);
      this.handshakeResponse = response;
      this.resolved = target;
      this.session = session;
      return session;
    } catch (err) {
      connection.destroy();
      throw err;
    }
  }

  /** Closes the connection; the proxy stays usable. */
  async release(): Promise<void> {
    if (this.options.boundSession) return;
    this.closedByUser = true;
    const s = this.session;
    this.session = undefined;
    if (s) {
      this.seq = s.currentSeq;
      // Like Pyro's _pyroRelease: what was sent is flushed and the connection ends, but there is no
      // need to wait for the daemon's side of the close (a round trip) before going on.
      s.close().catch((err: unknown) => this.logger.debug({ err }, 'closing a released connection failed'));
    }
  }

  /**
   * Lets the connection go without cutting calls in flight: the next call connects again (resolving
   * a PYRONAME/PYROMETA uri again); the old connection closes once its calls are answered, or after
   * 60 s at the latest.
   */
  rebind(): void {
    if (this.options.boundSession) return;
    const s = this.session;
    if (s === undefined) return;
    this.session = undefined;
    this.seq = s.currentSeq;
    const close = () => {
      clearInterval(timer);
      s.close().catch((err: unknown) => this.logger.debug({ err }, 'closing a rebound connection failed'));
    };
    const deadline = Date.now() + 60_000;
    const timer = setInterval(() => {
      if (s.isClosed || s.pendingCount === 0 || Date.now() > deadline) close();
    }, 20);
    timer.unref?.(); // optional: a browser's timers are numbers
    if (s.pendingCount === 0) close();
  }

  // ---------------------------------------------------------------------------------------------
  // Calls

  /** A local refusal (nothing is sent), with Pyro's AttributeError text. */
  private notExposed(name: string): NotExposedError {
    return new NotExposedError(`remote object '${this.uri}' has no exposed attribute or method '${name}'`);
  }

  /** Calls a remote method. The hot path: no work beyond encoding and one map insert when connected. */
  call(method: string, args: unknown[], options?: RemoteCallOptions): Promise<unknown> {
    const s = this.session;
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
    const pipeline =
      this.pipelineFirstCall &&
      !deadline.bounded &&
      (this.connecting === undefined || this.connecting.abandoned);
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
    if (!allowed || this.closedByUser || options?.signal?.aborted) throw err;
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
  async runBatch(
    calls: readonly [string, unknown[], Record<string, unknown> | null][],
    oneway: boolean,
    options?: CallOptions,
  ): Promise<unknown[] | undefined> {
    const deadline = Deadline.from(options, this.timeoutMs);
    const s = await this.ensure(deadline);
    // Pyro's batch is a list of (name, args, kwargs) tuples. Only serpent and marshal tell tuples
    // from lists; the other formats write both as arrays, so the queued entries go out as they are.
    const name = this.serializer.name;
    const params: unknown[] =
      name === 'serpent' || name === 'marshal'
        ? calls.map(([m, a, k]) => Tuple.of<unknown>(m, Tuple.fromArray(a), k ?? EMPTY_KWARGS))
        : calls.map(noNullKwargs);
    const result = await s.invoke(
      { object: this.objectId, method: '<batch>', params, kwargs: null },
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

// -----------------------------------------------------------------------------------------------
// The public proxy object

const cores = new WeakMap<object, ProxyCore>();
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
/**
 * The target of every proxy object. Its prototype is not Object.prototype, so serializers never
 * take a proxy for a plain dict (which would enumerate its remote members): they hand it to the
 * codec hooks, which write it as a Pyro proxy.
 */
class RemoteProxyTarget {}

/** The internal state behind a proxy made by `connect`, or undefined for anything else. */
export function proxyCore(value: unknown): ProxyCore | undefined {
  return typeof value === 'object' && value !== null ? cores.get(value) : undefined;
}

/** The descriptor of a Cinder proxy (for passing it as a value), or undefined for anything else. */
export function describeProxy(value: object): ProxyDescriptor | undefined {
  return cores.get(value)?.describe();
}

/** True when `value` is a Cinder proxy. */
export function isProxy(value: unknown): boolean {
  return proxyCore(value) !== undefined;
}

type Member = ((...args: unknown[]) => Promise<unknown>) & { then: Promise<unknown>['then'] };

function makeMember(core: ProxyCore, name: string, options: RemoteCallOptions | undefined): Member {
  const fn = ((...args: unknown[]) => core.call(name, args, options)) as Member;
  // `await proxy.attr` reads a remote attribute; the member itself is never a promise otherwise.
  Object.defineProperty(fn, 'then', {
    value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      core.getAttribute(name, options).then(onFulfilled, onRejected),
  });
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

/** A queued batch call with `null` kwargs written as `{}`, as Pyro's batch format has them. */
function noNullKwargs(
  call: [string, unknown[], Record<string, unknown> | null],
): [string, unknown[], Record<string, unknown>] {
  if (call[2] === null) call[2] = EMPTY_KWARGS;
  return call as [string, unknown[], Record<string, unknown>];
}

function makeBatch<T>(core: ProxyCore): RemoteBatch<T> {
  let calls: [string, unknown[], Record<string, unknown> | null][] = [];
  const queuers = new Map<string, (...args: unknown[]) => void>();
  const take = () => {
    const c = calls;
    calls = [];
    return c;
  };
  const controls: BatchControls = {
    $queue(method, args = [], kwargs = null) {
      calls.push([method, args, kwargs]);
    },
    get $size() {
      return calls.length;
    },
    async $run(options) {
      const results = (await core.runBatch(take(), false, options)) ?? [];
      const out: unknown[] = [];
      for (const r of results) {
        if (r instanceof ExceptionWrapper) throw r.exception;
        out.push(r);
      }
      return out;
    },
    async *$results(options) {
      const results = (await core.runBatch(take(), false, options)) ?? [];
      for (const r of results) {
        if (r instanceof ExceptionWrapper) throw r.exception;
        yield r;
      }
    },
    async $oneway(options) {
      await core.runBatch(take(), true, options);
    },
  };
  return new Proxy(controls, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop.startsWith('$') || prop === 'then')
        return Reflect.get(target, prop, receiver);
      let queue = queuers.get(prop);
      if (queue === undefined) {
        queue = (...args: unknown[]) => {
          calls.push([prop, args, null]);
        };
        queuers.set(prop, queue);
      }
      return queue;
    },
  }) as unknown as RemoteBatch<T>;
}

function makeProxy<T>(core: ProxyCore, callOptions: RemoteCallOptions | undefined): Remote<T> {
  const members = new Map<string, Member>();
  const controls: Record<string, unknown> = {
    $bind: (options?: CallOptions) => core.ensure(options).then(() => undefined),
    $release: () => core.release(),
    $rebind: () => core.rebind(),
    $reconnect: async (options?: CallOptions) => {
      await core.release();
      await core.ensure(options);
    },
    $call: (method: string, args: unknown[] = [], options?: RemoteCallOptions) =>
      core.call(method, args, callOptions ? { ...callOptions, ...options } : options),
    $get: (name: string, options?: CallOptions) => core.getAttribute(name, options ?? callOptions),
    $set: (name: string, value: unknown, options?: CallOptions) =>
      core.setAttribute(name, value, options ?? callOptions),
    $with: (options: RemoteCallOptions) =>
      makeProxy<T>(core, callOptions ? { ...callOptions, ...options } : options),
    $batch: () => makeBatch<T>(core),
    $ping: (options?: CallOptions) => core.ping(options ?? callOptions),
  };
  const describe = () => `<cinder.Proxy at ${core.uri}>`;
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === 'symbol') {
        if (prop === Symbol.asyncDispose) return () => core.release();
        if (prop === inspectCustom) return describe;
        if (prop === Symbol.toStringTag) return 'CinderProxy';
        return undefined;
      }
      if (prop.charCodeAt(0) === 36 /* $ */) {
        switch (prop) {
          case '$uri':
            return core.uri;
          case '$resolvedUri':
            return core.resolved;
          case '$metadata':
            return core.metadata;
          case '$handshakeResponse':
            return core.handshakeResponse;
          case '$multiplexed':
            return core.multiplexed;
          case '$connected':
            return core.connected;
          default:
            return controls[prop];
        }
      }
      switch (prop) {
        case 'then':
          return undefined; // never mistaken for a promise
        case 'toString':
          return describe;
        case 'toJSON':
          return () => core.uri.toString();
        case 'valueOf':
          return () => core.uri.toString();
        case 'constructor':
          return Object;
      }
      let m = members.get(prop);
      if (m === undefined) {
        m = makeMember(core, prop, callOptions);
        members.set(prop, m);
      }
      return m;
    },
    set(_target, prop) {
      throw new TypeError(
        `cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`,
      );
    },
    has(_target, prop) {
      if (typeof prop !== 'string') return false;
      const meta = core.metadata;
      return (
        prop in controls ||
        (meta !== undefined &&
          (meta.methods.includes(prop) || meta.attrs.includes(prop) || meta.oneway.includes(prop)))
      );
    },
    ownKeys() {
      const meta = core.metadata;
      return meta ? [...new Set([...meta.methods, ...meta.oneway, ...meta.attrs])] : [];
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (typeof prop !== 'string') return undefined;
      const meta = core.metadata;
      if (meta && (meta.methods.includes(prop) || meta.attrs.includes(prop) || meta.oneway.includes(prop))) {
        return {
          configurable: true,
          enumerable: true,
          writable: false,
          value: handler.get!(_target, prop, undefined),
        };
      }
      return undefined;
    },
    deleteProperty() {
      return false;
    },
    defineProperty() {
      return false;
    },
  };
  const target = new RemoteProxyTarget();
  // util.inspect reads a proxy's target directly, never through the handler
  Object.defineProperty(target, inspectCustom, { value: describe, configurable: true });
  const proxy = new Proxy(target, handler) as Remote<T>;
  cores.set(proxy, core);
  return proxy;
}

/**
 * A proxy for object `objectId` of the peer at the other end of `session` (a callback the peer
 * lent us): calls go over that connection and fail once it is closed.
 */
export function boundProxy<T>(
  session: Session,
  objectId: string,
  metadata: ObjectMetadata,
  config: CinderConfig,
): Remote<T> {
  const serializer = session.defaultSerializer;
  const uri = URI.forObject(objectId, { path: `cinder-connection-${session.connection.id}` });
  return makeProxy<T>(
    new ProxyCore(uri, {
      config,
      boundSession: session,
      metadata,
      ...(serializer ? { serializer: serializer.name } : {}),
      protocol: session.connection.protocolVersion ?? 502,
    }),
    undefined,
  );
}

/**
 * A proxy for the remote object at `uri` (`PYRO:`, `PYRONAME:` or `PYROMETA:`). Connects lazily on
 * the first call; `await proxy.$bind()` connects now. `await using p = connect(uri)` releases the
 * connection at the end of the scope.
 */
export function connect<T = Record<string, (...args: any[]) => any>>(
  uri: string | URI,
  options: ProxyOptions = {},
): Remote<T> {
  if (typeof uri === 'string' && isWebSocketUri(uri)) {
    // `ws://host:port/path#object`: the object behind a WebSocket endpoint (see websocket-uri.ts).
    const target = parseWebSocketUri(uri);
    const tls = options.tls;
    const transport =
      options.transport ??
      webSocketTransport({
        path: target.path,
        ...(target.secure ? { client: typeof tls === 'object' ? tls : true } : {}),
      });
    return makeProxy<T>(new ProxyCore(target.uri, { ...options, transport }), undefined);
  }
  return makeProxy<T>(new ProxyCore(uri, options), undefined);
}

// The serving end (a daemon, or this client serving callbacks) makes its proxies through the engine.
installProxyFactory({
  connect: (uri, options) => connect(uri, options),
  bound: (session, objectId, metadata, config) => boundProxy(session, objectId, metadata, config),
  describe: describeProxy,
});
