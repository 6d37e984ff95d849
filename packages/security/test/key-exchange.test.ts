// The shared-key handshake end to end on the Message model: both state machines exchanging real
// messages, and every attack the design must stop.
import { CinderError, SecurityError } from '@cinder/core';
import { type Message, MsgType } from '@cinder/protocol';
import { describe, expect, it } from 'vitest';
import {
  AUTH_FAILED_MESSAGE,
  deriveSessionKeys,
  isKeyExchangeHello,
  KEY_REQUIRED_MESSAGE,
  MAC_ANNOTATION,
  MessageAuthenticator,
  NONCE_ANNOTATION,
  NOT_SYMMETRIC_MESSAGE,
  parseKey,
  type SharedKey,
  SharedKeyClient,
  SharedKeyServer,
} from '../src/index.js';
import { clone, connect, connectOk, invoke, ping, pong, result } from './messages.js';

const keyA = parseKey('correct horse battery staple 2024');
const keyB = parseKey('correct horse battery staple 2025');

interface Session {
  client: SharedKeyClient;
  server: SharedKeyServer;
  /** The messages as they went over the "wire", for replay attacks. */
  wire: { hello: Message; helloReply: Message; connect: Message; connectOk: Message };
  clientAuth: MessageAuthenticator;
  serverAuth: MessageAuthenticator;
}

/** Runs the whole handshake the way proxy and daemon do, capturing every message sent. */
function handshake(clientKey: SharedKey = keyA, serverKey: SharedKey = keyA): Session {
  const client = new SharedKeyClient(clientKey);
  const server = new SharedKeyServer(serverKey);
  const hello = ping();
  client.hello(hello);
  const helloCopy = clone(hello);
  expect(isKeyExchangeHello(hello)).toBe(true);
  const helloReply = pong(hello);
  server.answerHello(hello, helloReply);
  const helloReplyCopy = clone(helloReply);
  client.acceptHelloReply(helloReply);
  const c = connect();
  client.signConnect(c);
  const connectCopy = clone(c);
  const serverAuth = server.verifyConnect(c);
  const ok = connectOk();
  serverAuth.sign(ok);
  const okCopy = clone(ok);
  const clientAuth = client.verifyConnectReply(ok);
  return {
    client,
    server,
    wire: { hello: helloCopy, helloReply: helloReplyCopy, connect: connectCopy, connectOk: okCopy },
    clientAuth,
    serverAuth,
  };
}

/**
 * The client's hello, the server's reply and the client's signed CONNECT, exchanged without the
 * server verifying that CONNECT yet (for the tests that attack or inspect this step).
 */
function helloThenConnect(
  client: SharedKeyClient,
  server: SharedKeyServer,
  c: Message = connect(),
): { hello: Message; reply: Message; connect: Message } {
  const hello = ping();
  client.hello(hello);
  const reply = pong(hello);
  server.answerHello(hello, reply);
  client.acceptHelloReply(reply);
  client.signConnect(c);
  return { hello, reply, connect: c };
}

function expectSecurityError(fn: () => unknown, message: string | RegExp): SecurityError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SecurityError);
  const err = caught as SecurityError;
  expect(err.code).toBe('SECURITY');
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
  return err;
}

describe('shared-key handshake', () => {
  it('authenticates both sides and then carries calls both ways', () => {
    const s = handshake();
    expect(s.client.state).toBe('established');
    expect(s.server.state).toBe('established');
    // The proof annotations were consumed by verification: application code never sees them.
    expect(s.wire.connect.annotations?.has(MAC_ANNOTATION)).toBe(true);
    for (let seq = 1; seq <= 20; seq++) {
      const call = invoke(seq, 'add', [seq, 1]);
      s.clientAuth.sign(call);
      const received = clone(call);
      s.serverAuth.verify(received);
      expect(received.annotations?.has(MAC_ANNOTATION)).toBe(false);
      expect(new TextDecoder().decode(received.payload)).toContain(`"params":[${seq},1]`);
      const reply = result(seq, seq + 1);
      s.serverAuth.sign(reply);
      s.clientAuth.verify(clone(reply));
    }
    // A PING after CONNECT is an ordinary authenticated message.
    const p = ping(21);
    s.clientAuth.sign(p);
    s.serverAuth.verify(clone(p));
    expect(s.clientAuth.sent).toBe(22);
    expect(s.serverAuth.received).toBe(22);
  });

  it('puts a version byte and a fresh 32-byte nonce on both hello messages', () => {
    const a = handshake();
    const b = handshake();
    for (const m of [a.wire.hello, a.wire.helloReply]) {
      const value = m.annotations?.get(NONCE_ANNOTATION);
      expect(value?.length).toBe(33);
      expect(value?.[0]).toBe(1);
    }
    const nonces = [a, b].flatMap((s) =>
      [s.wire.hello, s.wire.helloReply].map((m) =>
        Buffer.from(m.annotations!.get(NONCE_ANNOTATION)!).toString('hex'),
      ),
    );
    expect(new Set(nonces).size).toBe(4);
    // Same key, same messages, different connections: different proofs.
    expect(Buffer.from(a.wire.connect.annotations!.get(MAC_ANNOTATION)!)).not.toEqual(
      Buffer.from(b.wire.connect.annotations!.get(MAC_ANNOTATION)!),
    );
  });

  it('rejects a client with the wrong key with nothing but "authentication failed"', () => {
    const client = new SharedKeyClient(keyB);
    const server = new SharedKeyServer(keyA);
    const { connect: c } = helloThenConnect(client, server);
    const err = expectSecurityError(() => server.verifyConnect(c), AUTH_FAILED_MESSAGE);
    expect(err.message).toBe('authentication failed');
    expect(server.state).toBe('failed');
    // The daemon does not get an authenticator, so it cannot sign anything for this peer.
    expectSecurityError(() => server.verifyConnect(clone(c)), AUTH_FAILED_MESSAGE);
  });

  it('lets the client detect a daemon with another key that answers anyway', () => {
    // A daemon holding keyB that skips verification and signs its CONNECTOK with its own keys.
    const client = new SharedKeyClient(keyA);
    const rogue = new SharedKeyServer(keyB);
    const { hello, reply, connect: c } = helloThenConnect(client, rogue);
    expectSecurityError(() => rogue.verifyConnect(clone(c)), AUTH_FAILED_MESSAGE);
    // The rogue skips verification and signs CONNECTOK with session keys derived from its own key.
    const nonceOf = (m: Message) => m.annotations!.get(NONCE_ANNOTATION)!.subarray(1);
    const keys = deriveSessionKeys(keyB, nonceOf(hello), nonceOf(reply), 1);
    const forged = connectOk();
    new MessageAuthenticator(keys.serverToClient, keys.clientToServer).sign(forged);
    const err = expectSecurityError(
      () => client.verifyConnectReply(forged),
      /the server could not prove it holds the shared key/,
    );
    expect(err.cause).toBeInstanceOf(SecurityError);
    expect(client.state).toBe('failed');
  });

  it('reports an unkeyed daemon (plain pong) as asymmetric configuration on the client', () => {
    const client = new SharedKeyClient(keyA);
    const hello = ping();
    client.hello(hello);
    expectSecurityError(() => client.acceptHelloReply(pong(hello)), NOT_SYMMETRIC_MESSAGE);
    expect(client.state).toBe('failed');
  });

  it('reports a daemon that refuses a PING before CONNECT (Python Pyro5) as asymmetric configuration', () => {
    const client = new SharedKeyClient(keyA);
    client.hello(ping());
    const fail = connectOk();
    fail.type = MsgType.CONNECTFAIL;
    expectSecurityError(() => client.acceptHelloReply(fail), NOT_SYMMETRIC_MESSAGE);
  });

  it('tells an unkeyed client that the daemon requires a shared key', () => {
    const server = new SharedKeyServer(keyA);
    // An unkeyed client sends CONNECT straight away, without hello or proof.
    expectSecurityError(() => server.verifyConnect(connect()), KEY_REQUIRED_MESSAGE);
    expect(server.state).toBe('failed');
    // A plain PING (no CNON) before CONNECT is not a key exchange; the daemon answers it as Pyro does.
    expect(isKeyExchangeHello(ping())).toBe(false);
  });

  it('refuses a CONNECT replayed on a new connection, with or without the recorded hello', () => {
    const recorded = handshake();
    // Attacker replays the recorded hello and CONNECT to a new connection: the daemon picks a new nonce.
    const server = new SharedKeyServer(keyA);
    const reply = pong(recorded.wire.hello);
    server.answerHello(clone(recorded.wire.hello), reply);
    expect(Buffer.from(reply.annotations!.get(NONCE_ANNOTATION)!)).not.toEqual(
      Buffer.from(recorded.wire.helloReply.annotations!.get(NONCE_ANNOTATION)!),
    );
    expectSecurityError(() => server.verifyConnect(clone(recorded.wire.connect)), AUTH_FAILED_MESSAGE);
    // Without any hello: the proof is there but no nonce was issued.
    const server2 = new SharedKeyServer(keyA);
    expectSecurityError(() => server2.verifyConnect(clone(recorded.wire.connect)), AUTH_FAILED_MESSAGE);
  });

  it('refuses a CONNECT replayed on the same connection after the handshake', () => {
    const s = handshake();
    expectSecurityError(() => s.server.verifyConnect(clone(s.wire.connect)), AUTH_FAILED_MESSAGE);
  });

  it('refuses a CONNECT whose contents were changed in transit', () => {
    const client = new SharedKeyClient(keyA);
    const server = new SharedKeyServer(keyA);
    const { connect: c } = helloThenConnect(client, server, connect('test.thing', { token: 'user' }));
    c.payload = new TextEncoder().encode(
      JSON.stringify({ handshake: { token: 'admin' }, object: 'test.thing' }),
    );
    expectSecurityError(() => server.verifyConnect(c), AUTH_FAILED_MESSAGE);
  });

  it('fails the handshake when a man in the middle changes a nonce', () => {
    const client = new SharedKeyClient(keyA);
    const server = new SharedKeyServer(keyA);
    const hello = ping();
    client.hello(hello);
    const reply = pong(hello);
    server.answerHello(hello, reply);
    const nonce = reply.annotations!.get(NONCE_ANNOTATION)!;
    nonce[5]! ^= 0x01;
    client.acceptHelloReply(reply);
    const c = connect();
    client.signConnect(c);
    expectSecurityError(() => server.verifyConnect(c), AUTH_FAILED_MESSAGE);
  });

  it('refuses messages replayed, reordered, tampered with, from another connection or with a truncated MAC', () => {
    const s = handshake();
    const t = handshake();
    const first = invoke(1);
    const second = invoke(2);
    s.clientAuth.sign(first);
    s.clientAuth.sign(second);

    // Reordered: the second message arrives first.
    const s2 = handshake();
    const a = invoke(1);
    const b = invoke(2);
    s2.clientAuth.sign(a);
    s2.clientAuth.sign(b);
    expectSecurityError(() => s2.serverAuth.verify(clone(b)), 'message authentication failed');
    // After a failure the receiving side stays failed, even for the genuine next message.
    expectSecurityError(() => s2.serverAuth.verify(clone(a)), 'message authentication failed');

    // From another connection with the same key: t's keys differ.
    expectSecurityError(() => t.serverAuth.verify(clone(first)), 'message authentication failed');

    // Replayed within the connection.
    s.serverAuth.verify(clone(first));
    expectSecurityError(() => s.serverAuth.verify(clone(first)), 'message authentication failed');

    // Tampered.
    const u = handshake();
    const m = invoke(1, 'add', [1, 2]);
    u.clientAuth.sign(m);
    const tampered = clone(m);
    tampered.payload[tampered.payload.length - 3]! ^= 0x02;
    expectSecurityError(() => u.serverAuth.verify(tampered), 'message authentication failed');

    // Truncated MAC (the genuine first 16 bytes).
    const v = handshake();
    const n = invoke(1);
    v.clientAuth.sign(n);
    const truncated = clone(n);
    truncated.annotations!.set(MAC_ANNOTATION, truncated.annotations!.get(MAC_ANNOTATION)!.subarray(0, 16));
    expectSecurityError(() => v.serverAuth.verify(truncated), 'message authentication failed');

    // No MAC at all.
    const w = handshake();
    expectSecurityError(() => w.serverAuth.verify(invoke(1)), /not authenticated/);
  });

  it('refuses a server reply replayed to the client from another connection or out of order', () => {
    const s = handshake();
    const t = handshake();
    const r1 = result(1, 'one');
    const r2 = result(2, 'two');
    s.serverAuth.sign(r1);
    s.serverAuth.sign(r2);
    expectSecurityError(() => t.clientAuth.verify(clone(r1)), 'message authentication failed');
    expectSecurityError(() => s.clientAuth.verify(clone(r2)), 'message authentication failed');
    // A client-to-server message reflected back to the client fails: each direction has its own key.
    const u = handshake();
    const call = invoke(1);
    u.clientAuth.sign(call);
    expectSecurityError(() => u.clientAuth.verify(clone(call)), 'message authentication failed');
  });

  it('refuses malformed and repeated key exchanges', () => {
    const server = new SharedKeyServer(keyA);
    const bad = ping();
    bad.annotations = new Map([[NONCE_ANNOTATION, new Uint8Array(20)]]);
    expectSecurityError(() => server.answerHello(bad, pong(bad)), /malformed or unsupported/);

    const future = ping();
    const value = new Uint8Array(33);
    value[0] = 2;
    future.annotations = new Map([[NONCE_ANNOTATION, value]]);
    expectSecurityError(
      () => new SharedKeyServer(keyA).answerHello(future, pong(future)),
      /malformed or unsupported/,
    );

    const twice = new SharedKeyServer(keyA);
    const client = new SharedKeyClient(keyA);
    const hello = ping();
    client.hello(hello);
    twice.answerHello(hello, pong(hello));
    expectSecurityError(() => twice.answerHello(clone(hello), pong(hello)), /repeated key exchange/);

    const c2 = new SharedKeyClient(keyA);
    c2.hello(ping());
    const reply = pong(ping());
    reply.annotations = new Map([[NONCE_ANNOTATION, new Uint8Array(5)]]);
    expectSecurityError(() => c2.acceptHelloReply(reply), /malformed or unsupported nonce/);
  });

  it('enforces the order of the client steps', () => {
    const client = new SharedKeyClient(keyA);
    expectSecurityError(() => client.signConnect(connect()), /signConnect is not allowed in state initial/);
    const other = new SharedKeyClient(keyA);
    expectSecurityError(() => other.hello(connect()), /must be sent on a PING/);
    const third = new SharedKeyClient(keyA);
    third.hello(ping());
    expectSecurityError(() => third.hello(ping()), /hello is not allowed in state hello-sent/);
    // Every error is a typed CinderError subclass with a code.
    const err = expectSecurityError(
      () => new SharedKeyClient(keyA).verifyConnectReply(connectOk()),
      /verifyConnectReply is not allowed in state initial/,
    );
    expect(err).toBeInstanceOf(CinderError);
    expect(err.name).toBe('SecurityError');
  });
});
