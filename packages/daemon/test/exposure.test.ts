// Exposure across the wire: what a client sees (metadata in the handshake) and may call, for every
// way of exposing (decorators, `expose(Class, names)`, `oneway(Class, name)`, object literals,
// `exposeAll({ inherited })`), remote attributes through getters/setters, and Pyro's refusal texts
// for private, dotted, unexposed and missing names (sent from a raw socket, since a proxy refuses
// them locally before anything reaches the daemon).
import { RemoteError } from '@cinder/core';
import { connect } from '@cinder/proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, expose, exposeAll, oneway } from '../src/index.js';
import { delay, type RawClient, rawInvoke, rawSession } from './helpers.js';

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

describe('what the handshake tells the client', () => {
  it('decorated class: own public methods and accessors, a marked base member, no private or static ones', async () => {
    await using p = connect<Decorated>(daemon.uriFor('decorated'));
    await p.$bind();
    expect(sorted(p.$metadata?.methods)).toEqual(
      ['__dunder__', 'increment', 'markedInBase', 'usesHidden'].sort(),
    );
    expect(sorted(p.$metadata?.attrs)).toEqual(['count', 'readOnly']);
    expect(p.$metadata?.oneway).toEqual([]);
    expect(await p.increment()).toBe(1);
    expect(await p.markedInBase()).toBe('marked in base');
    expect(await p.usesHidden()).toBe('hash private');
    expect(await p.$call('__dunder__')).toBe('dunder');
    await expect(p.$call('inherited')).rejects.toThrow(/no exposed attribute or method 'inherited'/);
    await expect(p.$call('shared')).rejects.toThrow(/no exposed attribute or method 'shared'/);
  });

  it('exposeAll({ inherited: true }) adds base-class members', async () => {
    await using p = connect<WithInherited>(daemon.uriFor('inherited'));
    expect(await p.inherited()).toBe('base');
    expect(await p.own()).toBe('own');
    expect(sorted(p.$metadata?.methods)).toEqual(['inherited', 'markedInBase', 'own']);
  });

  it('member-level @expose exposes only the marked members', async () => {
    await using p = connect<MemberLevel>(daemon.uriFor('member'));
    expect(await p.visible()).toBe('visible');
    expect(await p.level).toBe(3);
    expect(p.$metadata).toEqual({ methods: ['visible'], oneway: [], attrs: ['level'] });
    await expect(p.$call('invisible')).rejects.toThrow(/no exposed attribute or method 'invisible'/);
  });

  it('expose(Class, names) and oneway(Class, name) without decorators', async () => {
    await using p = connect<Plain>(daemon.uriFor('plain'));
    expect(await p.add(2, 3)).toBe(5);
    expect(sorted(p.$metadata?.methods)).toEqual(['add', 'notify', 'seen']);
    expect(p.$metadata?.oneway).toEqual(['notify']);
    expect(p.$metadata?.attrs).toEqual(['size']);
    // oneway: resolves before the method has run on the server (it has not even been read yet)
    const sent = p.notify('first');
    expect(plain.events).toEqual([]);
    expect(await sent).toBeUndefined();
    await expect.poll(() => p.seen(), { timeout: 2000 }).toEqual(['first']);
    expect(await p.size).toBe(1);
    await expect(p.$call('notListed')).rejects.toThrow(/no exposed attribute or method 'notListed'/);
  });

  it('expose(object literal) exposes its own public methods and accessors', async () => {
    await using p = connect<typeof literal>(daemon.uriFor('literal'));
    expect(await p.double(21)).toBe(42);
    expect(p.$metadata).toEqual({ methods: ['double'], oneway: [], attrs: ['state2'] });
    expect(await p.$get('state2')).toBe(2);
  });
});

describe('remote attributes', () => {
  it('reads and writes getters/setters; a getter without setter is read-only', async () => {
    await using p = connect<Decorated>(daemon.uriFor('decorated'));
    await p.$set('count', 41);
    expect(await p.count).toBe(41);
    expect(await p.increment()).toBe(42);
    expect(await p.$get('count')).toBe(42);
    expect(await p.readOnly).toBe('fixed');
    const err = await p.$set('readOnly', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteType).toBe('builtins.AttributeError');
    expect((err as Error).message).toMatch(/attempt to access unexposed attribute 'readOnly'/);
    await expect(p.$get('_secret')).rejects.toThrow(/no exposed attribute or method '_secret'/);
  });
});

describe('auto-accessors', () => {
  it('an @expose accessor field is a remote attribute', async () => {
    await using p = connect<WithAccessor>(daemon.uriFor('accessor'));
    expect(await p.level).toBe(1);
    await p.$set('level', 5);
    expect(await p.$get('level')).toBe(5);
    expect(p.$metadata).toEqual({ methods: [], oneway: [], attrs: ['level'] });
    await expect(p.$get('hidden')).rejects.toThrow(/no exposed attribute or method 'hidden'/);
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
