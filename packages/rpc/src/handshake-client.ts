// The client half of the handshake: on a fresh connection, the shared-key hello (a PING carrying
// our nonce, answered with the daemon's) when a key is set and the protocol is 502, then CONNECT →
// CONNECTOK/CONNECTFAIL, read into a session that is ready for calls: capabilities agreed, the
// heartbeat started, the caller's validator run. The server half is handshake-server.ts; the shapes
// both read are in handshake-shared.ts.
import {
  CommunicationError,
  ConnectionClosedError,
  type Deadline,
  type ObjectMetadata,
  PING_SERIALIZER_ID,
  ProtocolError,
  SecurityError,
  SerializeError,
} from '@cinder/core';
import { type Annotations, Flags, type Message, MsgType, type ProtocolVersion } from '@cinder/protocol';
import { NOT_SYMMETRIC_MESSAGE, type SharedKey, SharedKeyClient } from '@cinder/security';
import type { CodecHooks, Serializer, SerializerSet } from '@cinder/serializers';
import type { Connection, PeerCertificate } from '@cinder/transport';
import { CAPS_ANNOTATION, Capability, decodeCapabilities, encodeCapabilities } from './capabilities.js';
import {
  type ConnectData,
  DEFAULT_HANDSHAKE,
  failureText,
  offeredCapabilities,
  parseConnectOk,
} from './handshake-shared.js';
import { startHeartbeat } from './heartbeat.js';
import { Session } from './session.js';
import type { SessionInit } from './session-types.js';

/**
 * What a client's handshakes share: everything but the connection and the per-connect values
 * (clientHandshake's other arguments). A proxy makes it once, so a connect builds no options
 * object; closures that outlive a handshake (a session's onControl/onClose) read the connection and
 * the object asked for from their own handshake's arguments, never from a shared object.
 */
export interface ClientHandshakeSetup {
  /** Serializers of the connection's dialect: CONNECTFAIL texts, the CONNECTOK, replies. */
  serializers: SerializerSet;
  /** The serializer of the CONNECT, and the session's default for calls. */
  serializer: Serializer;
  hooks: CodecHooks;
  protocol: ProtocolVersion;
  /** The uri as the user gave it (for messages). */
  uriText: string;
  /** Handshake data (Pyro's `_pyroHandshake`, default "hello"). */
  handshake?: unknown;
  /** Annotations sent with CONNECT (besides the capabilities). */
  annotations?: Annotations | undefined;
  /** Offer pipelining. */
  multiplex: boolean;
  /** With protocol 502: the shared-key hello before CONNECT, and a MAC on every message after. */
  sharedKey?: SharedKey | undefined;
  streamCredit: number;
  heartbeatMs: number;
  /** Checks the daemon's response; throw to refuse the connection. */
  validate?:
    | ((
        response: unknown,
        peer: { peerCertificate: PeerCertificate | null; address: string },
      ) => void | Promise<void>)
    | undefined;
  /** The rest of the session: serving callbacks, hooks, streams. */
  session: Omit<SessionInit, 'connection' | 'serializers' | 'onControl' | 'onClose' | 'onBadMessage'>;
  /** Every close of the session, during the handshake or long after. */
  onClose?: (session: Session, error: Error | undefined) => void;
  /**
   * Kept by the owner across its connections (a proxy's): the CONNECT's payload and annotations are
   * encoded once, not per connection (unless a shared key signs them).
   */
  connectCache?: ConnectCache | undefined;
}

/** The CONNECT's encoded parts, reused while the object asked for stays the same (see `connectCache`). */
export interface ConnectCache {
  objectId?: string;
  /** The serializer it was encoded with (its id means another format in the other dialect). */
  serializer?: Serializer;
  payload?: Uint8Array;
  annotations?: Annotations;
}

export interface ClientHandshakeResult {
  session: Session;
  /** The daemon's handshake response. */
  response: unknown;
  /**
   * The object's metadata, when the daemon sent it (always with 502; with 48 on META_ON_CONNECT).
   * Read-only: the same object is handed to every connection that gets the same CONNECTOK (see
   * readConnectOk), so an owner that lets users change it hands out a copy.
   */
  metadata: ObjectMetadata | undefined;
}

/**
 * Sends the first call right behind CONNECT, before CONNECTOK (the daemon reads in order): called
 * with the session and the object asked for once CONNECT is written. A refused CONNECT fails the
 * handshake with the refusal; the call's own promise then rejects too, and the owner must have
 * observed it.
 */
export type FirstCall = (session: Session, objectId: string) => void;

/**
 * Runs the client half of the handshake on `connection` (which the caller destroys when this
 * rejects), asking for `objectId`, continuing from sequence number `seq` (Pyro increments it per
 * message, across reconnects), within `deadline`: the bound of the key hello and the handshake, the
 * connection's (connectTimeoutMs, the dial included) merged with the signal of the calls waiting —
 * watched, never a timer of its own. Resolves with a session ready for calls.
 */
export function clientHandshake(
  setup: ClientHandshakeSetup,
  connection: Connection,
  objectId: string,
  seq: number,
  deadline: Deadline,
  firstCall?: FirstCall,
): Promise<ClientHandshakeResult> {
  if (setup.sharedKey && setup.protocol === 502) {
    const keyClient = new SharedKeyClient(setup.sharedKey);
    return keyHello(setup, connection, seq, deadline, keyClient).then(() =>
      connectExchange(setup, connection, objectId, seq, deadline, firstCall, keyClient),
    );
  }
  return connectExchange(setup, connection, objectId, seq, deadline, firstCall, undefined);
}

/** The shared-key hello: a PING with our nonce, answered by the daemon's nonce. */
function keyHello(
  setup: ClientHandshakeSetup,
  connection: Connection,
  seq: number,
  deadline: Deadline,
  client: SharedKeyClient,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const address = connection.remoteAddress;
    let settled = false;
    let stop = noop;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      stop();
      if (err) reject(err);
      else resolve();
    };
    // a deadline already passed calls done() now, before `stop` is set: hence the let
    stop = deadline.onExpire((aborted) => done(deadline.error(`key exchange with ${address}`, aborted)));
    if (settled) return;
    connection.setHandler({
      onMessage: (reply) => {
        if (reply.type === MsgType.CONNECTFAIL) {
          // a refusal that has nothing to do with keys (connection limits), or a Pyro daemon that
          // knows no key exchange ("invalid msg type 6"): say which
          const reason = failureText(setup.serializers, reply);
          done(
            /^invalid msg type/.test(reason)
              ? new SecurityError(`connection to ${address} rejected: ${reason} (${NOT_SYMMETRIC_MESSAGE})`)
              : new CommunicationError(`connection to ${address} rejected: ${reason}`),
          );
          return;
        }
        try {
          client.acceptHelloReply(reply);
          done();
        } catch (err) {
          done(err as Error);
        }
      },
      onError: (err) => done(err),
      onClose: (err) =>
        done(
          err instanceof SecurityError
            ? new SecurityError(`connection to ${address} refused during the key exchange: ${err.message}`, {
                cause: err,
              })
            : new ConnectionClosedError(
                `connection to ${address} closed during the key exchange`,
                err ? { cause: err } : undefined,
              ),
        ),
    });
    const ping: Message = {
      type: MsgType.PING,
      flags: 0,
      seq,
      serializerId: PING_SERIALIZER_ID,
      correlationId: null,
      annotations: null,
      payload: Buffer.from('ping'),
    };
    client.hello(ping);
    connection.send(ping);
  });
}

/** CONNECT, then the daemon's answer read into the session. */
function connectExchange(
  setup: ClientHandshakeSetup,
  connection: Connection,
  objectId: string,
  seq: number,
  deadline: Deadline,
  firstCall: FirstCall | undefined,
  keyClient: SharedKeyClient | undefined,
): Promise<ClientHandshakeResult> {
  return new Promise<ClientHandshakeResult>((resolve, reject) => {
    let settled = false;
    let stop = noop;
    const address = connection.remoteAddress;
    const done = (err: Error | undefined, result?: ClientHandshakeResult) => {
      if (settled) return;
      settled = true;
      stop();
      if (err) reject(err);
      else resolve(result!);
    };
    // a deadline already passed calls done() now, before `stop` is set: hence the let
    stop = deadline.onExpire((aborted) => done(deadline.error(`handshake with ${address}`, aborted)));
    if (settled) return;
    const parts = setup.session;
    // every field named (no spread of the parts): this runs once per connection
    const session: Session = new Session({
      logger: parts.logger,
      server: parts.server,
      hooks: parts.hooks,
      maxConcurrentCalls: parts.maxConcurrentCalls,
      maxBufferedOutput: parts.maxBufferedOutput,
      makeStream: parts.makeStream,
      connection,
      serializers: setup.serializers,
      onControl: (message) => {
        const fail = (err: Error) => {
          done(err);
          session.fail(err);
        };
        let result: ClientHandshakeResult;
        try {
          result = onConnectReply(setup, session, message, address, objectId, keyClient);
        } catch (err) {
          fail(err as Error);
          return;
        }
        const validate = setup.validate;
        if (validate === undefined) {
          done(undefined, result);
          return;
        }
        // the caller's validator may take its time (and may refuse the connection)
        const peer = { peerCertificate: connection.peerCertificate(), address };
        new Promise<void>((resolve) => resolve(validate(result.response, peer))).then(
          () => done(undefined, result),
          fail,
        );
      },
      onClose: (err) => {
        setup.onClose?.(session, err);
        if (settled) return; // a connection that closes after its handshake concerns no one here
        done(closedDuringHandshake(setup, connection, err));
      },
    });
    session.currentSeq = seq;
    try {
      // without a first call behind it nothing else is sent before the CONNECTOK: written at once,
      // not at the end of the tick (no tick-queue turn per connection)
      connection.send(connectMessage(setup, objectId, seq, keyClient), firstCall === undefined);
      firstCall?.(session, objectId);
    } catch (err) {
      done(err as Error);
    }
  });
}

function connectMessage(
  setup: ClientHandshakeSetup,
  objectId: string,
  seq: number,
  keyClient: SharedKeyClient | undefined,
): Message {
  const { serializer } = setup;
  // a signed CONNECT gets annotations of its own (the signature is added to them)
  const cache =
    keyClient !== undefined
      ? undefined
      : setup.annotations === undefined && setup.handshake === undefined
        ? defaultConnect(setup.multiplex)
        : setup.connectCache;
  let annotations: Annotations;
  let payload: Uint8Array;
  if (
    cache !== undefined &&
    cache.objectId === objectId &&
    cache.serializer === serializer &&
    cache.payload !== undefined &&
    cache.annotations !== undefined
  ) {
    annotations = cache.annotations;
    payload = cache.payload;
  } else {
    annotations = new Map(setup.annotations ?? []);
    annotations.set(CAPS_ANNOTATION, encodeCapabilities(offeredCapabilities(setup.multiplex)));
    const data: ConnectData = { handshake: setup.handshake ?? DEFAULT_HANDSHAKE, object: objectId };
    payload = serializer.encode(data, setup.hooks);
    if (cache !== undefined) {
      cache.objectId = objectId;
      cache.serializer = serializer;
      cache.payload = payload;
      cache.annotations = annotations;
    }
  }
  const connect: Message = {
    type: MsgType.CONNECT,
    flags: setup.protocol === 48 ? Flags.META_ON_CONNECT : 0,
    seq,
    serializerId: serializer.id,
    correlationId: null,
    annotations,
    payload,
  };
  keyClient?.signConnect(connect);
  return connect;
}

/**
 * The CONNECT parts of connections without annotations or handshake data of their own, shared by
 * every proxy of this process (one per pipelining choice): a new proxy per call to the same object
 * encodes no CONNECT. The payload bytes and the annotations map are never changed once sent (a
 * signed CONNECT, which gets its own annotations, does not use them).
 */
const defaultConnects: [ConnectCache, ConnectCache] = [{}, {}];

function defaultConnect(multiplex: boolean): ConnectCache {
  return defaultConnects[multiplex ? 1 : 0];
}

/** A CONNECTOK payload read: the daemon's response and the object's metadata, if it sent them. */
interface ConnectOkRead {
  response: unknown;
  metadata: ObjectMetadata | undefined;
}

/** A CONNECTOK payload this long or shorter is kept to recognise the next one (see readConnectOk). */
const MAX_KEPT_CONNECTOK = 1024;

/**
 * The last CONNECTOK read whose payload decoded to plain values (a string, number, boolean or no
 * response, and lists of names): the same bytes from the same serializer read the same, so a daemon
 * that answers every connection alike (it caches its CONNECTOK) costs no decode per connection.
 * Only payloads of up to MAX_KEPT_CONNECTOK bytes are kept, so what a daemon can make a client hold
 * here is one small copy.
 */
let lastConnectOk: (ConnectOkRead & { serializer: Serializer; bytes: Uint8Array }) | undefined;

function readConnectOk(serializer: Serializer, payload: Uint8Array, hooks: CodecHooks): ConnectOkRead {
  const last = lastConnectOk;
  if (last !== undefined && last.serializer === serializer && sameBytes(last.bytes, payload)) {
    return last;
  }
  const read = parseConnectOk(serializer.decode(payload, hooks));
  const r = read.response;
  if (
    payload.length <= MAX_KEPT_CONNECTOK &&
    (r === null ||
      r === undefined ||
      typeof r === 'string' ||
      typeof r === 'number' ||
      typeof r === 'boolean')
  ) {
    lastConnectOk = {
      serializer,
      bytes: new Uint8Array(payload), // a copy: the payload may be a view of a read buffer used again
      response: r,
      metadata: read.metadata, // read-only from here on: handed to every connection that reads the same
    };
  }
  return read;
}

/**
 * Compared natively: a loop over the bytes runs once per connection, so in V8's baseline tier
 * (where code run once per connection stays for thousands of connections) it cost ~50
 * instructions a byte.
 */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The error for a connection that closed before the handshake was done. */
function closedDuringHandshake(
  setup: ClientHandshakeSetup,
  connection: Connection,
  err: Error | undefined,
): Error {
  const address = connection.remoteAddress;
  if (err instanceof SecurityError) {
    // a TLS alert or a Pyro4 HMAC failure: a refusal, not just a lost connection
    return new SecurityError(`connection to ${address} refused during the handshake: ${err.message}`, {
      cause: err,
    });
  }
  const why = err ? `: ${err.message}` : '';
  // a close without a reason: guess the likely ones
  const hint = err
    ? ''
    : connection.transport === 'tls'
      ? ' (a TLS daemon closes connections whose client certificate it refuses: see its log)'
      : setup.serializer.name === 'cbor'
        ? ` (a Python Pyro peer closes connections using the cbor serializer: use json, serpent, msgpack or marshal)`
        : '';
  return new ConnectionClosedError(
    `connection to ${address} closed during the handshake${why}${hint}`,
    err ? { cause: err } : undefined,
  );
}

/**
 * Reads CONNECTOK (or CONNECTFAIL, thrown as the daemon's reason) into the session; the caller's
 * validator runs after it (connectExchange).
 */
function onConnectReply(
  setup: ClientHandshakeSetup,
  session: Session,
  message: Message,
  address: string,
  objectId: string,
  keyClient: SharedKeyClient | undefined,
): ClientHandshakeResult {
  if (keyClient !== undefined && message.type === MsgType.CONNECTOK) {
    // checked before the payload is read: proves the daemon holds the key
    session.authenticator = keyClient.verifyConnectReply(message);
  }
  if (message.type === MsgType.CONNECTFAIL)
    throw refusal(setup, message, address, objectId, keyClient !== undefined);
  if (message.type !== MsgType.CONNECTOK) {
    throw new ProtocolError(`expected CONNECTOK or CONNECTFAIL, got message type ${message.type}`);
  }
  const serializer = setup.serializers.byId(message.serializerId);
  if (!serializer)
    throw new SerializeError(`invalid serializer in handshake response: ${message.serializerId}`);
  const { response, metadata } = readConnectOk(serializer, message.payload, setup.hooks);
  if (
    metadata &&
    metadata.methods.length === 0 &&
    metadata.attrs.length === 0 &&
    metadata.oneway.length === 0
  ) {
    throw new CommunicationError(
      `remote object '${setup.uriText}' doesn't expose any methods or attributes. Did you forget to expose them?`,
    );
  }
  const caps = decodeCapabilities(message.annotations?.get(CAPS_ANNOTATION));
  session.multiplexed = (caps & Capability.MULTIPLEX) !== 0;
  session.capabilities = caps;
  session.streamCredit = setup.streamCredit;
  session.defaultSerializer = setup.serializer;
  startHeartbeat(session, setup.heartbeatMs);
  return { session, response, metadata };
}

/** The error a CONNECTFAIL stands for: a SecurityError when keys are involved. */
function refusal(
  setup: ClientHandshakeSetup,
  message: Message,
  address: string,
  objectId: string,
  keyed: boolean,
): Error {
  const reason = failureText(setup.serializers, message);
  if (keyed || reason === 'this daemon requires a shared key' || reason.includes('hmac')) {
    return new SecurityError(`connection to ${address} rejected: ${reason}`);
  }
  // Pyro's text does not say which object: name it, so a typo in a URI is easy to see.
  const why = reason === 'unknown object' ? `unknown object '${objectId}'` : reason;
  return new CommunicationError(`connection to ${address} rejected: ${why}`);
}

const noop = (): void => {};
