// The shared-key handshake between Cinder peers (protocol 502): a nonce exchange on a PING before
// CONNECT, then CONNECT and CONNECTOK authenticated with session keys derived from both nonces.
// The client proves the key first, so a daemon never hands a key-dependent value to a peer that
// has not proved the key (see README.md for the message diagram and the reasoning).
import { randomBytes } from 'node:crypto';
import { SecurityError } from '@cinder/core';
import { type Message, MsgType } from '@cinder/protocol';
import { BATCH_OFFER_ANNOTATION, BATCH_SCHEME_VERSION, BatchAuthenticator } from './batch-auth.js';
import { deriveSessionKeys, MAC_ANNOTATION, MessageAuthenticator, type SessionKeys } from './message-auth.js';
import type { SharedKey } from './shared-key.js';

/** Annotation carrying a scheme version byte and a nonce, on the hello PING and its reply. */
export const NONCE_ANNOTATION = 'CNON';
/** Version of the shared-key scheme (HKDF labels and MAC layout). */
export const SHARED_KEY_VERSION = 1;
/** Length of each side's nonce. */
export const NONCE_LENGTH = 32;

/** What a keyed client reports when the daemon does not take part in the key exchange. */
export const NOT_SYMMETRIC_MESSAGE = 'server does not use a shared key (key configuration not symmetric)';
/** CONNECTFAIL text of a keyed daemon receiving an unauthenticated CONNECT. */
export const KEY_REQUIRED_MESSAGE = 'this daemon requires a shared key';
/** CONNECTFAIL text for every other authentication failure: it tells the peer nothing more. */
export const AUTH_FAILED_MESSAGE = 'authentication failed';

export type SharedKeyClientState =
  | 'initial'
  | 'hello-sent'
  | 'keys-agreed'
  | 'connect-sent'
  | 'established'
  | 'failed';
export type SharedKeyServerState = 'initial' | 'keys-agreed' | 'established' | 'failed';

function nonceValue(nonce: Uint8Array): Uint8Array {
  const value = Buffer.allocUnsafe(1 + NONCE_LENGTH);
  value[0] = SHARED_KEY_VERSION;
  value.set(nonce, 1);
  return value;
}

/** The nonce of a CNON value, or null when the value is malformed or of another version. */
function parseNonce(value: Uint8Array | undefined): Uint8Array | null {
  if (value === undefined || value.length !== 1 + NONCE_LENGTH || value[0] !== SHARED_KEY_VERSION)
    return null;
  return value.subarray(1);
}

const BATCH_OFFER = Uint8Array.of(BATCH_SCHEME_VERSION);

/** True when a CBAV value (a list of scheme version bytes) names the batch scheme we implement. */
function offersBatches(value: Uint8Array | undefined): boolean {
  return value !== undefined && value.length <= 16 && value.includes(BATCH_SCHEME_VERSION);
}

function authenticator(keys: SessionKeys, client: boolean, batches: boolean): MessageAuthenticator {
  const send = client ? keys.clientToServer : keys.serverToClient;
  const receive = client ? keys.serverToClient : keys.clientToServer;
  const auth = new MessageAuthenticator(send, receive);
  if (batches) auth.batches = new BatchAuthenticator(send, receive);
  return auth;
}

function addAnnotation(message: Message, id: string, value: Uint8Array): void {
  if (message.annotations === null) message.annotations = new Map([[id, value]]);
  else message.annotations.set(id, value);
}

/** True when `message` is a PING asking for the shared-key exchange. */
export function isKeyExchangeHello(message: Message): boolean {
  return message.type === MsgType.PING && message.annotations?.has(NONCE_ANNOTATION) === true;
}

/**
 * Client side of the handshake. Usage on a fresh connection:
 *
 * 1. `hello(ping)` adds the client nonce to a PING, which is sent before anything else;
 * 2. `acceptHelloReply(reply)` reads the daemon's nonce from the PING reply (an unkeyed daemon's
 *    plain pong is reported as asymmetric configuration);
 * 3. `signConnect(connect)` authenticates the CONNECT (call it last, right before sending);
 * 4. `verifyConnectReply(connectOk)` checks the daemon's proof and returns the authenticator that
 *    signs and verifies every later message of the connection.
 *
 * A CONNECTFAIL is not authenticated (a daemon that rejected the key cannot sign it) and is never
 * passed here: the proxy reports its text as a rejection.
 */
export class SharedKeyClient {
  readonly #key: SharedKey;
  readonly #nonce = randomBytes(NONCE_LENGTH);
  #state: SharedKeyClientState = 'initial';
  #authenticator: MessageAuthenticator | null = null;

  constructor(key: SharedKey) {
    this.#key = key;
  }

  get state(): SharedKeyClientState {
    return this.#state;
  }

  /** Adds the `CNON` annotation to the PING sent before CONNECT. */
  hello(ping: Message): void {
    this.#expect('initial', 'hello');
    if (ping.type !== MsgType.PING)
      throw this.#fail(new SecurityError('the key exchange must be sent on a PING'));
    addAnnotation(ping, NONCE_ANNOTATION, nonceValue(this.#nonce));
    addAnnotation(ping, BATCH_OFFER_ANNOTATION, BATCH_OFFER);
    this.#state = 'hello-sent';
  }

  /** Reads the daemon's nonce and derives the session keys. */
  acceptHelloReply(reply: Message): void {
    this.#expect('hello-sent', 'acceptHelloReply');
    if (reply.type !== MsgType.PING) {
      // A Python Pyro5 daemon refuses a PING before CONNECT with CONNECTFAIL: it has no key either.
      throw this.#fail(new SecurityError(NOT_SYMMETRIC_MESSAGE));
    }
    const value = reply.annotations?.get(NONCE_ANNOTATION);
    if (value === undefined) throw this.#fail(new SecurityError(NOT_SYMMETRIC_MESSAGE));
    const serverNonce = parseNonce(value);
    if (serverNonce === null) {
      throw this.#fail(
        new SecurityError('the server answered the key exchange with a malformed or unsupported nonce'),
      );
    }
    // An older daemon does not answer the offer: then every message is signed on its own.
    const chosen = reply.annotations?.get(BATCH_OFFER_ANNOTATION);
    if (chosen !== undefined && (chosen.length !== 1 || chosen[0] !== BATCH_SCHEME_VERSION)) {
      throw this.#fail(
        new SecurityError('the server chose a batch authentication scheme it was not offered'),
      );
    }
    const keys = deriveSessionKeys(this.#key, this.#nonce, serverNonce, SHARED_KEY_VERSION);
    this.#authenticator = authenticator(keys, true, chosen !== undefined);
    this.#state = 'keys-agreed';
  }

  /** Adds the client's proof (the CONNECT's MAC) to the CONNECT. */
  signConnect(connect: Message): void {
    this.#expect('keys-agreed', 'signConnect');
    if (connect.type !== MsgType.CONNECT)
      throw this.#fail(new SecurityError('signConnect needs a CONNECT message'));
    this.#authenticator!.sign(connect);
    this.#state = 'connect-sent';
  }

  /**
   * Verifies the daemon's proof on CONNECTOK. A daemon with another key cannot produce it, so the
   * failure says the keys differ.
   */
  verifyConnectReply(connectOk: Message): MessageAuthenticator {
    this.#expect('connect-sent', 'verifyConnectReply');
    if (connectOk.type !== MsgType.CONNECTOK) {
      throw this.#fail(new SecurityError('verifyConnectReply needs a CONNECTOK message'));
    }
    try {
      this.#authenticator!.verify(connectOk);
    } catch (err) {
      throw this.#fail(
        new SecurityError('the server could not prove it holds the shared key (keys differ?)', {
          cause: err,
        }),
      );
    }
    this.#state = 'established';
    return this.#authenticator!;
  }

  #expect(state: SharedKeyClientState, step: string): void {
    if (this.#state !== state) {
      throw this.#fail(
        new SecurityError(`shared-key handshake: ${step} is not allowed in state ${this.#state}`),
      );
    }
  }

  #fail(error: SecurityError): SecurityError {
    this.#state = 'failed';
    return error;
  }
}

/**
 * Daemon side of the handshake, one instance per connection:
 *
 * 1. for a PING before CONNECT for which `isKeyExchangeHello(ping)` is true, `answerHello(ping,
 *    reply)` adds the daemon's nonce to the pong;
 * 2. `verifyConnect(connect)` checks the CONNECT before anything else reads it (in particular
 *    before its payload is deserialized) and returns the authenticator, whose first `sign` must be
 *    the CONNECTOK (or a CONNECTFAIL from the handshake validator).
 *
 * On a SecurityError the daemon answers CONNECTFAIL with the error's message — it is exactly
 * `KEY_REQUIRED_MESSAGE` or `AUTH_FAILED_MESSAGE` for peer failures, nothing more — and closes.
 */
export class SharedKeyServer {
  readonly #key: SharedKey;
  #state: SharedKeyServerState = 'initial';
  #authenticator: MessageAuthenticator | null = null;

  constructor(key: SharedKey) {
    this.#key = key;
  }

  get state(): SharedKeyServerState {
    return this.#state;
  }

  /** Answers a key-exchange PING: adds the daemon's nonce to the reply and derives the session keys. */
  answerHello(ping: Message, reply: Message): void {
    if (this.#state !== 'initial')
      throw this.#fail(new SecurityError('repeated key exchange on one connection'));
    const clientNonce = parseNonce(ping.annotations?.get(NONCE_ANNOTATION));
    if (clientNonce === null) {
      throw this.#fail(new SecurityError('malformed or unsupported key exchange request'));
    }
    const serverNonce = randomBytes(NONCE_LENGTH);
    const keys = deriveSessionKeys(this.#key, clientNonce, serverNonce, SHARED_KEY_VERSION);
    const batches = offersBatches(ping.annotations?.get(BATCH_OFFER_ANNOTATION));
    this.#authenticator = authenticator(keys, false, batches);
    addAnnotation(reply, NONCE_ANNOTATION, nonceValue(serverNonce));
    if (batches) addAnnotation(reply, BATCH_OFFER_ANNOTATION, BATCH_OFFER);
    this.#state = 'keys-agreed';
  }

  /**
   * Verifies a CONNECT. Throws SecurityError(KEY_REQUIRED_MESSAGE) when the peer did not try to
   * authenticate, SecurityError(AUTH_FAILED_MESSAGE) for every other failure (wrong key, replay,
   * tampering, no key exchange first).
   */
  verifyConnect(connect: Message): MessageAuthenticator {
    const state = this.#state;
    const authenticator = this.#authenticator;
    if (state === 'established' || state === 'failed') {
      throw this.#fail(new SecurityError(AUTH_FAILED_MESSAGE));
    }
    const proof = connect.annotations?.get(MAC_ANNOTATION);
    if (proof === undefined && state === 'initial') throw this.#fail(new SecurityError(KEY_REQUIRED_MESSAGE));
    if (connect.type !== MsgType.CONNECT || authenticator === null) {
      throw this.#fail(new SecurityError(AUTH_FAILED_MESSAGE));
    }
    try {
      authenticator.verify(connect);
    } catch (err) {
      throw this.#fail(new SecurityError(AUTH_FAILED_MESSAGE, { cause: err }));
    }
    this.#state = 'established';
    return authenticator;
  }

  #fail(error: SecurityError): SecurityError {
    this.#state = 'failed';
    this.#authenticator = null;
    return error;
  }
}
