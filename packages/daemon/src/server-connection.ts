// One client connection on the daemon side: the engine's server half of the handshake
// (@cinder/rpc handshake-server.ts) with this daemon as its host — which objects exist, the
// validator, the connection slots — then the Session that serves the client's calls, with the
// codec hooks that revive proxies and callbacks the client passes.
import { type CinderConfig, Link, type Logger, type ObjectMetadata, type UriLocation } from '@cinder/core';
import type { Message } from '@cinder/protocol';
import type { HandshakeContext } from '@cinder/rpc';
import {
  type AcceptedHandshake,
  type Beat,
  CALLBACK_CLASS,
  type CallServer,
  Capability,
  callbackFunction,
  hasHeartbeat,
  heartbeatStep,
  type IncomingCall,
  isProxyClassName,
  parseCallbackReference,
  parseProxyDict,
  proxies,
  proxyDict,
  type SerializerLookup,
  ServerHandshake,
  type ServerHandshakeHost,
  Session,
  type SessionInit,
} from '@cinder/rpc/internal';
import type { SharedKey } from '@cinder/security';
import type { CodecHooks, SerializerSet } from '@cinder/serializers';
import type { Connection, ConnectionHandler } from '@cinder/transport';
import type { Slot } from './slots.js';

/** Where a listener's objects are reached: autoproxies of a connection name its listener. */
export interface ListenerLocation {
  readonly location: UriLocation;
  readonly natLocation: UriLocation | undefined;
}

/** What a client connection needs of its daemon: the Daemon is one (daemon.ts imports this file). */
export interface ConnectionDaemon {
  readonly config: CinderConfig;
  readonly logger: Logger;
  readonly serializers: { readonly 4: SerializerSet; readonly 5: SerializerSet };
  readonly acceptedSerializers: { readonly 4: SerializerLookup; readonly 5: SerializerLookup };
  readonly sharedKey: SharedKey | undefined;
  readonly options: { readonly validateHandshake?: ((context: HandshakeContext) => unknown) | undefined };
  hasObject(objectId: string): boolean;
  metadataOf(objectId: string): ObjectMetadata | undefined;
  connectionReady(connection: ServerConnection): void;
  connectionEnded(connection: ServerConnection): void;
  dispatch(connection: ServerConnection, incoming: IncomingCall): unknown;
  autoproxyAt(value: object, dialect: 4 | 5, listener: ListenerLocation | undefined): unknown;
}

/** How long a closing daemon waits for a client to close its end of the connection. */
const PEER_CLOSE_WAIT_MS = 500;

/**
 * One client connection: the handshake's host (itself, so that no host object and closures are
 * made per connection), then the handler of its serving session.
 */
export class ServerConnection
  implements ConnectionHandler, ServerHandshakeHost, SessionInit, CallServer, CodecHooks
{
  readonly connection: Connection;
  /** Instances of session-mode classes made for this client (made on first use, like the next). */
  sessionInstances: Map<string, object> | undefined;
  /** Callbacks the client lent on this connection, revived once each. */
  private callbackProxies: Map<string, unknown> | undefined;
  private readonly daemon: ConnectionDaemon;
  readonly logger: Logger;
  private readonly handshake: ServerHandshake;
  /** The accepted handshake (set when the session is made). */
  private accepted: AcceptedHandshake | undefined;

  /** @internal calls of this client being served asynchronously (kept by the daemon's dispatch). */
  inFlight = 0;

  /** The listener the connection came in on. */
  readonly listener: ListenerLocation | undefined;
  /** @internal its node in the daemon's list of connections. */
  readonly link: Link<ServerConnection> = new Link(this);
  /** @internal its slot in the daemon's per-address book (undefined when refused). */
  slot: Slot<ServerConnection> | undefined;
  /** @internal refused: the timer that closes it if the client does not. */
  refusalTimer: NodeJS.Timeout | undefined;
  /** The heartbeat's state, made the first time the session waits for the client. */
  private beat: Beat | undefined;

  constructor(
    daemon: ConnectionDaemon,
    connection: Connection,
    refusal: string | undefined,
    listener: ListenerLocation | undefined,
  ) {
    this.daemon = daemon;
    this.connection = connection;
    this.listener = listener;
    this.logger = daemon.logger;
    this.handshake = new ServerHandshake(connection, this, refusal);
  }

  // ---- ServerHandshakeHost: the daemon's settings and objects

  get serializerSets(): ConnectionDaemon['serializers'] {
    return this.daemon.serializers;
  }

  get serializersAccepted(): readonly string[] {
    return this.daemon.config.serializersAccepted;
  }

  get sharedKey(): SharedKey | undefined {
    return this.daemon.sharedKey;
  }

  get multiplex(): boolean {
    return this.daemon.config.multiplex;
  }

  /** The daemon bounds the handshake itself (Daemon's handshake tick over its slot book). */
  get handshakeTimeoutMs(): number {
    return 0;
  }

  /** The daemon runs the heartbeat itself (Daemon's heartbeat tick calls `heartbeat`). */
  get heartbeatMs(): number {
    return 0;
  }

  get streamCredit(): number {
    return this.daemon.config.streamCredit;
  }

  get validate(): ((context: HandshakeContext) => unknown) | undefined {
    return this.daemon.options.validateHandshake;
  }

  hasObject(objectId: string): boolean {
    return this.daemon.hasObject(objectId);
  }

  metadataOf(objectId: string): ObjectMetadata | undefined {
    return this.daemon.metadataOf(objectId);
  }

  /** @internal the handshake accepted the client: it serves from now on. */
  ready(): void {
    this.daemon.connectionReady(this);
  }

  /** @internal the connection ended (refused, failed or closed); called once. */
  ended(): void {
    this.daemon.connectionEnded(this);
  }

  /** The handshake is done and the connection serves calls. */
  get isServing(): boolean {
    return this.handshake.state === 'ready';
  }

  /**
   * Ready, and nothing is being served or awaited on it (no call of ours pending, no pushed stream
   * open either way): reclaimable when slots run out.
   */
  get idle(): boolean {
    return this.isServing && this.inFlight === 0 && this.handshake.session?.awaitsPeer !== true;
  }

  /** Cinder capabilities agreed with this client (0 for Pyro clients). */
  get capabilities(): number {
    return this.handshake.session?.capabilities ?? 0;
  }

  /**
   * @internal one tick of the daemon's heartbeat (every `intervalMs`): while the session waits for
   * the client (our calls to its callbacks, pushed streams either way), a PING if none is out; an
   * unanswered one fails the session (heartbeat.ts). Nothing is made for a session that never waits.
   */
  heartbeat(intervalMs: number): void {
    let beat = this.beat;
    if (beat === undefined) {
      const session = this.handshake.session;
      if (session === undefined || session.isClosed || !session.awaitsPeer || !hasHeartbeat(session)) return;
      beat = this.beat = { session, intervalMs, waiting: false };
    } else if (beat.session.isClosed) {
      return;
    }
    heartbeatStep(beat);
  }

  onMessage(message: Message): void {
    this.handshake.onMessage(message);
  }

  onError(error: Error): void {
    this.handshake.onError(error);
  }

  onClose(): void {
    this.handshake.onClose();
  }

  // ---- The serving session: this connection is its SessionInit, CallServer and CodecHooks (one
  // object per client instead of an init, a CallServer, hooks and their closures).

  /** @internal the session serving an accepted client. */
  openSession(accepted: AcceptedHandshake): Session {
    this.accepted = accepted;
    return new Session(this);
  }

  /** SessionInit: the accepted dialect's serializers. */
  get serializers(): SerializerLookup {
    return this.daemon.acceptedSerializers[this.accepted!.dialect];
  }

  /** SessionInit: the daemon serves the client's calls through this connection. */
  get server(): CallServer {
    return this;
  }

  /** SessionInit and CallServer: the proxies and callbacks the client passes (see replace/revive). */
  get hooks(): CodecHooks {
    return this;
  }

  get maxConcurrentCalls(): number {
    return this.daemon.config.maxConcurrentCalls;
  }

  get maxBufferedOutput(): number {
    return this.daemon.config.maxBufferedOutput;
  }

  /** SessionInit: a handshake message after the handshake. */
  onControl(message: Message): void {
    this.accepted?.lateMessage(message);
  }

  /** SessionInit: a message the session cannot handle. */
  onBadMessage(message: Message, error: Error): void {
    this.accepted?.badMessage(message, error);
  }

  /** CallServer: one of the client's calls. */
  dispatch(incoming: IncomingCall): unknown {
    return this.daemon.dispatch(this, incoming);
  }

  /** CodecHooks: our objects and proxies in what we send. */
  replace(value: object): unknown {
    const accepted = this.accepted!;
    const other = this.daemon.autoproxyAt(value, accepted.dialect, this.listener);
    if (other !== undefined) return other;
    const d = proxies.describe(value);
    return d ? proxyDict(d, accepted.dialect) : undefined;
  }

  /** CodecHooks: proxies and (from Cinder clients) callbacks in what the client sends. */
  revive(className: string, dict: Record<string, unknown>): unknown {
    const { dialect, serializer } = this.accepted!;
    if (isProxyClassName(className)) {
      const d = parseProxyDict(className, dict);
      const daemon = this.daemon;
      // A proxy a client passed us speaks that client's protocol, and (when the proxy does not say)
      // the serializer the client uses with us, unless a stock Pyro4 daemon would refuse it (msgpack:
      // then serpent, Pyro's default); Pyro4 proxies never carry the HMAC key, so use ours.
      return proxies.connect(d.uri, {
        config: daemon.config,
        metadata: d.metadata,
        protocol: dialect === 4 ? 48 : 502,
        serializer:
          d.serializer ?? (dialect === 4 && serializer.name === 'msgpack' ? 'serpent' : serializer.name),
        ...(dialect === 4 && daemon.sharedKey ? { hmacKey: daemon.sharedKey.bytes } : {}),
      });
    }
    const session = this.handshake.session;
    if (
      className !== CALLBACK_CLASS ||
      session === undefined ||
      (session.capabilities & Capability.CALLBACKS) === 0
    )
      return undefined;
    const ref = parseCallbackReference(dict);
    const revivedProxies = (this.callbackProxies ??= new Map());
    let revived = revivedProxies.get(ref.id);
    if (revived === undefined) {
      revived =
        ref.kind === 'function'
          ? callbackFunction(session, ref.id, session.defaultSerializer ?? serializer)
          : proxies.bound(session, ref.id, ref.meta!, this.daemon.config);
      revivedProxies.set(ref.id, revived);
    }
    return revived;
  }

  /** Graceful close: waits (up to `graceMs`) for calls in progress, then closes. */
  async shutdown(graceMs: number): Promise<void> {
    const session = this.handshake.session;
    if (!session || !this.isServing) {
      this.connection.destroy();
      return;
    }
    await session.drain(graceMs);
    // Replies are flushed and a FIN sent; a peer that leaves its end open (a Python Pyro proxy reads
    // nothing until its next call) must not hold up the daemon's close, so it is not waited for long.
    const closing = session.close();
    const timer = setTimeout(() => this.connection.destroy(), PEER_CLOSE_WAIT_MS);
    try {
      await closing;
    } catch {
      // destroyed after the wait, or already failed: closed either way
    } finally {
      clearTimeout(timer);
    }
  }
}
