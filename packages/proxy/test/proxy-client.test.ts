// The proxy on its own, against a scripted fake daemon on a loopback socket (the daemon package sits
// above this one): proxy hygiene (never a promise, prints sensibly, refuses assignment), lazy
// connect, handshake outcomes (CONNECTFAIL, empty metadata, refused port) and calls that can never
// hang (peer closes mid-call, reply out of sequence, no reply at all).
import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { CommunicationError, ConnectionClosedError, TimeoutError } from '@cinder/core';
import { encodeMessage, Flags, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { createSerializers } from '@cinder/serializers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, isProxy } from '../src/index.js';

const cbor = createSerializers({ dialect: 5 }).byName('cbor')!;

type Script = (message: Message, socket: Socket, reply: (m: Partial<Message>) => void) => void;

interface FakeDaemon {
  uri: string;
  connections: number;
  received: Message[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const META = { methods: ['add', 'slow'], oneway: ['note'], attrs: ['value'] };

/** Answers CONNECT with CONNECTOK (Pyro-style: no Cinder capabilities) unless the script says otherwise. */
async function fakeDaemon(script: Script, onConnect?: Script): Promise<FakeDaemon> {
  const state = { connections: 0, received: [] as Message[] };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader({ maxMessageSize: 1 << 20, versions: [502] });
    const reply = (m: Partial<Message>) => {
      const full: Message = {
        type: MsgType.RESULT,
        flags: 0,
        seq: 0,
        serializerId: cbor.id,
        correlationId: null,
        annotations: null,
        payload: cbor.encode(null),
        ...m,
      };
      if (!socket.destroyed) socket.write(Buffer.concat(encodeMessage(full, { version: 502 })));
    };
    socket.on('data', (chunk) => {
      reader.push(chunk, (message) => {
        state.received.push(message);
        if (message.type === MsgType.CONNECT) {
          if (onConnect) onConnect(message, socket, reply);
          else
            reply({
              type: MsgType.CONNECTOK,
              seq: message.seq,
              payload: cbor.encode({ handshake: 'hello', meta: META }),
            });
        } else {
          script(message, socket, reply);
        }
      });
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    uri: `PYRO:thing@127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    received: state.received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Replies to every INVOKE with the sum of its params. */
const adder: Script = (message, _socket, reply) => {
  if (message.type !== MsgType.INVOKE) return;
  const call = cbor.decodeCall(message.payload);
  const sum = (call.params as number[]).reduce((a, b) => a + b, 0);
  reply({ seq: message.seq, payload: cbor.encode(sum) });
};

interface Thing {
  add(a: number, b: number): number;
  slow(): void;
  note(text: string): void;
  value: number;
}

describe('proxy hygiene', () => {
  it('is never mistaken for a promise, and awaiting it does not connect', async () => {
    const fake = await fakeDaemon(adder);
    const p = connect<Thing>(fake.uri);
    expect((p as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await p).toBe(p);
    expect(await Promise.resolve(p)).toBe(p);
    const [viaAll] = await Promise.all([p]);
    expect(viaAll).toBe(p);
    expect(fake.connections).toBe(0);
    expect(isProxy(p)).toBe(true);
    expect(isProxy({})).toBe(false);
    expect(await p.add(2, 3)).toBe(5);
    await p.$release();
  });

  it('prints sensibly', async () => {
    const fake = await fakeDaemon(adder);
    const p = connect<Thing>(fake.uri);
    const text = `<cinder.Proxy at ${fake.uri}>`;
    expect(String(p)).toBe(text);
    expect(`${p}`).toBe(text);
    expect(inspect(p)).toBe(text);
    expect(inspect({ p })).toContain(text);
    expect(JSON.stringify({ p })).toBe(JSON.stringify({ p: fake.uri }));
    expect(Object.prototype.toString.call(p)).toBe('[object CinderProxy]');
    expect(p.add.name).toBe('add');
    expect(typeof p.add).toBe('function');
    expect(fake.connections).toBe(0);
  });

  it('refuses assignment with a hint, and lists remote members once bound', async () => {
    const fake = await fakeDaemon(adder);
    const p = connect<Thing>(fake.uri);
    expect(() => {
      (p as unknown as Record<string, unknown>).value = 3;
    }).toThrow(/use await proxy.\$set\("value", value\)/);
    expect(Object.keys(p)).toEqual([]);
    expect('$bind' in p).toBe(true);
    await p.$bind();
    expect(Object.keys(p).sort()).toEqual(['add', 'note', 'slow', 'value']);
    expect('add' in p).toBe(true);
    expect('nothing' in p).toBe(false);
    await p.$release();
  });
});

describe('connecting', () => {
  it('connects lazily, once, and sends the handshake with the object id', async () => {
    const fake = await fakeDaemon(adder);
    const p = connect<Thing>(fake.uri, { handshake: { token: 't' } });
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.connections).toBe(0);
    await Promise.all([p.add(1, 1), p.add(2, 2), p.add(3, 3)]);
    expect(fake.connections).toBe(1);
    const connectMsg = fake.received.find((m) => m.type === MsgType.CONNECT)!;
    expect(cbor.decode(connectMsg.payload)).toEqual({ handshake: { token: 't' }, object: 'thing' });
    expect(connectMsg.annotations?.has('CNDR')).toBe(true);
    // a Pyro-style daemon (no capabilities in CONNECTOK): one call on the wire at a time
    expect(p.$multiplexed).toBe(false);
    await p.$release();
  });

  it('CONNECTFAIL becomes CommunicationError "connection to … rejected: <reason>"', async () => {
    const fake = await fakeDaemon(adder, (message, socket, reply) => {
      reply({ type: MsgType.CONNECTFAIL, seq: message.seq, payload: cbor.encode('go away') });
      socket.end();
    });
    const p = connect<Thing>(fake.uri);
    const err = await p.add(1, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(/^connection to 127\.0\.0\.1:\d+ rejected: go away$/);
    expect(p.$connected).toBe(false);
  });

  it('a daemon whose object exposes nothing is refused', async () => {
    const fake = await fakeDaemon(adder, (message, _socket, reply) =>
      reply({
        type: MsgType.CONNECTOK,
        seq: message.seq,
        payload: cbor.encode({ handshake: 'hello', meta: { methods: [], oneway: [], attrs: [] } }),
      }),
    );
    const p = connect<Thing>(fake.uri);
    await expect(p.$bind()).rejects.toThrow(/doesn't expose any methods or attributes/);
  });

  it('a refused port fails promptly with a CommunicationError', async () => {
    const fake = await fakeDaemon(adder);
    const uri = fake.uri;
    await fake.close();
    const p = connect<Thing>(uri);
    const t0 = performance.now();
    await expect(p.add(1, 1)).rejects.toBeInstanceOf(CommunicationError);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('an unexposed name is refused locally, without a round trip', async () => {
    const fake = await fakeDaemon(adder);
    const p = connect<Thing>(fake.uri);
    await p.$bind();
    const before = fake.received.length;
    await expect(p.$call('nothing')).rejects.toThrow(
      `remote object '${fake.uri}' has no exposed attribute or method 'nothing'`,
    );
    expect(fake.received.length).toBe(before);
    await p.$release();
  });

  it('oneway methods from the metadata are sent with the ONEWAY flag and not waited for', async () => {
    const fake = await fakeDaemon(() => {});
    const p = connect<Thing>(fake.uri);
    await p.$bind();
    expect(await p.note('hi')).toBeUndefined();
    await expect.poll(() => fake.received.some((m) => m.type === MsgType.INVOKE)).toBe(true);
    const invoke = fake.received.find((m) => m.type === MsgType.INVOKE)!;
    expect(invoke.flags & Flags.ONEWAY).toBe(Flags.ONEWAY);
    await p.$release();
  });
});

describe('a call never hangs', () => {
  it('the daemon closes the connection mid-call: every pending call rejects naming its method', async () => {
    const fake = await fakeDaemon((message, socket) => {
      if (message.type === MsgType.INVOKE) setTimeout(() => socket.destroy(), 100);
    });
    const p = connect<Thing>(fake.uri);
    await p.$bind();
    const t0 = performance.now();
    const results = await Promise.all([
      p.slow().catch((e: unknown) => e),
      p.add(1, 2).catch((e: unknown) => e),
      p.$get('value').catch((e: unknown) => e),
    ]);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(results.map((e) => e instanceof ConnectionClosedError)).toEqual([true, true, true]);
    expect((results[0] as Error).message).toMatch(/call slow/);
    expect((results[1] as Error).message).toMatch(/call add/);
    expect((results[2] as Error).message).toMatch(/call __getattr__/);
  });

  it('a reply out of sequence from a Pyro peer drops the connection', async () => {
    const fake = await fakeDaemon((message, _socket, reply) => {
      if (message.type === MsgType.INVOKE)
        reply({ seq: (message.seq + 5) & 0xffff, payload: cbor.encode(1) });
    });
    const p = connect<Thing>(fake.uri);
    const err = await p.add(1, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommunicationError);
    expect(String((err as Error).message) + String((err as Error).cause)).toMatch(/out of sync/);
    expect(p.$connected).toBe(false);
  });

  it('a daemon that never answers: the per-call timeout fires', async () => {
    const fake = await fakeDaemon(() => {});
    const p = connect<Thing>(fake.uri, { timeoutMs: 150 });
    const t0 = performance.now();
    await expect(p.add(1, 1)).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('a daemon that never finishes the handshake: the connect timeout fires', async () => {
    const fake = await fakeDaemon(adder, () => {});
    const p = connect<Thing>(fake.uri, { connectTimeoutMs: 150 });
    const err = await p.add(1, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/handshake with 127\.0\.0\.1:\d+ timed out after 150 ms/);
  });

  it('$release while calls are pending rejects them at once', async () => {
    const fake = await fakeDaemon(() => {});
    const p = connect<Thing>(fake.uri);
    await p.$bind();
    const pending = p.add(1, 1).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await p.$release();
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toMatch(/call add/);
  });
});
