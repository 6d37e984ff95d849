// A proxy's connection: the live session, and getting one — resolving a PYRONAME/PYROMETA uri,
// dialing, the handshake — as one attempt shared by every call that waits for it
// (connect-attempt.ts), repeated with backoff when reconnecting is on; release and rebind.
import {
  type CallOptions,
  type CinderConfig,
  CommunicationError,
  ConnectionClosedError,
  Deadline,
  type Logger,
  type ObjectMetadata,
  ProtocolError,
  sleep,
  type URI,
} from '@cinder/core';
import type { ProtocolVersion } from '@cinder/protocol';
import { PullStream } from '@cinder/rpc';
import {
  CallbackTable,
  type ClientHandshakeResult,
  type ClientHandshakeSetup,
  clientHandshake,
  type FirstCall,
  type Session,
  type StreamCalls,
} from '@cinder/rpc/internal';
import { loadTlsOptions, type SharedKey } from '@cinder/security';
import type { CodecHooks, Serializer, SerializerSet } from '@cinder/serializers';
import {
  type Connection,
  type Endpoint,
  type FramingOptions,
  type Transport,
  tcpTransport,
  tlsTransport,
  unixTransport,
} from '@cinder/transport';
import { ConnectAttempt } from './connect-attempt.js';
import type { ProxyOptions, ReconnectOptions } from './proxy-options.js';
import { type ConnectProxy, resolveThrough } from './resolve.js';

/** What a connector is given by its proxy (all fixed when the proxy is made). */
export interface ConnectorInit {
  readonly uri: URI;
  readonly config: CinderConfig;
  readonly logger: Logger;
  readonly options: ProxyOptions;
  readonly protocol: ProtocolVersion;
  readonly serializers: SerializerSet;
  readonly serializer: Serializer;
  readonly hooks: CodecHooks;
  readonly sharedKey: SharedKey | undefined;
  readonly reconnect: Required<ReconnectOptions> | undefined;
  /** Makes the proxy to a name server when the uri is a PYRONAME or PYROMETA one. */
  readonly connect: ConnectProxy;
  /** Where the items of streams a Pyro daemon hands out are fetched (calls to its daemon object). */
  readonly streams: StreamCalls;
  /** Told when a handshake succeeds: the proxy keeps the response and the object's metadata. */
  readonly owner: ConnectorOwner;
}

/** The proxy behind a connector (a method, not a closure per proxy). */
export interface ConnectorOwner {
  /** A handshake with `target` succeeded. */
  onConnected(target: URI, response: unknown, metadata: ObjectMetadata | undefined): void;
}

export type { FirstCall };

const noop = (): void => {};
/** How a released connection closes: at once once its output is with the OS (see CloseOptions). */
const RELEASE = { waitForPeer: false } as const;
/** What release() resolves with: at once, the same promise every time. */
const RELEASED: Promise<void> = Promise.resolve();

/**
 * How this proxy's name server is reached: over the proxy's own transport, TLS options and shared
 * key (as Pyro4's proxy resolves with its own HMAC key), so a proxy on the memory transport or
 * with its own certificates looks names up the same way it calls.
 */
function nameServerOptions(options: ProxyOptions): ProxyOptions {
  return {
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    ...(options.hmacKey !== undefined ? { hmacKey: options.hmacKey } : {}),
    ...(options.useEnvironment === false ? { useEnvironment: false } : {}),
  };
}
const defaultTransports: { tcp?: Transport; unix?: Transport } = {};

/** The keyless framing made last, and for what: a new proxy per call asks for the same again and again. */
let lastFraming: { config: CinderConfig; protocol: ProtocolVersion; framing: FramingOptions } | undefined;

/** The framing options of a proxy's connections (never changed once made, so shared when keyless). */
function framingFor(
  config: CinderConfig,
  protocol: ProtocolVersion,
  sharedKey: SharedKey | undefined,
): FramingOptions {
  const keyed = sharedKey !== undefined && protocol === 48;
  const last = lastFraming;
  if (!keyed && last !== undefined && last.config === config && last.protocol === protocol)
    return last.framing;
  const framing: FramingOptions = {
    maxMessageSize: config.maxMessageSize,
    maxInflatedSize: config.maxInflatedSize,
    maxBufferedOutput: config.maxBufferedOutput,
    drainTimeoutMs: config.drainTimeoutMs,
    versions: [protocol],
    ...(keyed ? { hmacKey: sharedKey.bytes } : {}),
    ...(config.compression ? { compressAbove: 100 } : {}),
  };
  if (!keyed) lastFraming = { config, protocol, framing };
  return framing;
}

export class Connector {
  /** The live session; undefined (or closed) while not connected. Read by every call. */
  session: Session | undefined;
  /** The callbacks this client lent the peer on the current connection (it serves their calls). */
  readonly callbacks = new CallbackTable();
  /** Set by release() until the next connect: calls lost with the connection are not retried. */
  closedByUser = false;
  private connecting: ConnectAttempt<Session> | undefined;
  private seq = 0;
  private transport: Transport | undefined;
  private readonly framing: FramingOptions;
  private readonly init: ConnectorInit;
  /** What every connection's handshake (and session) is made with: built once, with the proxy. */
  private readonly handshake: ClientHandshakeSetup;
  /** The uri as given, for messages. */
  private readonly uriText: string;

  constructor(init: ConnectorInit) {
    this.init = init;
    const { config, protocol, sharedKey } = init;
    this.framing = framingFor(config, protocol, sharedKey);
    if (init.options.boundSession) this.session = init.options.boundSession;
    this.uriText = init.uri.toString();
    const { options } = init;
    this.handshake = {
      serializers: init.serializers,
      serializer: init.serializer,
      hooks: init.hooks,
      protocol,
      uriText: this.uriText,
      handshake: options.handshake,
      annotations: options.annotations,
      multiplex: options.multiplex ?? config.multiplex,
      sharedKey,
      streamCredit: config.streamCredit,
      heartbeatMs: config.heartbeatMs,
      validate: options.validateHandshake,
      session: {
        logger: init.logger,
        maxConcurrentCalls: config.maxConcurrentCalls,
        maxBufferedOutput: config.maxBufferedOutput,
        hooks: init.hooks,
        server: { hooks: init.hooks, dispatch: (incoming) => this.callbacks.dispatch(incoming) },
        makeStream: (start) => new PullStream(init.streams, start.streamId),
      },
      onClose: (closed) => {
        if (this.session === closed) {
          this.session = undefined;
          this.callbacks.clear();
        }
      },
      // the CONNECT's encoded payload and annotations, kept across this proxy's connections
      connectCache: {},
    };
  }

  /** Whether an attempt is under way that a call starting now would join. */
  get attemptUnderWay(): boolean {
    return this.connecting !== undefined && !this.connecting.abandoned;
  }

  /** The live session, connecting first when needed (retrying with backoff when enabled). */
  ensure(deadline: Deadline | CallOptions = Deadline.NONE, firstCall?: FirstCall): Promise<Session> {
    const s = this.session;
    // A connection the peer has ended closes its session a little later: until then it can send
    // nothing, so a call (or a retry after a lost connection) must not be handed it.
    if (s !== undefined && !s.isClosed && !s.connection.closed) return Promise.resolve(s);
    const { uri, options } = this.init;
    if (options.boundSession)
      return Promise.reject(
        new ConnectionClosedError(`callback ${uri.object}: the connection it came on is closed`),
      );
    const d = deadline instanceof Deadline ? deadline : Deadline.from(deadline);
    const passed = d.expired();
    if (passed !== undefined) return Promise.reject(d.error(`connect to ${uri}`, passed === 'aborted'));
    this.closedByUser = false;
    let attempt = this.connecting;
    if (attempt === undefined || attempt.abandoned) {
      const clear = () => {
        if (this.connecting === fresh) this.connecting = undefined;
      };
      const fresh: ConnectAttempt<Session> = new ConnectAttempt(
        (abandoned) =>
          this.init.reconnect ? this.openWithRetry(abandoned) : this.open(abandoned, firstCall),
        clear,
        d.bounded, // joined below by this caller: one who waits without a deadline never leaves
      );
      this.connecting = attempt = fresh;
    }
    // (the text is for the error of a wait that times out: one that cannot needs none)
    return attempt.join(d, d.bounded ? `connect to ${uri}` : '');
  }

  /** `open`, again with backoff while it fails for reasons a later attempt may not meet. */
  private async openWithRetry(abandoned: Deadline): Promise<Session> {
    const r = this.init.reconnect!;
    const deadline = Date.now() + r.maxWaitMs;
    let delay = r.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.open(abandoned);
      } catch (err) {
        const retriable =
          err instanceof CommunicationError && !(err instanceof ProtocolError) && !this.closedByUser;
        if (!retriable || Date.now() + delay > deadline || abandoned.expired() !== undefined) throw err;
        this.init.logger.debug({ err, attempt, delay }, 'connect failed, retrying');
        const ms = delay * (0.75 + Math.random() * 0.5);
        await abandoned.withSignal((signal) => sleep(ms, signal), 'waiting to reconnect');
        delay = Math.min(delay * 2, r.maxDelayMs);
      }
    }
  }

  private transportFor(endpoint: Endpoint): Transport {
    const { options, config } = this.init;
    if (options.transport) return options.transport;
    const tls = options.tls ?? (config.ssl ? true : undefined);
    if (tls) {
      // one transport per proxy: it keeps the parsed TLS context for every reconnect
      this.transport ??= tlsTransport({ client: tls === true ? loadTlsOptions(config).client : tls });
      return this.transport;
    }
    if (endpoint.kind === 'unix') return (defaultTransports.unix ??= unixTransport());
    return (defaultTransports.tcp ??= tcpTransport());
  }

  /**
   * Resolves the uri, dials and runs the handshake. `abandoned` passes when every call waiting for
   * this attempt has given up. (Not an async function: a PYRO uri's connect, once per connection,
   * runs no async frame.)
   */
  private open(abandoned: Deadline, firstCall?: FirstCall): Promise<Session> {
    const { uri, config, logger, options } = this.init;
    if (uri.protocol === 'PYRO') return this.openTo(uri, abandoned, firstCall);
    return abandoned
      .withSignal(
        (signal) =>
          resolveThrough(this.init.connect, uri, {
            config,
            logger,
            ...(signal ? { signal } : {}),
            proxyOptions: nameServerOptions(options),
          }),
        `resolving ${uri}`,
      )
      .then((target) => this.openTo(target, abandoned, firstCall));
  }

  /**
   * Dials `target` and runs the handshake; the connection's own bound (connectTimeoutMs) covers the
   * dial, TLS and the handshake together, with one timer.
   */
  private openTo(target: URI, abandoned: Deadline, firstCall: FirstCall | undefined): Promise<Session> {
    const { config, options } = this.init;
    // coarse (a timer shared by every connect, no Node timer per connection) when the dial is one of
    // ours: its socket keeps the process alive while the bound is waited on
    const bound = Deadline.within(
      abandoned,
      options.connectTimeoutMs ?? config.connectTimeoutMs,
      options.transport === undefined,
    );
    // the bound's one timer stays armed from the dial to the end of the handshake: a transport of
    // ours watches it until onConnect has started the handshake (which then waits on it); a
    // transport given in the options is done with it before, so it is held meanwhile
    const hold = options.transport === undefined ? noop : bound.onExpire(noop);
    // started inside the socket's connect event when the transport offers it (ours do), so the
    // CONNECT (and a first call behind it) is written in that same turn of the event loop: the
    // daemon finds it as it accepts instead of going back to sleep first
    let handshake: Promise<ClientHandshakeResult> | undefined;
    const shake = (made: Connection): void => {
      handshake = clientHandshake(this.handshake, made, target.object, this.seq, bound, firstCall);
    };
    return this.dial(target, bound, shake).then(
      (connection) => {
        if (handshake === undefined) shake(connection);
        return handshake!.then(
          ({ session, response, metadata }) => {
            hold();
            try {
              this.init.owner.onConnected(target, response, metadata);
            } catch (err) {
              connection.destroy();
              throw err;
            }
            this.session = session;
            return session;
          },
          (err: unknown) => {
            hold();
            connection.destroy();
            throw err;
          },
        );
      },
      (err: unknown) => {
        hold();
        throw err;
      },
    );
  }

  /** Dials `target` within `bound`; `onConnect` as in ConnectOptions (our transports only). */
  private dial(
    target: URI,
    bound: Deadline,
    onConnect: (connection: Connection) => void,
  ): Promise<Connection> {
    const { logger, options } = this.init;
    const endpoint = target.endpoint() as Endpoint;
    const transport = this.transportFor(endpoint);
    // the TCP, Unix and TLS transports made here watch the bound itself
    if (transport !== options.transport) {
      return transport.connect({ endpoint, framing: this.framing, deadline: bound, logger, onConnect });
    }
    // a transport given in the options may know only signals
    return bound.withSignal(
      (dialSignal) =>
        transport.connect({
          endpoint,
          framing: this.framing,
          timeoutMs: 0, // the bound's signal says when
          ...(dialSignal ? { signal: dialSignal } : {}),
          logger,
        }),
      `connecting to ${target.location ?? target}`,
    );
  }

  /** Closes the connection; the proxy stays usable. */
  release(): Promise<void> {
    // (not an async function: a release, once per connection, makes no async frame)
    if (this.init.options.boundSession) return RELEASED;
    this.closedByUser = true;
    const s = this.session;
    this.session = undefined;
    if (s) {
      this.seq = s.currentSeq;
      // Like Pyro's _pyroRelease: what was sent is flushed and the socket closed, without waiting
      // for the daemon's side of the close (a round trip): the end leaves now, before a $bind that
      // follows dials the next connection.
      let closing: Promise<void>;
      try {
        closing = s.close(undefined, RELEASE);
      } catch (err) {
        return Promise.reject(err);
      }
      closing.catch((err: unknown) =>
        this.init.logger.debug({ err }, 'closing a released connection failed'),
      );
    }
    return RELEASED;
  }

  /**
   * Lets the connection go without cutting calls in flight: the next call connects again (resolving
   * a PYRONAME/PYROMETA uri again); the old connection closes once its calls are answered, or after
   * 60 s at the latest.
   */
  rebind(): void {
    if (this.init.options.boundSession) return;
    const s = this.session;
    if (s === undefined) return;
    this.session = undefined;
    this.seq = s.currentSeq;
    const close = () => {
      clearInterval(timer);
      s.close(undefined, RELEASE).catch((err: unknown) =>
        this.init.logger.debug({ err }, 'closing a rebound connection failed'),
      );
    };
    const deadline = Date.now() + 60_000;
    const timer = setInterval(() => {
      if (s.isClosed || s.pendingCount === 0 || Date.now() > deadline) close();
    }, 20);
    timer.unref?.(); // optional: a browser's timers are numbers
    if (s.pendingCount === 0) close();
  }
}
