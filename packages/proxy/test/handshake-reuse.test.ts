// What connections share once made (the CONNECT encoded once per object asked for, a CONNECTOK
// read once per distinct answer): proxies made one after another, to the same object or to others,
// with default or their own handshake data and annotations, each still sends its own CONNECT and
// gets its own answer, and each proxy's metadata is its own copy.
import { expose, type HandshakeContext } from '@cinder/rpc';
import { withCallCounts } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ProxyOptions } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Alpha {
  alpha(): string {
    return 'alpha';
  }

  shared(): string {
    return 'from alpha';
  }
}

@expose
class Beta {
  beta(): string {
    return 'beta';
  }

  shared(): string {
    return 'from beta';
  }

  other(): string {
    return 'other';
  }
}

/** Alpha's twin but for one letter: its CONNECTOK is as long as Alpha's, with other bytes. */
@expose
class Alphb {
  alphb(): string {
    return 'alphb';
  }

  shared(): string {
    return 'from alphb';
  }
}

/** An object whose CONNECTOK (its metadata) is longer than what a client keeps to recognise. */
class Wide {}
for (let i = 0; i < 60; i++) {
  Object.defineProperty(Wide.prototype, `a_method_with_a_rather_long_name_${i}`, {
    value: () => i,
    writable: true,
    configurable: true,
  });
}
expose(Wide);

const seen: { object: string; data: unknown; note: string | undefined }[] = [];
let server: EngineServer;
let over: ProxyOptions;

beforeAll(async () => {
  server = await startEngineServer(
    { a: new Alpha(), a2: new Alphb(), b: new Beta(), wide: new Wide() },
    {
      validateHandshake: (ctx: HandshakeContext) => {
        const note = ctx.annotations.get('NOTE');
        seen.push({
          object: ctx.objectId,
          data: ctx.data,
          note: note ? Buffer.from(note).toString() : undefined,
        });
        return typeof ctx.data === 'string' ? `answer to ${ctx.data}` : { echoed: ctx.data };
      },
    },
  );
  over = { transport: server.transport };
});

afterAll(async () => {
  await server?.close();
});

describe('connections made one after another', () => {
  it('a new proxy per call to one object: each gets the answer and a metadata of its own', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) {
      const p = connect<Alpha>(server.uri('a'), over);
      expect(await p.alpha()).toBe('alpha');
      made.push({ metadata: p.$metadata!, response: p.$handshakeResponse });
      await p.$release();
    }
    for (const m of made) {
      expect(m.response).toBe('answer to hello');
      expect([...m.metadata.methods].sort()).toEqual(['alpha', 'shared']);
    }
    // copies, not one object handed to every proxy: changing one changes no other
    expect(made[1]!.metadata).not.toBe(made[0]!.metadata);
    expect(made[2]!.metadata.methods).not.toBe(made[1]!.metadata.methods);
    made[1]!.metadata.methods.push('injected');
    const next = connect<Alpha>(server.uri('a'), over);
    await next.$bind();
    expect(next.$metadata!.methods).not.toContain('injected');
    await next.$release();
  });

  it('proxies to different objects in turn each reach their own object and read its metadata', async () => {
    seen.length = 0;
    for (let i = 0; i < 3; i++) {
      const a = connect<Alpha>(server.uri('a'), over);
      expect(await a.shared()).toBe('from alpha');
      expect([...a.$metadata!.methods].sort()).toEqual(['alpha', 'shared']);
      await a.$release();
      const b = connect<Beta>(server.uri('b'), over);
      expect(await b.shared()).toBe('from beta');
      expect([...b.$metadata!.methods].sort()).toEqual(['beta', 'other', 'shared']);
      await b.$release();
    }
    expect(seen.map((s) => s.object)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it("a proxy's own handshake data and annotations go with its CONNECT, between default ones", async () => {
    seen.length = 0;
    const plain = async () => {
      const p = connect<Alpha>(server.uri('a'), over);
      await p.$bind();
      const response = p.$handshakeResponse;
      await p.$release();
      return response;
    };
    expect(await plain()).toBe('answer to hello');
    const own = connect<Alpha>(server.uri('a'), {
      ...over,
      handshake: { token: 7 },
      annotations: new Map([['NOTE', Buffer.from('mine')]]),
    });
    await own.$bind();
    expect(own.$handshakeResponse).toEqual({ echoed: { token: 7 } });
    await own.$release();
    const other = connect<Alpha>(server.uri('a'), {
      ...over,
      handshake: 'other data',
    });
    await other.$bind();
    expect(other.$handshakeResponse).toBe('answer to other data');
    await other.$release();
    expect(await plain()).toBe('answer to hello');
    expect(seen).toEqual([
      { object: 'a', data: 'hello', note: undefined },
      { object: 'a', data: { token: 7 }, note: 'mine' },
      { object: 'a', data: 'other data', note: undefined },
      { object: 'a', data: 'hello', note: undefined },
    ]);
  });

  it('reconnecting one proxy reads each answer again (a fresh metadata object per connection)', async () => {
    const p = connect<Beta>(server.uri('b'), over);
    await p.$bind();
    const first = p.$metadata!;
    await p.$release();
    await p.$bind();
    const second = p.$metadata!;
    expect(second).not.toBe(first);
    expect([...second.methods].sort()).toEqual(['beta', 'other', 'shared']);
    await p.$release();
  });
});

describe('what a client keeps of a CONNECTOK', () => {
  /** Calls of the client's CONNECTOK parser while `run` runs (V8's precise coverage). */
  async function parses(run: () => Promise<void>): Promise<number> {
    let calls = 0;
    await withCallCounts(async (take) => {
      await take('parseConnectOk');
      await run();
      calls = await take('parseConnectOk');
    });
    return calls;
  }

  const connectTimes = (id: string) => async () => {
    for (let i = 0; i < 3; i++) {
      const p = connect<Record<string, () => Promise<number>>>(server.uri(id), over);
      await p.$bind();
      expect(p.$metadata!.methods.length).toBeGreaterThan(0);
      await p.$release();
    }
  };

  it('a small answer read again is recognised, not parsed', async () => {
    await connectTimes('a')();
    expect(await parses(connectTimes('a'))).toBe(0);
  });

  it('an answer as long as the one kept but with other bytes is parsed, not taken for it', async () => {
    const metadataOf = async (id: string) => {
      const p = connect<Record<string, () => Promise<string>>>(server.uri(id), over);
      await p.$bind();
      const methods = [...p.$metadata!.methods].sort();
      await p.$release();
      return methods;
    };
    for (let i = 0; i < 2; i++) {
      expect(await metadataOf('a')).toEqual(['alpha', 'shared']);
      expect(await metadataOf('a2')).toEqual(['alphb', 'shared']);
    }
    expect(
      await parses(async () => {
        await metadataOf('a2');
      }),
    ).toBe(0);
    expect(
      await parses(async () => {
        await metadataOf('a');
      }),
    ).toBe(1);
  });

  it('an answer longer than 1 KiB is parsed every time (a daemon cannot make a client keep a big one)', async () => {
    expect(await parses(connectTimes('wide'))).toBe(3);
    const p = connect<Record<string, () => Promise<number>>>(server.uri('wide'), over);
    expect(await p.a_method_with_a_rather_long_name_59!()).toBe(59);
    await p.$release();
  });
});
