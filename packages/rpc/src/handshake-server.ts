// The server half of the handshake, for one client connection: the shared-key hello, CONNECT read
// and checked (authentication, serializer accepted, object known, the host's validator — which may
// be async: calls pipelined behind the CONNECT wait for it, bounded), then CONNECTOK with the agreed
// capabilities, or CONNECTFAIL with Pyro's texts (marshal-encoded when the client's serializer is
// unknown) and a close. The host (a daemon) says what is served and makes the session that serves
// it; the client half is handshake-client.ts, the shapes both read handshake-shared.ts.
import { CommunicationError, type Logger, type ObjectMetadata, ProtocolError } from '@cinder/core';
import {
  type EncodedFrame,
  encodeFrame502,
  Flags,
  type Message,
  MsgType,
  type ProtocolVersion,
  toPyro4SerializerId,
} from '@cinder/protocol';
import {
  isKeyExchangeHello,
  type MessageAuthenticator,
  type SharedKey,
  SharedKeyServer,
} from '@cinder/security';
import type { Serializer, SerializerSet } from '@cinder/serializers';
import type { Connection, ConnectionHandler } from '@cinder/transport';
import { CAPS_ANNOTATION, Capability, decodeCapabilities, encodeCapabilities } from './capabilities.js';
import {
  DEFAULT_HANDSHAKE,
  type HandshakeContext,
  MARSHAL_SERIALIZER_ID,
  offeredCapabilities,
  parseConnectData,
} from './handshake-shared.js';
import { startHeartbeat } from './heartbeat.js';
import type { Session } from './session.js';
import { addDeadline, cancelDeadline, type TickNode } from './tick-list.js';
import { newCorrelationId, pongFor } from './wire-messages.js';

export type ServerHandshakeState = 'handshake' | 'validating' | 'ready' | 'closed';

/** Messages buffered while the validator runs before reading stops. */
const EARLY_LIMIT = 64;
/**
 * How long a refused client has to read its CONNECTFAIL and close; then the socket is destroyed.
 * (A client that keeps its end open must cost the server a socket for no longer than this.)
 */
const REFUSED_CLOSE_WAIT_MS = 1000;

/**
 * A CONNECT accepted: what the host makes the serving session from (the ServerHandshake itself, so
 * that nothing is made per connection for it). The session must be made with `onControl`,
 * `onBadMessage` and `onClose` calling `lateMessage`, `badMessage` and `sessionClosed`.
 */
export interface AcceptedHandshake {
  readonly dialect: 4 | 5;
  /** The client's serializer (the handshake reply and the session's default). */
  readonly serializer: Serializer;
  /** Capabilities both ends agreed on. */
  readonly capabilities: number;
  /** The session's `onControl`: a handshake message after the handshake fails the session. */
  lateMessage(message: Message): void;
  /** The session's `onBadMessage`: fails the session. */
  badMessage(message: Message, error: Error): void;
  /** The session's `onClose`: the connection ended. */
  sessionClosed(): void;
}

/**
 * A server's settings for the handshakes of all its connections: one object the host makes once
 * (read as plain data by every handshake, not through accessors run per connection).
 */
export interface ServerHandshakeSettings {
  readonly logger: Logger;
  /** Every serializer of a dialect (decoding a CONNECT, answering in the client's format). */
  readonly serializerSets: {
    readonly 4: SerializerSet;
    readonly 5: SerializerSet;
  };
  /** Serializer names a client may use. */
  readonly serializersAccepted: readonly string[];
  readonly sharedKey: SharedKey | undefined;
  /** Offer pipelining. */
  readonly multiplex: boolean;
  /**
   * A client that has not finished its handshake by then is dropped (0: never, or the host bounds
   * the handshake itself, as the daemon does over its book of connection slots).
   */
  readonly handshakeTimeoutMs: number;
  /** The accepted session's heartbeat interval (0: none, or the host runs it, as the daemon does). */
  readonly heartbeatMs: number;
  readonly streamCredit: number;
  /** Returns the handshake response (undefined: "hello"); throws to refuse. */
  readonly validate?: ((context: HandshakeContext) => unknown) | undefined;
}

/** What the server half needs from the server it works for, for one connection. */
export interface ServerHandshakeHost {
  /** The server's settings (the same object for every connection). */
  readonly settings: ServerHandshakeSettings;
  hasObject(objectId: string): boolean;
  metadataOf(objectId: string): ObjectMetadata | undefined;
  /** Makes the session serving an accepted connection (before CONNECTOK is sent). */
  openSession(accepted: AcceptedHandshake): Session;
  /** The connection serves from now on (CONNECTOK is about to be sent). */
  ready(): void;
  /** The connection ended, refused or closed; called once. */
  ended(): void;
}

/**
 * A reply without a validator's response: its payload, and its CONNECTOK frames made once
 * (protocol 502, no shared key) by the agreed capabilities they announce (-1: the client sent none,
 * so no annotation; the capabilities agreed are a subset of the few offered, so a client cannot add
 * more frames than those). Each client gets a copy with its own seq and correlation id
 * (Message.frame) instead of an encoding of its own.
 */
interface DefaultReply {
  readonly payload: Uint8Array;
  readonly frames: Map<number, EncodedFrame>;
}

/** Replies without a validator's response, by serializer and by the object's metadata. */
const defaultReplies = new WeakMap<Serializer, WeakMap<object, DefaultReply>>();
/** The key of the reply without metadata (a Pyro4 CONNECT that did not ask for it). */
const NO_METADATA = {};

/**
 * The CONNECTOK reply when no validator answered: `"hello"`, with the object's metadata when the
 * client asked for it. Encoded once per serializer and metadata object: an object's metadata is
 * computed once per exposure and never changed (expose.ts), payloads are never written to once
 * made, and plain strings and arrays never reach the codec hooks.
 */
function defaultReply(serializer: Serializer, meta: ObjectMetadata | undefined): DefaultReply {
  const key = meta ?? NO_METADATA;
  let bySerializer = defaultReplies.get(serializer);
  if (bySerializer === undefined) {
    bySerializer = new WeakMap();
    defaultReplies.set(serializer, bySerializer);
  }
  let reply = bySerializer.get(key);
  if (reply === undefined) {
    const payload = serializer.encode(
      meta === undefined ? DEFAULT_HANDSHAKE : { handshake: DEFAULT_HANDSHAKE, meta },
    );
    reply = { payload, frames: new Map() };
    bySerializer.set(key, reply);
  }
  return reply;
}

const NO_CORRELATION_ID = new Uint8Array(16);

/** The protocol 502 CONNECTOK frame of `reply` announcing `caps` (-1: no annotation), made once. */
function connectOkFrame(serializer: Serializer, reply: DefaultReply, caps: number): EncodedFrame {
  let frame = reply.frames.get(caps);
  if (frame === undefined) {
    frame = encodeFrame502({
      type: MsgType.CONNECTOK,
      flags: Flags.CORR_ID,
      seq: 0,
      serializerId: serializer.id,
      correlationId: NO_CORRELATION_ID,
      annotations: caps >= 0 ? new Map([[CAPS_ANNOTATION, encodeCapabilities(caps)]]) : null,
      payload: reply.payload,
    });
    reply.frames.set(caps, frame);
  }
  return frame;
}

/** A CONNECT payload this long or shorter is kept to recognise the next one (see connectObject). */
const MAX_KEPT_CONNECT = 512;
/** Per serializer: the last CONNECT payload decoded without a validator, and the object id it named. */
const lastConnects = new WeakMap<Serializer, { readonly payload: Buffer; readonly object: string }>();

/**
 * The object id a CONNECT payload names (`data.object`; throws as decoding and parseConnectData
 * do). A client connecting again, or another like it, sends the same bytes: when they equal the
 * last payload this serializer decoded, its id is reused and nothing is decoded. Only the id is kept
 * (a string, immutable), from payloads of up to MAX_KEPT_CONNECT bytes (copied: the payload is a view
 * into the receive buffer), one per serializer. Without a validator nothing else of the payload is read.
 */
function connectObject(serializer: Serializer, payload: Uint8Array): unknown {
  const last = lastConnects.get(serializer);
  if (last !== undefined && last.payload.length === payload.length && last.payload.equals(payload)) {
    return last.object;
  }
  const object = parseConnectData(serializer.decode(payload)).object;
  if (typeof object === 'string' && payload.length <= MAX_KEPT_CONNECT) {
    lastConnects.set(serializer, { payload: Buffer.from(payload), object });
  }
  return object;
}

/** The server half of one connection's handshake; the connection's handler until it is accepted. */
export class ServerHandshake implements ConnectionHandler, AcceptedHandshake {
  readonly connection: Connection;
  private readonly host: ServerHandshakeHost;
  private readonly refusal: string | undefined;
  private currentState: ServerHandshakeState = 'handshake';
  private currentSession: Session | undefined;
  /** Messages that came behind the CONNECT while the validator ran (made when the first does). */
  private early: Message[] | undefined;
  /** The handshake deadline (one interval shared by every handshake, not a timer each). */
  private readonly deadline: TickNode<() => void> | undefined;
  /** Shared-key state: the key exchange before CONNECT, then the connection's authenticator. */
  private readonly keyServer: SharedKeyServer | undefined;
  private authenticator: MessageAuthenticator | undefined;
  /** Set when the CONNECT is accepted (AcceptedHandshake). */
  serializer!: Serializer;
  capabilities = 0;

  /** `refusal`: refuse the client with this text whatever it sends (connection limits). */
  constructor(connection: Connection, host: ServerHandshakeHost, refusal?: string) {
    this.connection = connection;
    this.host = host;
    this.refusal = refusal;
    const settings = host.settings;
    if (settings.sharedKey) this.keyServer = new SharedKeyServer(settings.sharedKey);
    const timeout = settings.handshakeTimeoutMs;
    if (timeout > 0) {
      this.deadline = addDeadline(timeout, () => {
        settings.logger.debug({ client: connection.remoteAddress }, 'handshake timeout: dropping connection');
        connection.destroy(new CommunicationError('handshake timeout'));
      });
    }
  }

  get state(): ServerHandshakeState {
    return this.currentState;
  }

  /** The serving session, once accepted. */
  get session(): Session | undefined {
    return this.currentSession;
  }

  get dialect(): 4 | 5 {
    return this.connection.protocolVersion === 48 ? 4 : 5;
  }

  private get serializers(): SerializerSet {
    return this.host.settings.serializerSets[this.dialect];
  }

  onMessage(message: Message): void {
    if (this.currentState === 'validating') {
      // calls sent behind the CONNECT wait for the validator; past a few, stop reading until then
      if ((this.early ??= []).push(message) === EARLY_LIMIT) this.connection.pause();
      return;
    }
    if (this.currentState !== 'handshake') return;
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
    if (this.currentState === 'handshake' || this.currentState === 'validating') {
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
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    if (this.deadline) cancelDeadline(this.deadline);
    this.host.ended();
  }

  /** Sends CONNECTFAIL (in `serializer`, or marshal when the client's serializer is unknown) and closes. */
  private fail(reason: string, serializer?: Serializer, seq = 0): void {
    if (this.currentState === 'closed') return;
    const s = serializer ?? this.serializers.byId(MARSHAL_SERIALIZER_ID);
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
      this.host.settings.logger.debug({ err }, 'could not send CONNECTFAIL');
    }
    // The close ends this connection only: a peer that never closes its end is destroyed after the
    // wait, and that outcome (a TimeoutError) is the expected one, not a failure of the server.
    this.connection.close({ timeoutMs: REFUSED_CLOSE_WAIT_MS }).catch((err: unknown) => {
      this.host.settings.logger.debug(
        { err, client: this.connection.remoteAddress },
        'refused connection destroyed',
      );
    });
    this.ended();
  }

  private onConnect(message: Message): void {
    const dialect = this.dialect;
    if (this.keyServer && dialect === 5) {
      // authenticated before anything of the payload is read; on failure nothing else is looked at
      try {
        this.authenticator = this.keyServer.verifyConnect(message);
      } catch (err) {
        // like sshd: every failed authentication is an event the operator may want to see
        this.host.settings.logger.info(
          { client: this.connection.remoteAddress },
          `refused: ${(err as Error).message}`,
        );
        this.fail((err as Error).message);
        return;
      }
    }
    const settings = this.host.settings;
    const serializer = settings.serializerSets[dialect].byId(message.serializerId);
    const accepted = serializer && settings.serializersAccepted.includes(serializer.name);
    if (!serializer || !accepted) {
      if (dialect === 4)
        this.fail(
          `message used serializer that is not accepted: ${toPyro4SerializerId(message.serializerId) ?? message.serializerId}`,
        );
      // a serializer we know but refuse is worth saying (Pyro5 accepts all it has; ids it lacks just close)
      else if (serializer) this.fail(`message used serializer that is not accepted: ${serializer.name}`);
      else this.connection.destroy(new ProtocolError(`unsupported serializer id ${message.serializerId}`));
      return;
    }
    const validate = settings.validate;
    let data: Record<string, unknown> | undefined;
    let objectId: unknown;
    try {
      if (validate) {
        // the validator gets the client's handshake data: decoded for it every time
        data = parseConnectData(serializer.decode(message.payload));
        objectId = data.object;
      } else {
        objectId = connectObject(serializer, message.payload);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err), serializer, message.seq);
      return;
    }
    const wantsMeta = dialect === 5 || (message.flags & Flags.META_ON_CONNECT) !== 0;
    if (wantsMeta && typeof objectId !== 'string') {
      this.fail("'object'", serializer, message.seq);
      return;
    }
    if (wantsMeta && !this.host.hasObject(objectId as string)) {
      this.fail('unknown object', serializer, message.seq);
      return;
    }
    if (!validate || data === undefined) {
      this.accept(message, dialect, serializer, wantsMeta ? (objectId as string) : undefined, undefined);
      return;
    }
    this.currentState = 'validating';
    let response: unknown = DEFAULT_HANDSHAKE;
    const finish = () =>
      this.accept(message, dialect, serializer, wantsMeta ? (objectId as string) : undefined, response);
    try {
      const result = validate({
        data: data.handshake,
        objectId: typeof objectId === 'string' ? objectId : '',
        remoteAddress: this.connection.remoteAddress,
        protocolVersion: (dialect === 4 ? 48 : 502) as ProtocolVersion,
        peerCertificate: this.connection.peerCertificate(),
        annotations: message.annotations ?? new Map(),
      });
      if (result instanceof Promise) {
        result.then(
          (value: unknown) => {
            response = value === undefined ? DEFAULT_HANDSHAKE : value;
            if (this.currentState === 'validating') finish();
          },
          (err: unknown) => this.refuse(err, serializer, message.seq),
        );
        return;
      }
      response = result === undefined ? DEFAULT_HANDSHAKE : result;
    } catch (err) {
      this.refuse(err, serializer, message.seq);
      return;
    }
    finish();
  }

  private refuse(err: unknown, serializer: Serializer, seq: number): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.host.settings.logger.info(
      { client: this.connection.remoteAddress },
      `handshake refused by validateHandshake: ${reason}`,
    );
    this.fail(reason, serializer, seq);
  }

  private accept(
    message: Message,
    dialect: 4 | 5,
    serializer: Serializer,
    objectId: string | undefined,
    response: unknown,
  ): void {
    if (this.deadline) cancelDeadline(this.deadline);
    const host = this.host;
    const clientCaps = decodeCapabilities(message.annotations?.get(CAPS_ANNOTATION));
    const settings = host.settings;
    const caps = clientCaps & offeredCapabilities(settings.multiplex);
    this.serializer = serializer;
    this.capabilities = caps;
    const session = host.openSession(this);
    session.multiplexed = (caps & Capability.MULTIPLEX) !== 0;
    session.capabilities = caps;
    session.streamCredit = settings.streamCredit;
    session.defaultSerializer = serializer;
    this.currentSession = session;
    let payload: Uint8Array;
    let frame: EncodedFrame | undefined;
    try {
      const meta = objectId === undefined ? undefined : host.metadataOf(objectId);
      if (response === undefined && (objectId === undefined || meta !== undefined)) {
        const cached = defaultReply(serializer, meta);
        payload = cached.payload;
        if (dialect === 5 && this.authenticator === undefined)
          frame = connectOkFrame(serializer, cached, clientCaps !== 0 ? caps : -1);
      } else {
        const reply = response === undefined ? DEFAULT_HANDSHAKE : response;
        payload = serializer.encode(
          objectId === undefined ? reply : { handshake: reply, meta },
          session.hooks,
        );
      }
    } catch (err) {
      this.fail(
        `cannot serialize the handshake response: ${(err as Error).message}`,
        serializer,
        message.seq,
      );
      return;
    }
    this.currentState = 'ready';
    host.ready();
    this.sendSigned({
      type: MsgType.CONNECTOK,
      flags: dialect === 5 ? Flags.CORR_ID : objectId !== undefined ? Flags.META_ON_CONNECT : 0,
      seq: message.seq,
      serializerId: serializer.id,
      correlationId: message.correlationId ?? newCorrelationId(),
      annotations:
        frame !== undefined
          ? frame.source.annotations
          : clientCaps !== 0
            ? new Map([[CAPS_ANNOTATION, encodeCapabilities(caps)]])
            : null,
      payload,
      frame,
    });
    // (a session starts unsigned and without a heartbeat: nothing to call for most connections)
    if (this.authenticator !== undefined) session.authenticator = this.authenticator;
    // the client's callbacks this server calls fail too when the client freezes
    if (settings.heartbeatMs > 0) startHeartbeat(session, settings.heartbeatMs);
    const early = this.early;
    if (early === undefined) return;
    this.early = undefined;
    const paused = early.length >= EARLY_LIMIT;
    for (const m of early) session.onMessage(m);
    if (paused) this.connection.resume();
  }

  lateMessage(message: Message): void {
    this.host.settings.logger.debug(
      { type: message.type, client: this.connection.remoteAddress },
      'unexpected message after the handshake',
    );
    this.currentSession?.fail(
      new ProtocolError(`unexpected message type ${message.type} after the handshake`),
    );
  }

  badMessage(_message: Message, error: Error): void {
    this.currentSession?.fail(error);
  }

  sessionClosed(): void {
    this.ended();
  }

  /** Sends a handshake reply, signed once the client has authenticated (the server's first MAC). */
  private sendSigned(message: Message): void {
    this.authenticator?.sign(message);
    this.connection.send(message);
  }
}
