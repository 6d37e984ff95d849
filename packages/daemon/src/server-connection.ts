// One client connection on the daemon side: the handshake (CONNECT → CONNECTOK/CONNECTFAIL with
// Pyro's texts and marshal-encoded early errors), capability negotiation, limits (refused
// connections, handshake timeout), then a Session that serves the client's calls.
import { CommunicationError, type Logger, ProtocolError } from '@cinder/core';
import { Flags, type Message, MsgType, toPyro4SerializerId } from '@cinder/protocol';
import {
  ALL_CAPABILITIES,
  CALLBACK_CLASS,
  CAPS_ANNOTATION,
  Capability,
  callbackFunction,
  decodeCapabilities,
  encodeCapabilities,
  newCorrelationId,
  parseCallbackReference,
  pongFor,
  proxies,
  proxyHooks,
  Session,
  startHeartbeat,
} from '@cinder/rpc';
import { isKeyExchangeHello, type MessageAuthenticator, SharedKeyServer } from '@cinder/security';
import type { Serializer, SerializerSet } from '@cinder/serializers';
import type { Connection, ConnectionHandler } from '@cinder/transport';
import type { Daemon } from './daemon.js';

type State = 'handshake' | 'validating' | 'ready' | 'closed';

const MARSHAL_ID = 2;
/** Messages buffered while validateHandshake runs before the daemon stops reading. */
const EARLY_LIMIT = 64;
/** How long a closing daemon waits for a client to close its end of the connection. */
const PEER_CLOSE_WAIT_MS = 500;
/**
 * How long a refused client has to read its CONNECTFAIL and close; then the socket is destroyed.
 * (A client that keeps its end open must cost the daemon a socket for no longer than this.)
 */
const REFUSED_CLOSE_WAIT_MS = 1000;

export class ServerConnection implements ConnectionHandler {
  readonly connection: Connection;
  readonly sessionInstances = new Map<string, object>();
  /** Callbacks the client lent on this connection, revived once each. */
  private readonly callbackProxies = new Map<string, unknown>();
  private readonly daemon: Daemon;
  private readonly logger: Logger;
  private readonly refusal: string | undefined;
  private state: State = 'handshake';
  private session: Session | undefined;

  /** @internal calls of this client being served asynchronously (kept by the daemon's dispatch). */
  inFlight = 0;

  /** The handshake is done and the connection serves calls. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Ready, and nothing is being served or awaited on it: reclaimable when slots run out. */
  get idle(): boolean {
    return this.state === 'ready' && this.inFlight === 0 && (this.session?.pendingCount ?? 0) === 0;
  }

  /** Cinder capabilities agreed with this client (0 for Pyro clients). */
  get capabilities(): number {
    return this.session?.capabilities ?? 0;
  }
  private readonly early: Message[] = [];
  private handshakeTimer: NodeJS.Timeout | undefined;

  /** Gives the connection's slot back to the daemon's limiter. */
  readonly release: (() => void) | undefined;
  /** Shared-key state: the key exchange before CONNECT, then the connection's authenticator. */
  private keyServer: SharedKeyServer | undefined;
  private authenticator: MessageAuthenticator | undefined;

  constructor(daemon: Daemon, connection: Connection, refusal: string | undefined, release?: () => void) {
    this.daemon = daemon;
    this.connection = connection;
    this.release = release;
    if (daemon.sharedKey) this.keyServer = new SharedKeyServer(daemon.sharedKey);
    this.logger = daemon.logger;
    this.refusal = refusal;
    const timeout = daemon.config.handshakeTimeoutMs;
    if (timeout > 0) {
      this.handshakeTimer = setTimeout(() => {
        this.logger.debug({ client: connection.remoteAddress }, 'handshake timeout: dropping connection');
        connection.destroy(new CommunicationError('handshake timeout'));
      }, timeout);
      this.handshakeTimer.unref();
    }
  }

  private get dialect(): 4 | 5 {
    return this.connection.protocolVersion === 48 ? 4 : 5;
  }

  private get serializers(): SerializerSet {
    return this.daemon.serializers[this.dialect];
  }

  onMessage(message: Message): void {
    if (this.state === 'validating') {
      // calls sent behind the CONNECT wait for the validator; past a few, stop reading until then
      if (this.early.push(message) === EARLY_LIMIT) this.connection.pause();
      return;
    }
    if (this.state !== 'handshake') return;
    if (this.refusal) {
      this.fail(this.refusal);
      return;
    }
    if (
      message.type === MsgType.PING &&
      this.keyServer &&
      this.dialect === 5 &&
      isKeyExchangeHello(message)
    ) {
      const pong = pongFor(message);
      try {
        this.keyServer.answerHello(message, pong);
      } catch (err) {
        this.fail((err as Error).message);
        return;
      }
      this.connection.send(pong);
      return;
    }
    if (message.type !== MsgType.CONNECT) {
      const expected = this.dialect === 4 ? '' : ' (expected: 1)';
      this.fail(`invalid msg type ${message.type} received${expected}`);
      return;
    }
    this.onConnect(message);
  }

  onError(error: Error): void {
    if (this.state === 'handshake' || this.state === 'validating') {
      // Pyro answers framing errors before the handshake with a marshal-encoded CONNECTFAIL.
      this.fail(error.message);
    } else {
      this.connection.destroy(error);
    }
  }

  onClose(): void {
    this.ended();
  }

  private ended(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.daemon.connectionEnded(this);
  }

  /** Sends CONNECTFAIL (in `serializer`, or marshal when the client's serializer is unknown) and closes. */
  private fail(reason: string, serializer?: Serializer, seq = 0): void {
    if (this.state === 'closed') return;
    const s = serializer ?? this.serializers.byId(MARSHAL_ID);
    try {
      if (s) {
        this.sendSigned({
          type: MsgType.CONNECTFAIL,
          flags: this.dialect === 5 ? Flags.CORR_ID : 0,
          seq,
          serializerId: s.id,
          correlationId: newCorrelationId(), // Pyro4 sends one too, as its CORR annotation
          annotations: null,
          payload: s.encode(reason),
        });
      }
    } catch (err) {
      this.logger.debug({ err }, 'could not send CONNECTFAIL');
    }
    // The close ends this connection only: a peer that never closes its end is destroyed after the
    // wait, and that outcome (a TimeoutError) is the expected one, not a failure of the daemon.
    this.connection.close({ timeoutMs: REFUSED_CLOSE_WAIT_MS }).catch((err: unknown) => {
      this.logger.debug({ err, client: this.connection.remoteAddress }, 'refused connection destroyed');
    });
    this.ended();
  }

  private onConnect(message: Message): void {
    if (this.keyServer && this.dialect === 5) {
      // authenticated before anything of the payload is read; on failure nothing else is looked at
      try {
        this.authenticator = this.keyServer.verifyConnect(message);
      } catch (err) {
        // like sshd: every failed authentication is an event the operator may want to see
        this.logger.info({ client: this.connection.remoteAddress }, `refused: ${(err as Error).message}`);
        this.fail((err as Error).message);
        return;
      }
    }
    const serializer = this.serializers.byId(message.serializerId);
    const accepted =
      serializer && (this.daemon.config.serializersAccepted as readonly string[]).includes(serializer.name);
    if (!serializer || !accepted) {
      if (this.dialect === 4)
        this.fail(
          `message used serializer that is not accepted: ${toPyro4SerializerId(message.serializerId) ?? message.serializerId}`,
        );
      // a serializer we know but refuse is worth saying (Pyro5 accepts all it has; ids it lacks just close)
      else if (serializer) this.fail(`message used serializer that is not accepted: ${serializer.name}`);
      else this.connection.destroy(new ProtocolError(`unsupported serializer id ${message.serializerId}`));
      return;
    }
    let data: Record<string, unknown>;
    try {
      const value = serializer.decode(message.payload);
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new ProtocolError('invalid handshake data');
      data = value as Record<string, unknown>;
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err), serializer, message.seq);
      return;
    }
    const wantsMeta = this.dialect === 5 || (message.flags & Flags.META_ON_CONNECT) !== 0;
    const objectId = data.object;
    if (wantsMeta && typeof objectId !== 'string') {
      this.fail("'object'", serializer, message.seq);
      return;
    }
    if (wantsMeta && !this.daemon.hasObject(objectId as string)) {
      this.fail('unknown object', serializer, message.seq);
      return;
    }
    this.state = 'validating';
    const validate = this.daemon.options.validateHandshake;
    let response: unknown = 'hello';
    const finish = () =>
      this.accept(message, serializer, wantsMeta ? (objectId as string) : undefined, response);
    if (!validate) {
      finish();
      return;
    }
    try {
      const result = validate({
        data: data.handshake,
        objectId: typeof objectId === 'string' ? objectId : '',
        remoteAddress: this.connection.remoteAddress,
        protocolVersion: this.dialect === 4 ? 48 : 502,
        peerCertificate: this.connection.peerCertificate(),
        annotations: message.annotations ?? new Map(),
      });
      if (result instanceof Promise) {
        result.then(
          (value: unknown) => {
            response = value === undefined ? 'hello' : value;
            if (this.state === 'validating') finish();
          },
          (err: unknown) => this.refuse(err, serializer, message.seq),
        );
        return;
      }
      response = result === undefined ? 'hello' : result;
    } catch (err) {
      this.refuse(err, serializer, message.seq);
      return;
    }
    finish();
  }

  private refuse(err: unknown, serializer: Serializer, seq: number): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.logger.info(
      { client: this.connection.remoteAddress },
      `handshake refused by validateHandshake: ${reason}`,
    );
    this.fail(reason, serializer, seq);
  }

  private accept(
    message: Message,
    serializer: Serializer,
    objectId: string | undefined,
    response: unknown,
  ): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    const dialect = this.dialect;
    const daemon = this.daemon;
    const hooks = proxyHooks({
      dialect,
      describe: proxies.describe,
      // A proxy a client passed us speaks that client's protocol, and (when the proxy does not say)
      // the serializer the client uses with us, unless a stock Pyro4 daemon would refuse it (msgpack:
      // then serpent, Pyro's default); Pyro4 proxies never carry the HMAC key, so use ours.
      makeProxy: (d) =>
        proxies.connect(d.uri, {
          config: daemon.config,
          metadata: d.metadata,
          protocol: dialect === 4 ? 48 : 502,
          serializer:
            d.serializer ?? (dialect === 4 && serializer.name === 'msgpack' ? 'serpent' : serializer.name),
          ...(dialect === 4 && daemon.sharedKey ? { hmacKey: daemon.sharedKey.bytes } : {}),
        }),
      replaceOther: (value) => daemon.autoproxy(value, dialect, this.connection),
      reviveOther: (className, dict) => {
        if (className !== CALLBACK_CLASS || (session.capabilities & Capability.CALLBACKS) === 0)
          return undefined;
        const ref = parseCallbackReference(dict);
        let revived = this.callbackProxies.get(ref.id);
        if (revived === undefined) {
          revived =
            ref.kind === 'function'
              ? callbackFunction(session, ref.id, session.defaultSerializer ?? serializer)
              : proxies.bound(session, ref.id, ref.meta!, daemon.config);
          this.callbackProxies.set(ref.id, revived);
        }
        return revived;
      },
    });
    const clientCaps = decodeCapabilities(message.annotations?.get(CAPS_ANNOTATION));
    const ourCaps = daemon.config.multiplex ? ALL_CAPABILITIES : ALL_CAPABILITIES & ~Capability.MULTIPLEX;
    const caps = clientCaps & ourCaps;
    const session = new Session({
      connection: this.connection,
      serializers: this.daemon.acceptedSerializers[dialect],
      logger: this.logger,
      server: daemon.callServer(this, hooks),
      hooks,
      maxConcurrentCalls: daemon.config.maxConcurrentCalls,
      onControl: (m) => {
        this.logger.debug(
          { type: m.type, client: this.connection.remoteAddress },
          'unexpected message after the handshake',
        );
        session.fail(new ProtocolError(`unexpected message type ${m.type} after the handshake`));
      },
      onBadMessage: (_m, err) => session.fail(err),
      onClose: () => this.ended(),
    });
    session.multiplexed = (caps & Capability.MULTIPLEX) !== 0;
    session.capabilities = caps;
    session.streamCredit = daemon.config.streamCredit;
    session.defaultSerializer = serializer;
    this.session = session;
    let payload: Uint8Array;
    try {
      payload = serializer.encode(
        objectId === undefined ? response : { handshake: response, meta: daemon.metadataOf(objectId) },
        hooks,
      );
    } catch (err) {
      this.fail(
        `cannot serialize the handshake response: ${(err as Error).message}`,
        serializer,
        message.seq,
      );
      return;
    }
    this.state = 'ready';
    this.daemon.connectionReady(this);
    this.sendSigned({
      type: MsgType.CONNECTOK,
      flags: dialect === 5 ? Flags.CORR_ID : objectId !== undefined ? Flags.META_ON_CONNECT : 0,
      seq: message.seq,
      serializerId: serializer.id,
      correlationId: message.correlationId ?? newCorrelationId(),
      annotations: clientCaps !== 0 ? new Map([[CAPS_ANNOTATION, encodeCapabilities(caps)]]) : null,
      payload,
    });
    session.authenticator = this.authenticator;
    // the client's callbacks this daemon calls fail too when the client freezes
    startHeartbeat(session, daemon.config.heartbeatMs);
    const paused = this.early.length >= EARLY_LIMIT;
    for (const m of this.early.splice(0)) session.onMessage(m);
    if (paused) this.connection.resume();
  }

  /** Sends a handshake reply, signed once the client has authenticated (the daemon's first MAC). */
  private sendSigned(message: Message): void {
    this.authenticator?.sign(message);
    this.connection.send(message);
  }

  /** Graceful close: waits (up to `graceMs`) for calls in progress, then closes. */
  async shutdown(graceMs: number): Promise<void> {
    const session = this.session;
    if (!session || this.state !== 'ready') {
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
