// Batch authentication on the Message model: negotiation at the key hello, round trips, and every
// change to a batch on its way (tampering, reordering, truncation, replay, injection, overlong
// batches, malformed trailers) refused before any of its messages is handed out.
import { SecurityError } from '@cinder/core';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import { describe, expect, it } from 'vitest';
import {
  BATCH_ANNOTATION,
  BATCH_OFFER_ANNOTATION,
  type BatchAuthenticator,
  isBatchTrailer,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  type MessageAuthenticator,
  parseKey,
  SharedKeyClient,
  SharedKeyServer,
} from '../src/index.js';
import { clone, connect, connectOk, invoke, msg, ping, pong, result } from './messages.js';

const key = parseKey('correct horse battery staple 2024');

/** A whole handshake; `offer`/`answer` may rewrite the hello and its reply on the "wire". */
function handshake(
  offer: (hello: Message) => void = () => {},
  answer: (reply: Message) => void = () => {},
): { client: MessageAuthenticator; server: MessageAuthenticator } {
  const client = new SharedKeyClient(key);
  const server = new SharedKeyServer(key);
  const hello = ping();
  client.hello(hello);
  offer(hello);
  const reply = pong(hello);
  server.answerHello(hello, reply);
  answer(reply);
  client.acceptHelloReply(reply);
  const c = connect();
  client.signConnect(c);
  const serverAuth = server.verifyConnect(c);
  const ok = connectOk();
  serverAuth.sign(ok);
  return { client: client.verifyConnectReply(ok), server: serverAuth };
}

function pair(): { client: BatchAuthenticator; server: BatchAuthenticator } {
  const { client, server } = handshake();
  expect(client.batches).not.toBeNull();
  expect(server.batches).not.toBeNull();
  return { client: client.batches!, server: server.batches! };
}

/** Sends `messages` as one batch: the frames on the wire, copies as the peer would decode them. */
function send(from: BatchAuthenticator, messages: Message[]): Message[] {
  const wire: Message[] = [];
  for (const m of messages) {
    const full = from.sealIfFull();
    if (full) wire.push(full);
    wire.push(clone(m));
    from.add(m);
  }
  const trailer = from.seal();
  if (trailer) wire.push(trailer);
  return wire;
}

/** What `to` hands out for `wire`, batch by batch. */
function receive(to: BatchAuthenticator, wire: Message[]): Message[][] {
  const out: Message[][] = [];
  for (const m of wire) {
    const batch = to.receive(m);
    if (batch) out.push(batch);
  }
  return out;
}

function refused(fn: () => unknown, text: RegExp): void {
  expect(fn).toThrow(SecurityError);
  expect(fn).toThrow(text); // the failure sticks
}

describe('negotiation', () => {
  it('the client offers batch scheme 1 on the hello; a daemon that knows it answers so', () => {
    let offered: Uint8Array | undefined;
    let chosen: Uint8Array | undefined;
    handshake(
      (hello) => {
        offered = hello.annotations?.get(BATCH_OFFER_ANNOTATION);
      },
      (reply) => {
        chosen = reply.annotations?.get(BATCH_OFFER_ANNOTATION);
      },
    );
    expect([...offered!]).toEqual([1]);
    expect([...chosen!]).toEqual([1]);
  });

  it('without the offer (an older client, or one stripped on the way) both sign every message', () => {
    const { client, server } = handshake((hello) => hello.annotations!.delete(BATCH_OFFER_ANNOTATION));
    expect(client.batches).toBeNull();
    expect(server.batches).toBeNull();
    const call = invoke(1);
    client.sign(call);
    server.verify(clone(call));
  });

  it('an unknown scheme offered is ignored; a scheme the client did not offer is refused', () => {
    const { client, server } = handshake((hello) =>
      hello.annotations!.set(BATCH_OFFER_ANNOTATION, Uint8Array.of(7, 9)),
    );
    expect(server.batches).toBeNull();
    expect(client.batches).toBeNull();
    expect(() =>
      handshake(
        () => {},
        (reply) => reply.annotations!.set(BATCH_OFFER_ANNOTATION, Uint8Array.of(2)),
      ),
    ).toThrow(/batch authentication scheme it was not offered/);
  });

  it('an answer added on the way (the daemon did not choose batches) makes the first batch fail', () => {
    const { client, server } = handshake(
      (hello) => hello.annotations!.delete(BATCH_OFFER_ANNOTATION),
      (reply) => reply.annotations!.set(BATCH_OFFER_ANNOTATION, Uint8Array.of(1)),
    );
    expect(client.batches).not.toBeNull();
    expect(server.batches).toBeNull();
    const [call, trailer] = send(client.batches!, [invoke(1)]);
    expect(() => server.verify(call!)).toThrow(SecurityError);
    expect(isBatchTrailer(trailer!)).toBe(true);
  });
});

describe('batches', () => {
  it('carries batches both ways; messages are handed out only with their trailer, in order', () => {
    const { client, server } = pair();
    for (let round = 0; round < 5; round++) {
      const calls = Array.from({ length: round + 1 }, (_, i) => invoke(round * 10 + i, 'add', [i, round]));
      const wire = send(client, calls);
      expect(wire).toHaveLength(calls.length + 1);
      for (const m of wire.slice(0, -1)) expect(server.receive(m)).toBeNull();
      const batch = server.receive(wire.at(-1)!)!;
      expect(batch.map((m) => m.seq)).toEqual(calls.map((m) => m.seq));
      const replies = calls.map((c) => result(c.seq, c.seq));
      expect(receive(client, send(server, replies))[0]!.map((m) => m.seq)).toEqual(calls.map((m) => m.seq));
    }
    expect(client.sealed).toBe(5);
    expect(server.verified).toBe(5);
  });

  it('the trailer is a oneway PING with the MAC as its only annotation; nothing to seal gives none', () => {
    const { client } = pair();
    expect(client.seal()).toBeNull();
    const [, trailer] = send(client, [invoke(1)]);
    expect(trailer!.type).toBe(MsgType.PING);
    expect(trailer!.flags).toBe(Flags.ONEWAY);
    expect([...trailer!.annotations!.keys()]).toEqual([BATCH_ANNOTATION]);
    expect(trailer!.annotations!.get(BATCH_ANNOTATION)).toHaveLength(32);
    expect(trailer!.payload).toHaveLength(0);
  });

  it('a payload tail is MACed as part of the payload; large values are hashed in place', () => {
    const { client, server } = pair();
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const sent = msg(MsgType.INVOKE, {
      seq: 3,
      payload: big.subarray(0, 10),
      payloadTail: [big.subarray(10, 50_000), big.subarray(50_000)],
      annotations: new Map([['XTRA', new Uint8Array(5000).fill(1)]]),
    });
    const wire = send(client, [sent, invoke(4)]);
    // the receiver sees one payload, as a codec decodes it
    wire[0] = { ...wire[0]!, payload: big.slice(), payloadTail: undefined };
    const [batch] = receive(server, wire);
    expect(batch!.map((m) => m.seq)).toEqual([3, 4]);
  });

  it('refuses a tampered message, and nothing of its batch is handed out', () => {
    const { client, server } = pair();
    const wire = send(client, [invoke(1, 'add', [1, 2]), invoke(2, 'add', [3, 4])]);
    wire[1]!.payload[wire[1]!.payload.length - 3]! ^= 1;
    expect(server.receive(wire[0]!)).toBeNull();
    expect(server.receive(wire[1]!)).toBeNull();
    refused(() => server.receive(wire[2]!), /batch authentication failed/);
    expect(server.failed).toBe(true);
    refused(() => server.receive(invoke(9)), /batch authentication failed/);
  });

  it('refuses header fields changed on the way: flags, seq, serializer, correlation id, annotations', () => {
    const changes: ((m: Message) => void)[] = [
      (m) => {
        m.flags ^= Flags.ONEWAY;
      },
      (m) => {
        m.seq++;
      },
      (m) => {
        m.serializerId++;
      },
      (m) => {
        m.correlationId = new Uint8Array(16);
      },
      (m) => {
        m.annotations = new Map([['XTRA', new Uint8Array(1)]]);
      },
    ];
    for (const change of changes) {
      const { client, server } = pair();
      const wire = send(client, [invoke(1)]);
      change(wire[0]!);
      refused(() => receive(server, wire), /batch authentication failed/);
    }
  });

  it('refuses two messages of a batch swapped', () => {
    const { client, server } = pair();
    const wire = send(client, [invoke(1), invoke(2)]);
    refused(() => receive(server, [wire[1]!, wire[0]!, wire[2]!]), /batch authentication failed/);
  });

  it('refuses a batch cut short, with or without its trailer', () => {
    const a = pair();
    const wire = send(a.client, [invoke(1), invoke(2)]);
    refused(() => receive(a.server, [wire[0]!, wire[2]!]), /batch authentication failed/);
    // the trailer dropped: nothing is handed out, and the next batch cannot verify
    const b = pair();
    const first = send(b.client, [invoke(1)]);
    const second = send(b.client, [invoke(2)]);
    expect(b.server.receive(first[0]!)).toBeNull();
    expect(b.server.receive(second[0]!)).toBeNull();
    refused(() => b.server.receive(second[1]!), /batch authentication failed/);
  });

  it('refuses a batch replayed, or the batches swapped', () => {
    const a = pair();
    const wire = send(a.client, [invoke(1)]);
    expect(receive(a.server, wire.map(clone))).toHaveLength(1);
    refused(() => receive(a.server, wire), /batch authentication failed/);
    const b = pair();
    const first = send(b.client, [invoke(1)]);
    const second = send(b.client, [invoke(2)]);
    refused(() => receive(b.server, [...second, ...first]), /batch authentication failed/);
  });

  it("refuses a batch sent back to its sender, or to another connection's peer", () => {
    const a = pair();
    const wire = send(a.client, [invoke(1)]);
    refused(() => receive(a.client, wire.map(clone)), /batch authentication failed/);
    const other = pair();
    refused(() => receive(other.server, wire), /batch authentication failed/);
  });

  it('refuses a frame injected between two batches', () => {
    const { client, server } = pair();
    const first = send(client, [invoke(1)]);
    const second = send(client, [invoke(2)]);
    expect(receive(server, first)).toHaveLength(1);
    expect(server.receive(invoke(66, 'transfer', [1000]))).toBeNull();
    refused(() => receive(server, second), /batch authentication failed/);
  });

  it('refuses malformed trailers and a trailer without a batch', () => {
    const forms: ((t: Message) => void)[] = [
      (t) => {
        t.flags = 0;
      },
      (t) => {
        t.seq = 1;
      },
      (t) => {
        t.payload = new Uint8Array(1);
      },
      (t) => {
        t.annotations!.set('XTRA', new Uint8Array(1));
      },
      (t) => {
        t.annotations!.set(BATCH_ANNOTATION, t.annotations!.get(BATCH_ANNOTATION)!.subarray(0, 16));
      },
    ];
    for (const form of forms) {
      const { client, server } = pair();
      const wire = send(client, [invoke(1)]);
      form(wire[1]!);
      refused(() => receive(server, wire), /malformed batch trailer/);
    }
    const { client, server } = pair();
    const [, trailer] = send(client, [invoke(1)]);
    refused(() => server.receive(trailer!), /trailer without a batch/);
  });

  it(`seals a batch at ${MAX_BATCH_MESSAGES} messages; a receiver refuses a longer one`, () => {
    const { client, server } = pair();
    const calls = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, i) => invoke(i & 0xffff));
    const wire = send(client, calls);
    expect(wire.filter(isBatchTrailer)).toHaveLength(2);
    expect(isBatchTrailer(wire[MAX_BATCH_MESSAGES]!)).toBe(true);
    expect(receive(server, wire).map((b) => b.length)).toEqual([MAX_BATCH_MESSAGES, 1]);
    // an attacker's endless batch is refused at the first message beyond the bound
    const other = pair().server;
    for (let i = 0; i < MAX_BATCH_MESSAGES; i++) expect(other.receive(invoke(i))).toBeNull();
    refused(() => other.receive(invoke(0)), /batch not sealed after 1024 messages/);
  });

  it(`seals a batch once it covers ${MAX_BATCH_BYTES} bytes; one large message may follow`, () => {
    const { client, server } = pair();
    const large = () => msg(MsgType.INVOKE, { payload: new Uint8Array(MAX_BATCH_BYTES / 2) });
    const wire = send(client, [large(), large(), large()]);
    // the first two reach the bound together, so the third starts a new batch
    expect(wire.map((m) => (isBatchTrailer(m) ? 'T' : 'M')).join('')).toBe('MMTMT');
    expect(receive(server, wire).map((b) => b.length)).toEqual([2, 1]);
    const other = pair().server;
    expect(other.receive(large())).toBeNull();
    expect(other.receive(large())).toBeNull();
    refused(() => other.receive(invoke(1)), /batch not sealed/);
  });
});
