// Exposure across the wire: what a client sees (metadata in the handshake) and may call, for every
// way of exposing (decorators, `expose(Class, names)`, `oneway(Class, name)`, object literals,
// `exposeAll({ inherited })`), remote attributes through getters/setters, and Pyro's refusal texts
// for private, dotted, unexposed and missing names. The client is made of the engine alone
// (engine-client.ts) and sends whatever it is asked to, so the refusals seen are the daemon's (a
// proxy refuses names its metadata does not list before anything is sent: the proxy's tests cover
// that); a raw socket sends what no client would (dotted names, __getattr__ of private names).
import { RemoteError } from '@cinder/core';
import { withCallCounts } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, expose, exposeAll, oneway } from '../src/index.js';
import { openClient } from './engine-client.js';
import {
  cbor,
  connectMessage,
  delay,
  failureText,
  json,
  MsgType,
  RawClient,
  rawInvoke,
  rawSession,
} from './helpers.js';

class Base {
  inherited(): string {
    return 'base';
  }

  @expose
  markedInBase(): string {
    return 'marked in base';
  }
}

@expose
class Decorated extends Base {
  #count = 0;
  _secret = 'hidden';
  static shared(): string {
    return 'static';
  }

  increment(): number {
    return ++this.#count;
  }

  _private(): string {
    return 'never';
  }

  __dunder__(): string {
    return 'dunder';
  }

  get count(): number {
    return this.#count;
  }

  set count(v: number) {
    this.#count = v;
  }

  get readOnly(): string {
    return 'fixed';
  }

  #hidden(): string {
    return 'hash private';
  }

  usesHidden(): string {
    return this.#hidden();
  }
}

@exposeAll({ inherited: true })
class WithInherited extends Base {
  own(): string {
    return 'own';
  }
}

class MemberLevel {
  @expose
  visible(): string {
    return 'visible';
  }

  invisible(): string {
    return 'invisible';
  }

  @expose
  get level(): number {
    return 3;
  }
}

class WithAccessor {
  @expose accessor level = 1;
  hidden = 2;
}

// JavaScript style: no decorators.
class Plain {
  events: string[] = [];
  add(a: number, b: number): number {
    return a + b;
  }

  notify(event: string): void {
    this.events.push(event);
  }

  seen(): string[] {
    return this.events;
  }

  notListed(): string {
    return 'no';
  }

  get size(): number {
    return this.events.length;
  }
}
expose(Plain, ['add', 'notify', 'seen', 'size']);
oneway(Plain, 'notify');

let daemon: Daemon;
const plain = new Plain();
const literal = expose({
  state: 1,
  double(x: number): number {
    return x * 2;
  },
  get state2(): number {
    return this.state * 2;
  },
  _hidden(): string {
    return 'no';
  },
});

beforeAll(async () => {
  daemon = await Daemon.start();
  daemon.register(new Decorated(), 'decorated');
  daemon.register(new WithInherited(), 'inherited');
  daemon.register(new MemberLevel(), 'member');
  daemon.register(plain, 'plain');
  daemon.register(literal, 'literal');
  daemon.register(new WithAccessor(), 'accessor');
});

afterAll(async () => {
  await daemon?.close({ graceMs: 0 });
});

const sorted = (names: readonly string[] | undefined) => [...(names ?? [])].sort();

/** The AttributeError the daemon answers a call or attribute it does not serve with. */
async function refused(call: Promise<unknown>, text: string): Promise<void> {
  const err = await call.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RemoteError);
  expect((err as RemoteError).remoteType).toBe('builtins.AttributeError');
  expect((err as RemoteError).remoteMessage).toBe(text);
}

describe('what the handshake tells the client', () => {
  it('decorated class: own public methods and accessors, a marked base member, no private or static ones', async () => {
    await using p = await openClient(daemon.uriFor('decorated'));
    expect(sorted(p.metadata?.methods)).toEqual(
      ['__dunder__', 'increment', 'markedInBase', 'usesHidden'].sort(),
    );
    expect(sorted(p.metadata?.attrs)).toEqual(['count', 'readOnly']);
    expect(p.metadata?.oneway).toEqual([]);
    expect(await p.call('increment')).toBe(1);
    expect(await p.call('markedInBase')).toBe('marked in base');
    expect(await p.call('usesHidden')).toBe('hash private');
    expect(await p.call('__dunder__')).toBe('dunder');
    await refused(p.call('inherited'), "attempt to access unexposed attribute 'inherited'");
    await refused(p.call('shared'), "'Decorated' object has no attribute 'shared'");
  });

  it('exposeAll({ inherited: true }) adds base-class members', async () => {
    await using p = await openClient(daemon.uriFor('inherited'));
    expect(await p.call('inherited')).toBe('base');
    expect(await p.call('own')).toBe('own');
    expect(sorted(p.metadata?.methods)).toEqual(['inherited', 'markedInBase', 'own']);
  });

  it('member-level @expose exposes only the marked members', async () => {
    await using p = await openClient(daemon.uriFor('member'));
    expect(await p.call('visible')).toBe('visible');
    expect(await p.get('level')).toBe(3);
    expect(p.metadata).toEqual({ methods: ['visible'], oneway: [], attrs: ['level'] });
    await refused(p.call('invisible'), "attempt to access unexposed attribute 'invisible'");
  });

  it('expose(Class, names) and oneway(Class, name) without decorators', async () => {
    await using p = await openClient(daemon.uriFor('plain'));
    expect(await p.call('add', [2, 3])).toBe(5);
    expect(sorted(p.metadata?.methods)).toEqual(['add', 'notify', 'seen']);
    expect(p.metadata?.oneway).toEqual(['notify']);
    expect(p.metadata?.attrs).toEqual(['size']);
    // oneway (sent with the ONEWAY flag, as the metadata says): resolves before the method has run
    // on the server (it has not even been read yet)
    const sent = p.call('notify', ['first']);
    expect(plain.events).toEqual([]);
    expect(await sent).toBeUndefined();
    await expect.poll(() => p.call('seen'), { timeout: 2000 }).toEqual(['first']);
    expect(await p.get('size')).toBe(1);
    await refused(p.call('notListed'), "attempt to access unexposed attribute 'notListed'");
  });

  it('expose(object literal) exposes its own public methods and accessors', async () => {
    await using p = await openClient(daemon.uriFor('literal'));
    expect(await p.call('double', [21])).toBe(42);
    expect(p.metadata).toEqual({ methods: ['double'], oneway: [], attrs: ['state2'] });
    expect(await p.get('state2')).toBe(2);
  });
});

describe("the handshake reply is made once per serializer and object's metadata", () => {
  it('every serializer tells the same metadata, again on a second connection', async () => {
    for (const serializer of ['cbor', 'json', 'msgpack', 'serpent', 'marshal'] as const) {
      for (let i = 0; i < 2; i++) {
        await using p = await openClient(daemon.uriFor('plain'), { serializer });
        expect(p.response).toBe('hello');
        expect(sorted(p.metadata?.methods)).toEqual(['add', 'notify', 'seen']);
        expect(p.metadata?.oneway).toEqual(['notify']);
      }
    }
  });

  it("an id registered again (force) tells the new object's metadata, not the last reply for that id", async () => {
    class First {
      first(): string {
        return 'first';
      }
    }
    class Second {
      second(): string {
        return 'second';
      }
    }
    expose(First);
    expose(Second);
    daemon.register(new First(), 'replaced');
    try {
      {
        await using p = await openClient(daemon.uriFor('replaced'));
        expect(p.metadata?.methods).toEqual(['first']);
      }
      daemon.register(new Second(), 'replaced', { force: true });
      await using p = await openClient(daemon.uriFor('replaced'));
      expect(p.metadata?.methods).toEqual(['second']);
      expect(await p.call('second')).toBe('second');
    } finally {
      daemon.unregister('replaced');
    }
  });
});

describe('a CONNECT with the bytes of the last one (a client connecting again)', () => {
  async function handshake(serializer: typeof cbor, object: string) {
    const raw = await RawClient.open(daemon.endpoint);
    try {
      raw.send(connectMessage(serializer, object));
      return await raw.next();
    } finally {
      raw.destroy();
    }
  }

  it('is not decoded again', async () => {
    await withCallCounts(async (take) => {
      expect((await handshake(cbor, 'plain')).type).toBe(MsgType.CONNECTOK);
      await take('parseConnectData');
      for (let i = 0; i < 3; i++) expect((await handshake(cbor, 'plain')).type).toBe(MsgType.CONNECTOK);
      expect(await take('parseConnectData')).toBe(0);
      // other bytes (another object, another serializer) are decoded
      expect((await handshake(cbor, 'decorated')).type).toBe(MsgType.CONNECTOK);
      expect((await handshake(json, 'decorated')).type).toBe(MsgType.CONNECTOK);
      expect(await take('parseConnectData')).toBe(2);
    });
  });

  it('names an object that is checked again: one unregistered meanwhile is refused', async () => {
    class Brief {
      hi(): string {
        return 'hi';
      }
    }
    expose(Brief);
    daemon.register(new Brief(), 'brief');
    expect((await handshake(cbor, 'brief')).type).toBe(MsgType.CONNECTOK);
    expect((await handshake(cbor, 'brief')).type).toBe(MsgType.CONNECTOK);
    daemon.unregister('brief');
    const refused = await handshake(cbor, 'brief');
    expect(refused.type).toBe(MsgType.CONNECTFAIL);
    expect(failureText(refused)).toMatch(/unknown object/);
  });
});

describe('remote attributes', () => {
  it('reads and writes getters/setters; a getter without setter is read-only', async () => {
    await using p = await openClient(daemon.uriFor('decorated'));
    await p.set('count', 41);
    expect(await p.get('count')).toBe(41);
    expect(await p.call('increment')).toBe(42);
    expect(await p.get('count')).toBe(42);
    expect(await p.get('readOnly')).toBe('fixed');
    const err = await p.set('readOnly', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteType).toBe('builtins.AttributeError');
    expect((err as Error).message).toMatch(/attempt to access unexposed attribute 'readOnly'/);
    await refused(p.get('_secret'), "attempt to access private attribute '_secret'");
  });
});

describe('auto-accessors', () => {
  it('an @expose accessor field is a remote attribute', async () => {
    await using p = await openClient(daemon.uriFor('accessor'));
    expect(await p.get('level')).toBe(1);
    await p.set('level', 5);
    expect(await p.get('level')).toBe(5);
    expect(p.metadata).toEqual({ methods: [], oneway: [], attrs: ['level'] });
    await refused(p.get('hidden'), "attempt to access unexposed attribute 'hidden'");
  });
});

describe("the daemon's refusals (raw socket, past the proxy's own checks)", () => {
  let raw: RawClient;
  let seq = 0;
  beforeAll(async () => {
    raw = await rawSession(daemon.endpoint, 'decorated');
  });
  afterAll(() => raw?.destroy());

  const call = (method: string, params: unknown[] = [], kwargs: Record<string, unknown> | null = {}) =>
    rawInvoke(raw, 'decorated', method, params, kwargs, ++seq);

  it.each([
    ['_private', "attempt to access private attribute '_private'"],
    ['_secret', "attempt to access private attribute '_secret'"],
    ['__init__', "attempt to access private attribute '__init__'"],
    ['constructor', "attempt to access private attribute 'constructor'"],
    ['__proto__', "attempt to access private attribute '__proto__'"],
    ['inherited', "attempt to access unexposed attribute 'inherited'"],
    ['shared', "'Decorated' object has no attribute 'shared'"],
    ['nothing', "'Decorated' object has no attribute 'nothing'"],
  ])('%s → AttributeError "%s"', async (method, text) => {
    const r = await call(method);
    expect(r.exception).toBe(true);
    expect(r.value).toBeInstanceOf(RemoteError);
    expect((r.value as RemoteError).remoteType).toBe('builtins.AttributeError');
    expect((r.value as RemoteError).remoteMessage).toBe(text);
  });

  it('refuses dotted names', async () => {
    const r = await call('increment.call');
    expect(r.exception).toBe(true);
    expect((r.value as RemoteError).remoteType).toBe('builtins.AttributeError');
    expect((r.value as Error).message).toContain("'increment.call'");
  });

  it('refuses private and unexposed attributes through __getattr__ / __setattr__', async () => {
    const get = await call('__getattr__', ['_secret'], null);
    expect((get.value as RemoteError).remoteMessage).toBe("attempt to access private attribute '_secret'");
    const set = await call('__setattr__', ['readOnly', 1], null);
    expect((set.value as RemoteError).remoteMessage).toBe("attempt to access unexposed attribute 'readOnly'");
    const ok = await call('__getattr__', ['count'], null);
    expect(ok.exception).toBe(false);
    expect(typeof ok.value).toBe('number');
  });

  it('the connection keeps working after refusals', async () => {
    const r = await call('increment');
    expect(r.exception).toBe(false);
    expect(typeof r.value).toBe('number');
    await delay(0);
  });
});
