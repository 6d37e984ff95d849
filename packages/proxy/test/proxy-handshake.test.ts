// What a proxy does with its handshake and call options, against a server made of the engine alone
// on the memory transport (engine-server.ts): handshake data and annotations sent, the server's
// response and the metadata after $bind, a refusal by the server or by the proxy's own
// validateHandshake, per-call and proxy-wide annotations, a chosen correlation id, reply
// annotations, `await using`, remote attributes, and names outside the metadata refused before
// anything is sent. (The daemon's side of these is tested in packages/daemon/test with a client made
// of the engine alone.)
import { CommunicationError, NotExposedError } from '@cinder/core';
import { currentContext, expose, type HandshakeContext } from '@cinder/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ProxyOptions } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Contextual {
  calls = 0;
  #level = 1;

  fast(): string {
    this.calls++;
    return 'fast';
  }

  annotation(name: string): string | null {
    this.calls++;
    const v = currentContext()?.annotations.get(name);
    return v ? Buffer.from(v).toString() : null;
  }

  correlation(): string {
    this.calls++;
    const id = currentContext()?.correlationId;
    return id ? Buffer.from(id).toString('hex') : 'none';
  }

  reply(name: string, text: string): string {
    this.calls++;
    currentContext()!.responseAnnotations.set(name, Buffer.from(text));
    return 'ok';
  }

  get level(): number {
    return this.#level;
  }

  set level(v: number) {
    this.#level = v;
  }

  get readOnly(): string {
    return 'fixed';
  }
}

const seen: HandshakeContext[] = [];
const served = new Contextual();
let server: EngineServer;
let uri: string;
let over: ProxyOptions;

beforeAll(async () => {
  server = await startEngineServer(
    { ctx: served },
    {
      validateHandshake: (ctx) => {
        seen.push(ctx);
        const data = ctx.data as { token?: string; silent?: boolean } | string;
        if (typeof data === 'string') return `plain ${data}`;
        if (data.token !== 'good') throw new Error(`bad token ${data.token}`);
        return data.silent ? undefined : { server: 'hi', got: data.token };
      },
    },
  );
  uri = server.uri('ctx');
  over = { transport: server.transport };
});

afterAll(async () => {
  await server?.close();
});

const METADATA = {
  methods: ['annotation', 'correlation', 'fast', 'reply'],
  oneway: [],
  attrs: ['level', 'readOnly'],
};

describe('the handshake', () => {
  it('sends handshake data and annotations; $bind gives the response and the metadata', async () => {
    await using p = connect<Contextual>(uri, {
      ...over,
      handshake: { token: 'good' },
      annotations: new Map([['AUTH', Buffer.from('secret')]]),
    });
    await p.$bind();
    expect(p.$handshakeResponse).toEqual({ server: 'hi', got: 'good' });
    expect({ ...p.$metadata, methods: [...(p.$metadata?.methods ?? [])].sort() }).toEqual(METADATA);
    const ctx = seen.at(-1)!;
    expect(ctx.objectId).toBe('ctx');
    expect(ctx.data).toEqual({ token: 'good' });
    expect(Buffer.from(ctx.annotations.get('AUTH')!).toString()).toBe('secret');
    expect(await p.fast()).toBe('fast');
  });

  it('default handshake data is "hello"; a server answering undefined answers "hello"', async () => {
    await using p = connect<Contextual>(uri, over);
    await p.$bind();
    expect(seen.at(-1)!.data).toBe('hello');
    expect(p.$handshakeResponse).toBe('plain hello');
    await using q = connect<Contextual>(uri, { ...over, handshake: { token: 'good', silent: true } });
    await q.$bind();
    expect(q.$handshakeResponse).toBe('hello');
  });

  it("a server's refusal fails the call with its reason; the proxy stays unconnected", async () => {
    await using p = connect<Contextual>(uri, { ...over, handshake: { token: 'stolen' } });
    const err = await p.fast().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(/^connection to 127\.0\.0\.1:\d+ rejected: bad token stolen$/);
    expect(p.$connected).toBe(false);
    await expect.poll(() => server.connectionCount, { timeout: 2000 }).toBe(0);
  });

  it("the proxy's validateHandshake can refuse a server, sync or async", async () => {
    const checked: unknown[] = [];
    await using p = connect<Contextual>(uri, {
      ...over,
      handshake: { token: 'good' },
      validateHandshake: (response, peer) => {
        checked.push(response, peer.address);
        throw new Error('not the server I wanted');
      },
    });
    await expect(p.fast()).rejects.toThrow('not the server I wanted');
    expect(checked[0]).toEqual({ server: 'hi', got: 'good' });
    expect(checked[1]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.$connected).toBe(false);
    await expect.poll(() => server.connectionCount, { timeout: 2000 }).toBe(0);
    await using q = connect<Contextual>(uri, {
      ...over,
      handshake: { token: 'good' },
      validateHandshake: async (response) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if ((response as { server: string }).server !== 'hi') throw new Error('no');
      },
    });
    expect(await q.fast()).toBe('fast');
    await using r = connect<Contextual>(uri, {
      ...over,
      handshake: { token: 'good' },
      validateHandshake: async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        throw new Error('async no');
      },
    });
    await expect(r.fast()).rejects.toThrow('async no');
    expect(r.$connected).toBe(false);
  });
});

describe('call options', () => {
  it('passes request annotations in and response annotations out; proxy-wide ones go with every call', async () => {
    await using p = connect<Contextual>(uri, over);
    expect(
      await p.$call('annotation', ['XTRA'], { annotations: new Map([['XTRA', Buffer.from('in value')]]) }),
    ).toBe('in value');
    expect(await p.annotation('XTRA')).toBe(null);
    const got: Map<string, Uint8Array>[] = [];
    expect(
      await p.$call('reply', ['RESP', 'out value'], { onReplyAnnotations: (anns) => got.push(anns) }),
    ).toBe('ok');
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]!.get('RESP')!).toString()).toBe('out value');
    await using q = connect<Contextual>(uri, {
      ...over,
      annotations: new Map([['XTRA', Buffer.from('every call')]]),
    });
    expect(await q.annotation('XTRA')).toBe('every call');
  });

  it('sends a correlation id it is given, and a fresh one per call otherwise', async () => {
    await using p = connect<Contextual>(uri, over);
    const chosen = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(await p.$call('correlation', [], { correlationId: chosen })).toBe(chosen.toString('hex'));
    const a = await p.correlation();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(await p.correlation()).not.toBe(a);
  });

  it('reads and writes remote attributes; one without a setter is refused by the server', async () => {
    await using p = connect<Contextual>(uri, over);
    expect(await p.level).toBe(1);
    await p.$set('level', 5);
    expect(await p.$get('level')).toBe(5);
    expect(await p.readOnly).toBe('fixed');
    await expect(p.$set('readOnly', 'x')).rejects.toThrow(/attempt to access unexposed attribute 'readOnly'/);
  });

  it('a name the metadata does not list is refused by the proxy itself: nothing is sent', async () => {
    await using p = connect<Contextual>(uri, over);
    await p.$bind();
    const before = served.calls;
    const err = await p.$call('missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotExposedError);
    expect((err as Error).message).toBe(
      `remote object '${uri}' has no exposed attribute or method 'missing'`,
    );
    await expect(p.$get('calls')).rejects.toBeInstanceOf(NotExposedError);
    // the connection is fine, and the server saw only this call
    expect(await p.fast()).toBe('fast');
    expect(served.calls).toBe(before + 1);
  });
});

describe('await using', () => {
  it("releases the proxy's connection at the end of the scope", async () => {
    await expect.poll(() => server.connectionCount, { timeout: 2000 }).toBe(0);
    {
      await using p = connect<Contextual>(uri, over);
      expect(await p.fast()).toBe('fast');
      expect(p.$connected).toBe(true);
      expect(server.connectionCount).toBe(1);
    }
    await expect.poll(() => server.connectionCount, { timeout: 2000 }).toBe(0);
  });
});
