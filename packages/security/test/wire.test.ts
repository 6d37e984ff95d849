// The shared-key scheme through the real protocol 502 codec: a bit-flip property on encoded
// frames, compression, and a miniature daemon and proxy on a real TCP socket on 127.0.0.1,
// attacked by a peer replaying a recorded connection byte for byte.

import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { SecurityError } from '@cinder/core';
import { decodeMessage, encodeMessage, FrameReader, type Message, MsgType } from '@cinder/protocol';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AUTH_FAILED_MESSAGE,
  type MessageAuthenticator as Authenticator,
  deriveSessionKeys,
  isKeyExchangeHello,
  KEY_REQUIRED_MESSAGE,
  MessageAuthenticator,
  NOT_SYMMETRIC_MESSAGE,
  parseKey,
  type SharedKey,
  SharedKeyClient,
  SharedKeyServer,
} from '../src/index.js';
import { connect, connectOk, invoke, msg, ping, pong, result } from './messages.js';

const key = parseKey('wire test key, long enough');
const otherKey = parseKey('a different key, same length');
const text = new TextDecoder();

function frame(m: Message, compressAbove = 0): Buffer {
  return Buffer.concat(encodeMessage(m, { version: 502, compressAbove }));
}

describe('CMAC through the 502 codec', () => {
  const keys = deriveSessionKeys(key, randomBytes(32), randomBytes(32), 1);
  const fresh = () => ({
    a: new MessageAuthenticator(keys.clientToServer, keys.serverToClient),
    b: new MessageAuthenticator(keys.serverToClient, keys.clientToServer),
  });

  it('survives compression: the MAC covers the uncompressed payload', () => {
    const { a, b } = fresh();
    const m = invoke(7, 'echo', ['x'.repeat(5000)]);
    a.sign(m);
    const wire = frame(m, 100);
    expect(wire.length).toBeLessThan(1000);
    const decoded = decodeMessage(wire, { versions: [502] });
    b.verify(decoded);
    expect(text.decode(decoded.payload)).toContain('xxxx');
  });

  it('property: a single-bit change anywhere in a frame is refused, or changes nothing the receiver sees', () => {
    // Bits the 502 decoder ignores: the reserved header field, wire flag 0x8000 and the correlation
    // id area when the CORR_ID flag is clear. Flipping them yields the very same decoded message.
    // Bit numbers count from the most significant bit of byte 0.
    const ignorable = (pos: number, hasCorr: boolean) =>
      (pos >= 36 * 8 && pos < 38 * 8) || pos === 8 * 8 || (!hasCorr && pos >= 20 * 8 && pos < 36 * 8);
    fc.assert(
      fc.property(
        fc.record({
          type: fc.integer({ min: 1, max: 6 }),
          flags: fc.constantFrom(0, 0x01, 0x04, 0x08, 0x10, 0x20),
          seq: fc.integer({ min: 0, max: 0xffff }),
          serializerId: fc.constantFrom(1, 2, 3, 4, 16, 42),
          corr: fc.boolean(),
          annotations: fc.uniqueArray(
            fc.tuple(fc.stringMatching(/^[A-Z]{4}$/), fc.uint8Array({ maxLength: 24 })),
            {
              selector: ([id]) => id,
              maxLength: 3,
            },
          ),
          payload: fc.uint8Array({ maxLength: 300 }),
        }),
        fc.nat(),
        (f, pick) => {
          const { a, b } = fresh();
          const m = msg(f.type, {
            flags: f.flags,
            seq: f.seq,
            serializerId: f.serializerId,
            correlationId: f.corr ? randomBytes(16) : null,
            annotations: f.annotations.length ? new Map(f.annotations) : null,
            payload: f.payload,
          });
          a.sign(m);
          const wire = frame(m);
          const original = decodeMessage(Buffer.from(wire), { versions: [502] });
          const pos = pick % (wire.length * 8);
          wire[pos >> 3]! ^= 0x80 >> (pos & 7);
          let decoded: Message;
          try {
            decoded = decodeMessage(wire, { versions: [502] });
          } catch {
            return true; // refused by the codec
          }
          let refused = false;
          try {
            b.verify(decoded);
          } catch (err) {
            expect(err).toBeInstanceOf(SecurityError);
            refused = true;
          }
          if (!refused) {
            expect(ignorable(pos, f.corr), `bit ${pos} accepted`).toBe(true);
            original.annotations?.delete('CMAC');
            expect(decoded).toEqual(original);
          }
          return true;
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// A miniature daemon and proxy: just enough of the real ones to run the handshake and calls.

interface Daemon {
  port: number;
  calls: number;
  failures: string[];
}

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  servers.length = 0;
});

function write(socket: Socket, m: Message): void {
  for (const chunk of encodeMessage(m, { version: 502 })) socket.write(chunk);
}

function connectFail(seq: number, reason: string): Message {
  return msg(MsgType.CONNECTFAIL, { seq, payload: new TextEncoder().encode(JSON.stringify(reason)) });
}

async function startDaemon(daemonKey: SharedKey | null): Promise<Daemon> {
  const daemon: Daemon = { port: 0, calls: 0, failures: [] };
  const server = createServer((socket) => {
    sockets.push(socket);
    const reader = new FrameReader({ maxMessageSize: 1 << 20, versions: [502] });
    const handshake = daemonKey ? new SharedKeyServer(daemonKey) : null;
    let session: Authenticator | null = null;
    let connected = false;
    // One chunk may hold more frames than the failed CONNECT: nothing after it may be processed.
    let rejected = false;
    const send = (m: Message) => {
      session?.sign(m);
      write(socket, m);
    };
    const onMessage = (m: Message) => {
      if (rejected) return;
      if (!connected) {
        if (m.type === MsgType.PING) {
          const reply = pong(m);
          if (handshake && isKeyExchangeHello(m)) handshake.answerHello(m, reply);
          send(reply);
          return;
        }
        if (m.type !== MsgType.CONNECT) throw new Error('expected CONNECT');
        if (handshake) {
          try {
            session = handshake.verifyConnect(m);
          } catch (err) {
            rejected = true;
            daemon.failures.push((err as Error).message);
            write(socket, connectFail(m.seq, (err as Error).message));
            socket.end();
            return;
          }
        }
        connected = true;
        send(connectOk(m.seq));
        return;
      }
      session?.verify(m);
      if (m.type === MsgType.INVOKE) {
        daemon.calls++;
        const call = JSON.parse(text.decode(m.payload)) as { params: number[] };
        send(
          result(
            m.seq,
            call.params.reduce((x, y) => x + y, 0),
          ),
        );
      }
    };
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk, onMessage);
      } catch (err) {
        daemon.failures.push((err as Error).message);
        socket.destroy();
      }
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  daemon.port = (server.address() as { port: number }).port;
  return daemon;
}

/** A connection that hands out received messages in order, and records every byte it sent. */
async function open(port: number) {
  const socket = createConnection({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reader = new FrameReader({ maxMessageSize: 1 << 20, versions: [502] });
  const inbox: Message[] = [];
  const waiting: Array<(m: Message | null) => void> = [];
  const sent: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk) =>
    reader.push(chunk, (m) => {
      const w = waiting.shift();
      if (w) w(m);
      else inbox.push(m);
    }),
  );
  socket.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w(null);
  });
  return {
    sent,
    send(m: Message) {
      const bytes = Buffer.concat(encodeMessage(m, { version: 502 }));
      sent.push(bytes);
      socket.write(bytes);
    },
    writeRaw(bytes: Buffer) {
      socket.write(bytes);
    },
    /** The next message, or null once the connection closed. Bounded by 3 s. */
    next(): Promise<Message | null> {
      const m = inbox.shift();
      if (m) return Promise.resolve(m);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 3 s')), 3000);
        waiting.push((x) => {
          clearTimeout(timer);
          resolve(x);
        });
      });
    },
  };
}

/** The proxy side: handshake (keyed or not), then `add` calls. */
async function proxyAdd(port: number, proxyKey: SharedKey | null, calls: number[][]) {
  const conn = await open(port);
  let session: Authenticator | null = null;
  const c = connect();
  if (proxyKey) {
    const handshake = new SharedKeyClient(proxyKey);
    const hello = ping();
    handshake.hello(hello);
    conn.send(hello);
    handshake.acceptHelloReply((await conn.next())!);
    handshake.signConnect(c);
    conn.send(c);
    const reply = (await conn.next())!;
    if (reply.type === MsgType.CONNECTFAIL)
      throw new Error(`rejected: ${JSON.parse(text.decode(reply.payload))}`);
    session = handshake.verifyConnectReply(reply);
  } else {
    conn.send(c);
    const reply = (await conn.next())!;
    if (reply.type === MsgType.CONNECTFAIL)
      throw new Error(`rejected: ${JSON.parse(text.decode(reply.payload))}`);
  }
  const results: unknown[] = [];
  let seq = 0;
  for (const params of calls) {
    const call = invoke(++seq, 'add', params);
    session?.sign(call);
    conn.send(call);
    const reply = (await conn.next())!;
    session?.verify(reply);
    results.push(JSON.parse(text.decode(reply.payload)));
  }
  return { results, sent: conn.sent };
}

describe('shared-key handshake over TCP on 127.0.0.1', () => {
  it('runs authenticated calls between keyed peers', async () => {
    const daemon = await startDaemon(key);
    const { results } = await proxyAdd(daemon.port, key, [
      [1, 2],
      [40, 2],
      [5, 5, 5],
    ]);
    expect(results).toEqual([3, 42, 15]);
    expect(daemon.calls).toBe(3);
    expect(daemon.failures).toEqual([]);
  });

  it('refuses a recorded connection replayed byte for byte; nothing is called', async () => {
    const daemon = await startDaemon(key);
    const { sent } = await proxyAdd(daemon.port, key, [[1, 2]]);
    expect(daemon.calls).toBe(1);
    const attacker = await open(daemon.port);
    attacker.writeRaw(Buffer.concat(sent));
    const answer = await attacker.next();
    expect(answer?.type).toBe(MsgType.PING); // a fresh nonce, useless to a replayer
    const fail = await attacker.next();
    expect(fail?.type).toBe(MsgType.CONNECTFAIL);
    expect(JSON.parse(text.decode(fail!.payload))).toBe(AUTH_FAILED_MESSAGE);
    expect(await attacker.next()).toBeNull();
    expect(daemon.calls).toBe(1);
    expect(daemon.failures).toEqual([AUTH_FAILED_MESSAGE]);
  });

  it('refuses a proxy with another key, a proxy without key, and a keyed proxy meets an unkeyed daemon', async () => {
    const daemon = await startDaemon(key);
    await expect(proxyAdd(daemon.port, otherKey, [[1, 1]])).rejects.toThrow(
      `rejected: ${AUTH_FAILED_MESSAGE}`,
    );
    await expect(proxyAdd(daemon.port, null, [[1, 1]])).rejects.toThrow(`rejected: ${KEY_REQUIRED_MESSAGE}`);
    expect(daemon.calls).toBe(0);

    const open_ = await startDaemon(null);
    await expect(proxyAdd(open_.port, key, [[1, 1]])).rejects.toThrow(NOT_SYMMETRIC_MESSAGE);
    expect(open_.calls).toBe(0);
    // The unkeyed pair still works, as with Pyro.
    expect((await proxyAdd(open_.port, null, [[2, 3]])).results).toEqual([5]);
  });
});
