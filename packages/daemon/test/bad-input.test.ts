// Bad input, from a raw socket playing the misbehaving client, while a well-behaved client (made of
// the engine alone: engine-client.ts) on the same daemon keeps working: garbage bytes, oversize
// frames, a wrong protocol version, INVOKE before CONNECT, unknown objects and serializers, refused
// names, wrong arguments, a client that says nothing, and the connection limits. Early failures are
// CONNECTFAILs in marshal, like Pyro's.

import { connect as connectSocket } from 'node:net';
import { CommunicationError, ConnectionClosedError, type RemoteError } from '@cinder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, expose, params } from '../src/index.js';
import { type EngineClient, openClient } from './engine-client.js';
import {
  connectMessage,
  Flags,
  failureText,
  frame,
  invokeMessage,
  json,
  MsgType,
  marshal,
  RawClient,
  rawInvoke,
  rawSession,
} from './helpers.js';

@expose
class Calc {
  add(a: number, b: number): number {
    return a + b;
  }

  @params('a', 'b')
  pair(a: number, b: number): [number, number] {
    return [a, b];
  }

  @params('a', '**rest')
  rest(a: number, rest: Record<string, unknown>): unknown {
    return { a, rest };
  }

  _private(): string {
    return 'never';
  }

  length(data: Uint8Array): number {
    return data.length;
  }
}

const MAX = 10_000;
let daemon: Daemon;
let good: EngineClient;

beforeAll(async () => {
  daemon = await Daemon.start({ config: { maxMessageSize: MAX, handshakeTimeoutMs: 400 } });
  daemon.register(new Calc(), 'calc');
  good = await openClient(daemon.uriFor('calc'));
  expect(await good.call('add', [1, 2])).toBe(3);
});

afterAll(async () => {
  await good?.close();
  await daemon?.close({ graceMs: 0 });
});

/** The normal client is unaffected: same connection, still answering. */
async function goodClientStillWorks(): Promise<void> {
  expect(good.connected).toBe(true);
  const results = await Promise.all([good.call('add', [20, 22]), good.call('add', [1, 1])]);
  expect(results).toEqual([42, 2]);
}

/** Expects a CONNECTFAIL whose text matches, then the daemon closing the socket. */
async function expectConnectFail(raw: RawClient, text: RegExp, serializerId: number): Promise<void> {
  const reply = await raw.next();
  expect(reply.type).toBe(MsgType.CONNECTFAIL);
  expect(reply.serializerId).toBe(serializerId);
  expect(failureText(reply)).toMatch(text);
  expect(await raw.closesWithin(2000)).toBe(true);
}

describe('before the handshake', () => {
  it('garbage bytes: CONNECTFAIL "invalid data" in marshal, then closed', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    await expectConnectFail(raw, /^invalid data$/, marshal.id);
    await goodClientStillWorks();
  });

  it('a wrong protocol version: CONNECTFAIL naming it', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    const bytes = frame(connectMessage(json, 'calc'));
    bytes.writeUInt16BE(501, 4);
    raw.write(bytes);
    await expectConnectFail(raw, /^invalid protocol version: 501$/, marshal.id);
    await goodClientStillWorks();
  });

  it('a bad magic number: CONNECTFAIL', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    const bytes = frame(connectMessage(json, 'calc'));
    bytes.writeUInt16BE(0x1234, 38);
    raw.write(bytes);
    await expectConnectFail(raw, /invalid message or protocol version/, marshal.id);
    await goodClientStillWorks();
  });

  it('an oversize CONNECT: CONNECTFAIL "message too large", refused from the header alone', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    const big = connectMessage(json, 'calc', { handshake: 'x'.repeat(20_000) });
    const bytes = frame(big);
    // only the header and a little of the body: the daemon must not wait for the rest
    raw.write(bytes.subarray(0, 60));
    await expectConnectFail(raw, new RegExp(`^message too large \\(\\d+, max=${MAX}\\)$`), marshal.id);
    await goodClientStillWorks();
  });

  it('INVOKE before CONNECT: CONNECTFAIL "invalid msg type 4 received (expected: 1)"', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.send(invokeMessage(json, 'calc', 'add', [1, 2]));
    await expectConnectFail(raw, /^invalid msg type 4 received \(expected: 1\)$/, marshal.id);
    await goodClientStillWorks();
  });

  it('CONNECT for an unknown object: CONNECTFAIL "unknown object" in the client\'s serializer', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.send(connectMessage(json, 'no.such.object'));
    await expectConnectFail(raw, /^unknown object$/, json.id);
    await goodClientStillWorks();
  });

  it('CONNECT without an object id: CONNECTFAIL', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.send({ ...connectMessage(json, 'calc'), payload: json.encode({ handshake: 'hello' }) });
    await expectConnectFail(raw, /object/, json.id);
    await goodClientStillWorks();
  });

  it('CONNECT with an unknown serializer id: dropped without a reply', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.send({ ...connectMessage(json, 'calc'), serializerId: 99 });
    expect(await raw.closesWithin(2000)).toBe(true);
    expect(raw.received).toEqual([]);
    await goodClientStillWorks();
  });

  it('CONNECT with a payload that does not decode: CONNECTFAIL', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    raw.send({ ...connectMessage(json, 'calc'), payload: Buffer.from('{not json') });
    const reply = await raw.next();
    expect(reply.type).toBe(MsgType.CONNECTFAIL);
    expect(failureText(reply).length).toBeGreaterThan(0);
    expect(await raw.closesWithin(2000)).toBe(true);
    await goodClientStillWorks();
  });

  it('a client that connects and says nothing is dropped after handshakeTimeoutMs', async () => {
    const raw = await RawClient.open(daemon.endpoint);
    const t0 = performance.now();
    expect(await raw.closesWithin(3000)).toBe(true);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(300);
    expect(waited).toBeLessThan(2500);
    await goodClientStillWorks();
  });

  it('a connection dropped by the handshake timeout frees its place as the client sees the FIN', async () => {
    const before = daemon.connectionCount;
    const socket = connectSocket(daemon.endpoint as { host: string; port: number });
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(before + 1);
    // read in the loop turn the daemon closed it in, before the socket's close event: a client
    // connecting right behind the FIN must not find the dropped connection still counted
    const countAtEnd = await new Promise<number>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('end', () => resolve(daemon.connectionCount));
      socket.resume();
    });
    socket.destroy();
    expect(countAtEnd).toBe(before);
    await goodClientStillWorks();
  });

  it('a client that sends half a frame and hangs up leaves nothing behind', async () => {
    const before = daemon.connectionCount;
    const raw = await RawClient.open(daemon.endpoint);
    raw.write(frame(connectMessage(json, 'calc')).subarray(0, 30));
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(before + 1);
    raw.destroy();
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(before);
    await goodClientStillWorks();
  });
});

describe('after the handshake', () => {
  it('an oversize INVOKE closes that connection (raw client and engine client); others go on', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    raw.write(frame(invokeMessage(json, 'calc', 'length', ['y'.repeat(MAX * 2)])).subarray(0, 100));
    expect(await raw.closesWithin(2000)).toBe(true);
    await goodClientStillWorks();
    await using victim = await openClient(daemon.uriFor('calc'));
    expect(await victim.call('add', [1, 1])).toBe(2);
    const err = await victim.call('length', [new Uint8Array(MAX * 2)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toMatch(/call length/);
    await goodClientStillWorks();
  });

  it('garbage after a good handshake closes that connection', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    raw.write(Buffer.alloc(64, 0xee));
    expect(await raw.closesWithin(2000)).toBe(true);
    await goodClientStillWorks();
  });

  it('an INVOKE in an unknown serializer closes that connection', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    raw.send({ ...invokeMessage(json, 'calc', 'add', [1, 2]), serializerId: 77 });
    expect(await raw.closesWithin(2000)).toBe(true);
    await goodClientStillWorks();
  });

  it('an INVOKE whose payload does not decode gets an exception reply', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    try {
      raw.send({ ...invokeMessage(json, 'calc', 'add', [1, 2]), payload: Buffer.from('[1, 2') });
      const reply = await raw.next();
      expect(reply.type).toBe(MsgType.RESULT);
      expect(reply.flags & Flags.EXCEPTION).toBe(Flags.EXCEPTION);
      await goodClientStillWorks();
      const ok = await rawInvoke(raw, 'calc', 'add', [2, 3], {}, 9);
      expect(ok.value).toBe(5);
    } finally {
      raw.destroy();
    }
  });

  it('a second CONNECT after the handshake closes that connection', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    raw.send(connectMessage(json, 'calc'));
    expect(await raw.closesWithin(2000)).toBe(true);
    await goodClientStillWorks();
  });

  it('unknown objects, private and unexposed names: exception replies, connection kept', async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    try {
      const unknown = await rawInvoke(raw, 'nobody', 'add', [1, 2], {}, 1);
      expect(unknown.exception).toBe(true);
      expect((unknown.value as Error).name).toBe('DaemonError');
      expect((unknown.value as Error).message).toBe('unknown object');
      const priv = await rawInvoke(raw, 'calc', '_private', [], {}, 2);
      expect((priv.value as RemoteError).remoteMessage).toBe(
        "attempt to access private attribute '_private'",
      );
      const missing = await rawInvoke(raw, 'calc', 'sub', [], {}, 3);
      expect((missing.value as RemoteError).remoteMessage).toBe("'Calc' object has no attribute 'sub'");
      await goodClientStillWorks();
      expect((await rawInvoke(raw, 'calc', 'add', [1, 2], {}, 4)).value).toBe(3);
    } finally {
      raw.destroy();
    }
  });

  it("wrong arguments for a @params method: TypeError with Python's wording", async () => {
    const raw = await rawSession(daemon.endpoint, 'calc');
    try {
      const cases: [unknown[], Record<string, unknown>, string][] = [
        [[1, 2, 3], {}, 'pair() takes 2 positional arguments but 3 were given'],
        [[1, 2, 3], { x: 1 }, 'pair() takes 2 positional arguments but 3 were given'],
        [[1], { c: 3 }, "pair() got an unexpected keyword argument 'c'"],
        [[1], { a: 3 }, "pair() got multiple values for argument 'a'"],
        [[1, 2], { a: 3 }, "pair() got multiple values for argument 'a'"],
      ];
      let seq = 0;
      for (const [args, kwargs, text] of cases) {
        const r = await rawInvoke(raw, 'calc', 'pair', args, kwargs, ++seq);
        expect(r.exception).toBe(true);
        expect(r.value).toBeInstanceOf(TypeError);
        expect((r.value as Error).message).toBe(text);
      }
      expect((await rawInvoke(raw, 'calc', 'pair', [1], { b: 2 }, ++seq)).value).toEqual([1, 2]);
      const extra = await rawInvoke(raw, 'calc', 'rest', [1, 2], {}, ++seq);
      expect((extra.value as Error).message).toBe('rest() takes 1 positional argument but 2 were given');
      expect((await rawInvoke(raw, 'calc', 'rest', [1], {}, ++seq)).value).toEqual({ a: 1, rest: {} });
      expect((await rawInvoke(raw, 'calc', 'rest', [1], { z: 2 }, ++seq)).value).toEqual({
        a: 1,
        rest: { z: 2 },
      });
      await goodClientStillWorks();
    } finally {
      raw.destroy();
    }
  });

  it('a client gets the same TypeError for wrong keyword arguments', async () => {
    const err = await good.call('pair', [1], { kwargs: { nope: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("pair() got an unexpected keyword argument 'nope'");
    await goodClientStillWorks();
  });
});

// The refusal texts name the limit; the exact wording is the daemon's (Pyro has no such limits).
describe('connection limits', () => {
  it('maxConnections: the next client gets CONNECTFAIL "too many connections"', async () => {
    await using limited = await Daemon.start({ config: { maxConnections: 2 } });
    const uri = limited.register(new Calc(), 'calc');
    await using a = await openClient(uri);
    await using b = await openClient(uri);
    expect(await a.call('add', [1, 1])).toBe(2);
    expect(await b.call('add', [1, 1])).toBe(2);
    const err = await openClient(uri).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(/rejected: (too many connections|.*\(maxConnections=2\))$/);
    // the refused connection is closed and its slot is free again; the others work
    await expect.poll(() => limited.connectionCount, { timeout: 2000 }).toBe(2);
    expect(await a.call('add', [2, 2])).toBe(4);
    await b.close();
    await expect.poll(() => limited.connectionCount, { timeout: 2000 }).toBe(1);
    await using c = await openClient(uri);
    expect(await c.call('add', [3, 3])).toBe(6);
  });

  it('maxConnectionsPerClient: counted per client address', async () => {
    await using limited = await Daemon.start({ config: { maxConnectionsPerClient: 2 } });
    const uri = limited.register(new Calc(), 'calc');
    await using a = await openClient(uri);
    await using b = await openClient(uri);
    expect(await a.call('add', [1, 1])).toBe(2);
    expect(await b.call('add', [1, 1])).toBe(2);
    await expect(openClient(uri)).rejects.toThrow(
      /rejected: (too many connections from this address|.*\(maxConnectionsPerClient=2\))$/,
    );
    // another loopback address is another client
    const fromElsewhere = await RawClient.open(limited.endpoint, '127.0.0.2');
    try {
      fromElsewhere.send(connectMessage(json, 'calc'));
      expect((await fromElsewhere.next()).type).toBe(MsgType.CONNECTOK);
    } finally {
      fromElsewhere.destroy();
    }
    expect(await a.call('add', [2, 2])).toBe(4);
  });
});
