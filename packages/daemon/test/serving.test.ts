// How a daemon serves calls, over real loopback sockets, to a client made of the engine alone
// (engine-client.ts): instance modes and instance creators, the built-in `Pyro.Daemon` object, the
// handshake (user data, metadata, validation hooks on both ends, PING), concurrency (async methods,
// pipelining, strict order without multiplexing, no blocking across connections) and the per-call
// context (client, correlation ids across two daemons, annotations in and out, resources closed on
// disconnect).
import { DAEMON_NAME, DaemonError, RemoteError } from '@cinder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  behavior,
  currentContext,
  Daemon,
  expose,
  exposeAll,
  type HandshakeContext,
  type Resource,
} from '../src/index.js';
import { openClient } from './engine-client.js';
import { connectMessage, delay, Flags, json, MsgType, RawClient } from './helpers.js';

let created = 0;

@expose
@behavior({ instanceMode: 'single' })
class Single {
  readonly serial = ++created;
  #n = 0;
  next(): number {
    return ++this.#n;
  }
  id(): number {
    return this.serial;
  }
}

@expose
class Session {
  readonly serial = ++created;
  #n = 0;
  next(): number {
    return ++this.#n;
  }
  id(): number {
    return this.serial;
  }
}

// a session class by default, registered as percall by option
@exposeAll({ inherited: true })
class SessionToo extends Session {}

@expose
class Picky {
  name(): string {
    return 'never reached';
  }
}

@expose
@behavior({ instanceMode: 'percall' })
class PerCall {
  readonly serial = ++created;
  #n = 0;
  next(): number {
    return ++this.#n;
  }
  id(): number {
    return this.serial;
  }
}

@expose
class Made {
  constructor(readonly label: string = 'default') {}
  name(): string {
    return this.label;
  }
}

// plain-function form of @behavior with a creator
class Created {
  constructor(readonly label: string) {}
  name(): string {
    return this.label;
  }
}
expose(Created);
behavior(Created, {
  instanceMode: 'single',
  instanceCreator: (cls) => new (cls as typeof Created)('from creator'),
});

class NotMade {
  name(): string {
    return 'never';
  }
}

let active = 0;
let maxActive = 0;
const order: string[] = [];

@expose
class Worker {
  async sleep(ms: number, tag: string): Promise<string> {
    active++;
    maxActive = Math.max(maxActive, active);
    order.push(`start ${tag}`);
    await delay(ms);
    order.push(`end ${tag}`);
    active--;
    return tag;
  }

  fast(): string {
    return 'fast';
  }
}

const closedResources: string[] = [];

@expose
class Contextual {
  client(): string {
    return currentContext()?.client ?? 'none';
  }

  connectionId(): number {
    return currentContext()?.connectionId ?? -1;
  }

  correlation(): string {
    const id = currentContext()?.correlationId;
    return id ? Buffer.from(id).toString('hex') : 'none';
  }

  annotation(name: string): string | null {
    const v = currentContext()?.annotations.get(name);
    return v ? Buffer.from(v).toString() : null;
  }

  reply(name: string, text: string): string {
    currentContext()!.responseAnnotations.set(name, Buffer.from(text));
    return 'ok';
  }

  track(label: string): string {
    const r: Resource = { close: () => closedResources.push(label) };
    currentContext()!.trackResource(r);
    return label;
  }

  trackAndUntrack(label: string): string {
    const r: Resource = { close: () => closedResources.push(label) };
    currentContext()!.trackResource(r);
    currentContext()!.untrackResource(r);
    return label;
  }

  /** Calls the second daemon from inside a served call: its correlation id must follow. */
  async nested(uri: string): Promise<[string, string]> {
    await using other = await openClient(uri);
    return [this.correlation(), (await other.call('correlation')) as string];
  }
}

describe('instance modes', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await Daemon.start();
    daemon.register(Single, 'single');
    daemon.register(Session, 'session');
    daemon.register(PerCall, 'percall');
    daemon.register(SessionToo, 'session-as-percall', { instanceMode: 'percall' });
    daemon.register(Made, 'made', {
      instanceCreator: (cls) => new (cls as typeof Made)('made by option'),
    });
    daemon.register(Created, 'created');
    daemon.register(Picky, 'bad-creator', { instanceCreator: () => new NotMade() });
  });
  afterAll(() => daemon?.close({ graceMs: 0 }));

  it('single: one instance for every connection, created on first use', async () => {
    await using a = await openClient(daemon.uriFor('single'));
    await using b = await openClient(daemon.uriFor('single'));
    expect(await a.call('next')).toBe(1);
    expect(await b.call('next')).toBe(2);
    expect(await a.call('next')).toBe(3);
    expect(await a.call('id')).toBe(await b.call('id'));
  });

  it('session: one instance per connection, a new one on a new connection', async () => {
    await using a = await openClient(daemon.uriFor('session'));
    await using b = await openClient(daemon.uriFor('session'));
    expect(await a.call('next')).toBe(1);
    expect(await a.call('next')).toBe(2);
    expect(await b.call('next')).toBe(1);
    const idA = await a.call('id');
    expect(await b.call('id')).not.toBe(idA);
    expect(await a.call('id')).toBe(idA);
    await a.close();
    await using again = await openClient(daemon.uriFor('session'));
    expect(await again.call('next')).toBe(1);
    expect(await again.call('id')).not.toBe(idA);
  });

  it('percall: a fresh instance for every call (by @behavior or by register option)', async () => {
    await using p = await openClient(daemon.uriFor('percall'));
    expect(await p.call('next')).toBe(1);
    expect(await p.call('next')).toBe(1);
    expect(await p.call('id')).not.toBe(await p.call('id'));
    await using q = await openClient(daemon.uriFor('session-as-percall'));
    expect(await q.call('next')).toBe(1);
    expect(await q.call('next')).toBe(1);
  });

  it('instance creators (register option and plain behavior()); a wrong type is an error', async () => {
    await using m = await openClient(daemon.uriFor('made'));
    expect(await m.call('name')).toBe('made by option');
    await using c = await openClient(daemon.uriFor('created'));
    expect(await c.call('name')).toBe('from creator');
    await using bad = await openClient(daemon.uriFor('bad-creator'));
    const err = await bad.call('name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/instance creator returned an object that is not a Picky/);
    // the connection survives the error
    expect(await m.call('name')).toBe('made by option');
    expect(await bad.call('name').catch((e: unknown) => e)).toBeInstanceOf(TypeError);
  });

  it('refuses invalid behaviours at definition time', () => {
    expect(() => behavior({ instanceMode: 'sometimes' as 'single' })).toThrow(/invalid instance mode/);
    expect(() => behavior(class {}, { instanceCreator: 'x' as never })).toThrow(/must be a function/);
  });
});

describe('the built-in Pyro.Daemon object', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await Daemon.start();
    daemon.register(Single, 'single');
    daemon.register(new Worker(), 'worker');
  });
  afterAll(() => daemon?.close({ graceMs: 0 }));

  it('answers ping, registered, info and get_metadata', async () => {
    expect(daemon.uri.object).toBe(DAEMON_NAME);
    await using d = await openClient(daemon.uri);
    expect(await d.call('ping')).toBe(null);
    expect(((await d.call('registered')) as string[]).sort()).toEqual(
      [DAEMON_NAME, 'single', 'worker'].sort(),
    );
    const info = await d.call('info');
    expect(info).toContain(`${DAEMON_NAME} bound on ${daemon.locationString}`);
    expect(info).toContain('3 objects registered');
    expect(await d.call('get_metadata', ['worker'])).toEqual({
      methods: ['sleep', 'fast'],
      oneway: [],
      attrs: [],
    });
    expect(await d.call('get_metadata', ['single'])).toEqual(daemon.metadataOf('single'));
    expect([...(d.metadata?.methods ?? [])].sort()).toEqual(
      ['close_stream', 'get_metadata', 'get_next_stream_item', 'info', 'ping', 'registered'].sort(),
    );
  });

  it('get_metadata of an unknown object is a DaemonError', async () => {
    await using d = await openClient(daemon.uri);
    const err = await d.call('get_metadata', ['no.such.object']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as Error).message).toMatch(/unknown object/);
    expect(await d.call('ping')).toBe(null);
  });
});

describe('handshake', () => {
  let daemon: Daemon;
  const seen: HandshakeContext[] = [];
  beforeAll(async () => {
    daemon = await Daemon.start({
      validateHandshake: (ctx) => {
        seen.push(ctx);
        const data = ctx.data as { token?: string; async?: boolean; silent?: boolean } | string;
        if (typeof data === 'object' && data !== null) {
          if (data.async) {
            return delay(50).then(() => {
              if (data.token !== 'good') throw new Error(`async says no to ${data.token}`);
              return { server: 'async hi', got: data.token };
            });
          }
          if (data.token !== 'good') throw new Error(`bad token ${data.token}`);
          if (data.silent) return undefined;
          return { server: 'hi', got: data.token };
        }
        return `plain ${String(data)}`;
      },
    });
    daemon.register(new Worker(), 'worker');
  });
  afterAll(() => daemon?.close({ graceMs: 0 }));

  it('carries user data one way and the response plus metadata the other (sync hook)', async () => {
    await using p = await openClient(daemon.uriFor('worker'), {
      handshake: { token: 'good' },
      annotations: new Map([['AUTH', Buffer.from('secret')]]),
    });
    expect(p.response).toEqual({ server: 'hi', got: 'good' });
    expect(p.metadata).toEqual({ methods: ['sleep', 'fast'], oneway: [], attrs: [] });
    const ctx = seen.at(-1)!;
    expect(ctx.objectId).toBe('worker');
    expect(ctx.protocolVersion).toBe(502);
    expect(ctx.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Buffer.from(ctx.annotations.get('AUTH')!).toString()).toBe('secret');
    expect(await p.call('fast')).toBe('fast');
  });

  it('default handshake data is "hello"; undefined from the hook answers "hello"', async () => {
    await using p = await openClient(daemon.uriFor('worker'));
    expect(seen.at(-1)!.data).toBe('hello');
    expect(p.response).toBe('plain hello');
    await using q = await openClient(daemon.uriFor('worker'), { handshake: { token: 'good', silent: true } });
    expect(q.response).toBe('hello');
  });

  it('an async hook can accept or reject', async () => {
    await using ok = await openClient(daemon.uriFor('worker'), { handshake: { token: 'good', async: true } });
    expect(ok.response).toEqual({ server: 'async hi', got: 'good' });
    const err = await openClient(daemon.uriFor('worker'), { handshake: { token: 'bad', async: true } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('CommunicationError');
    expect((err as Error).message).toMatch(/^connection to 127\.0\.0\.1:\d+ rejected: async says no to bad$/);
  });

  it('a rejecting sync hook refuses the client with its reason, and the daemon goes on', async () => {
    await expect(openClient(daemon.uriFor('worker'), { handshake: { token: 'stolen' } })).rejects.toThrow(
      /rejected: bad token stolen$/,
    );
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(0);
    await using ok = await openClient(daemon.uriFor('worker'), { handshake: { token: 'good' } });
    expect(await ok.call('fast')).toBe('fast');
  });

  it('a client that refuses the response (its own validation) leaves no connection behind', async () => {
    const checked: unknown[] = [];
    const refused = openClient(daemon.uriFor('worker'), {
      handshake: { token: 'good' },
      validate: (response, peer) => {
        checked.push(response, peer.address);
        throw new Error('not the daemon I wanted');
      },
    });
    await expect(refused).rejects.toThrow('not the daemon I wanted');
    expect(checked[0]).toEqual({ server: 'hi', got: 'good' });
    expect(checked[1]).toMatch(/^127\.0\.0\.1:\d+$/);
    await expect.poll(() => daemon.connectionCount, { timeout: 2000 }).toBe(0);
    await using q = await openClient(daemon.uriFor('worker'), {
      handshake: { token: 'good' },
      validate: async (response) => {
        await delay(10);
        if ((response as { server: string }).server !== 'hi') throw new Error('no');
      },
    });
    expect(await q.call('fast')).toBe('fast');
  });

  it('answers PING (engine client ping, and a raw PING)', async () => {
    await using p = await openClient(daemon.uriFor('worker'), { handshake: { token: 'good' } });
    await p.ping();
    expect(p.connected).toBe(true);
    const raw = await RawClient.open(daemon.endpoint);
    try {
      raw.send(connectMessage(json, 'worker', { handshake: { token: 'good' } }));
      expect((await raw.next()).type).toBe(MsgType.CONNECTOK);
      raw.send({
        type: MsgType.PING,
        flags: 0,
        seq: 7,
        serializerId: 42,
        correlationId: null,
        annotations: null,
        payload: Buffer.from('ping'),
      });
      const pong = await raw.next();
      expect(pong.type).toBe(MsgType.PING);
      expect(pong.seq).toBe(7);
      expect(pong.flags & Flags.CORR_ID).toBe(Flags.CORR_ID);
      expect(Buffer.from(pong.payload).toString()).toBe('pong');
    } finally {
      raw.destroy();
    }
  });
});

describe('concurrency', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await Daemon.start();
    daemon.register(new Worker(), 'worker');
  });
  afterAll(() => daemon?.close({ graceMs: 0 }));

  it('awaits async methods and pipelines calls on one connection', async () => {
    await using p = await openClient(daemon.uriFor('worker'));
    expect(p.multiplexed).toBe(true);
    maxActive = 0;
    const t0 = performance.now();
    const tags = await Promise.all(Array.from({ length: 10 }, (_, i) => p.call('sleep', [200, `p${i}`])));
    const elapsed = performance.now() - t0;
    expect(tags).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`));
    expect(maxActive).toBe(10);
    expect(elapsed).toBeLessThan(1500);
  });

  it('with multiplex: false, calls run strictly one after the other, in order', async () => {
    await using p = await openClient(daemon.uriFor('worker'), { multiplex: false });
    expect(p.multiplexed).toBe(false);
    maxActive = 0;
    order.length = 0;
    const tags = await Promise.all(Array.from({ length: 5 }, (_, i) => p.call('sleep', [40, `s${i}`])));
    expect(tags).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(maxActive).toBe(1);
    expect(order).toEqual(['s0', 's1', 's2', 's3', 's4'].flatMap((t) => [`start ${t}`, `end ${t}`]));
  });

  it('a slow call on one connection does not block another connection', async () => {
    await using slow = await openClient(daemon.uriFor('worker'), { multiplex: false });
    await using other = await openClient(daemon.uriFor('worker'), { multiplex: false });
    const long = slow.call('sleep', [1500, 'long']);
    await delay(50);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) expect(await other.call('fast')).toBe('fast');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await long).toBe('long');
  });
});

describe('per-call context', () => {
  let a: Daemon;
  let b: Daemon;
  beforeAll(async () => {
    a = await Daemon.start();
    b = await Daemon.start();
    a.register(new Contextual(), 'ctx');
    b.register(new Contextual(), 'ctx');
  });
  afterAll(async () => {
    await a?.close({ graceMs: 0 });
    await b?.close({ graceMs: 0 });
  });

  it('knows the client address and connection', async () => {
    await using p = await openClient(a.uriFor('ctx'));
    await using q = await openClient(a.uriFor('ctx'));
    const [ca, cb] = [await p.call('client'), await q.call('client')];
    expect(ca).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cb).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ca).not.toBe(cb);
    expect(await p.call('connectionId')).not.toBe(await q.call('connectionId'));
    expect(await p.call('client')).toBe(ca);
  });

  it('carries the correlation id through a nested call to a second daemon', async () => {
    await using p = await openClient(a.uriFor('ctx'));
    const [outer, inner] = (await p.call('nested', [b.uriFor('ctx').toString()])) as [string, string];
    expect(outer).toMatch(/^[0-9a-f]{32}$/);
    expect(inner).toBe(outer);
    // a correlation id the caller chooses is the one both daemons see
    const chosen = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const pair = await p.call('nested', [b.uriFor('ctx').toString()], { correlationId: chosen });
    expect(pair).toEqual([chosen.toString('hex'), chosen.toString('hex')]);
    // separate calls get separate ids
    expect(await p.call('correlation')).not.toBe(await p.call('correlation'));
  });

  it('passes request annotations in and response annotations out', async () => {
    await using p = await openClient(a.uriFor('ctx'));
    expect(
      await p.call('annotation', ['XTRA'], { annotations: new Map([['XTRA', Buffer.from('in value')]]) }),
    ).toBe('in value');
    expect(await p.call('annotation', ['XTRA'])).toBe(null);
    const got: Map<string, Uint8Array>[] = [];
    expect(
      await p.call('reply', ['RESP', 'out value'], { onReplyAnnotations: (anns) => got.push(anns) }),
    ).toBe('ok');
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]!.get('RESP')!).toString()).toBe('out value');
    // annotations sent with every call
    await using q = await openClient(a.uriFor('ctx'), {
      annotations: new Map([['XTRA', Buffer.from('every call')]]),
    });
    expect(await q.call('annotation', ['XTRA'])).toBe('every call');
  });

  it('closes tracked resources when the client disconnects (not untracked ones)', async () => {
    closedResources.length = 0;
    const p = await openClient(a.uriFor('ctx'));
    expect(await p.call('track', ['r1'])).toBe('r1');
    expect(await p.call('track', ['r2'])).toBe('r2');
    expect(await p.call('trackAndUntrack', ['r3'])).toBe('r3');
    await delay(50);
    expect(closedResources).toEqual([]);
    await p.close();
    await expect.poll(() => [...closedResources].sort(), { timeout: 2000 }).toEqual(['r1', 'r2']);
  });

  it('is undefined outside a served call', () => {
    expect(currentContext()).toBeUndefined();
  });

  it('a name the metadata does not list is refused by the daemon, and the connection goes on', async () => {
    await using p = await openClient(a.uriFor('ctx'));
    expect(p.metadata?.methods).not.toContain('missing');
    const err = await p.call('missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteType).toBe('builtins.AttributeError');
    expect((err as RemoteError).remoteMessage).toBe("'Contextual' object has no attribute 'missing'");
    expect(await p.call('client')).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
