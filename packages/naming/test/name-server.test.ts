// The NameServer object's contract — Pyro5's arguments, results and errors, Pyro4's list filters,
// what Cinder refuses on purpose — first called directly, then over the wire with keyword arguments
// the way Python clients call it, so the errors are checked as a client receives them.
import { InvalidUriError, NAMESERVER_NAME, NamingError, URI } from '@cinder/core';
import { connect } from '@cinder/proxy';
import { Tuple } from '@cinder/serializers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NAMESERVER_TAGS, NameServer, type RunningNameServer, startNameServer } from '../src/index.js';

describe('NameServer (called directly)', () => {
  let ns: NameServer;
  beforeEach(() => {
    ns = new NameServer();
    ns.registerSelf(URI.parse('PYRO:Pyro.NameServer@127.0.0.1:9090'), NAMESERVER_TAGS);
  });

  it('registers and looks up, with and without metadata', () => {
    expect(ns.register('my.obj', 'PYRO:obj_1@localhost:5555', false, ['printer', 'floor2'])).toBeNull();
    const uri = ns.lookup('my.obj');
    expect(uri).toBeInstanceOf(URI);
    expect(String(uri)).toBe('PYRO:obj_1@localhost:5555');
    const withMeta = ns.lookup('my.obj', true);
    expect(withMeta).toBeInstanceOf(Tuple);
    expect(String((withMeta as unknown[])[0])).toBe('PYRO:obj_1@localhost:5555');
    expect([...((withMeta as unknown[])[1] as string[])].sort()).toEqual(['floor2', 'printer']);
    expect(ns.count()).toBe(2);
    expect(ns.ping()).toBeNull();
  });

  it('accepts URI objects, sets and tuples, and stores uris normalised', () => {
    ns.register('a', URI.parse('PYRO:a@localhost:1'), false, new Set(['x']));
    ns.register('b', 'pyro:b@localhost:2', false, Tuple.of<unknown>('y'));
    expect(ns.list(null, null, true)).toMatchObject({
      a: ['PYRO:a@localhost:1', ['x']],
      b: ['PYRO:b@localhost:2', ['y']],
    });
  });

  it('refuses to replace a registration when safe', () => {
    ns.register('a', 'PYRO:a@localhost:1');
    expect(() => ns.register('a', 'PYRO:other@localhost:1', true)).toThrow(
      new NamingError('name already registered: a'),
    );
    ns.register('a', 'PYRO:other@localhost:1');
    expect(String(ns.lookup('a'))).toBe('PYRO:other@localhost:1');
  });

  it('says which name is unknown', () => {
    expect(() => ns.lookup('no.such.name')).toThrow(new NamingError('unknown name: no.such.name'));
    expect(() => ns.set_metadata('no.such.name', ['x'])).toThrow(
      new NamingError('unknown name: no.such.name'),
    );
  });

  it('validates its arguments like Pyro', () => {
    expect(() => ns.register(5, 'PYRO:a@localhost:1')).toThrow(new TypeError('name must be a str'));
    expect(() => ns.register('a', 5)).toThrow(new TypeError('only URIs or strings can be registered'));
    expect(() => ns.register('a', 'PYRO:a')).toThrow(InvalidUriError);
    expect(() => ns.register('a', 'not a uri')).toThrow(InvalidUriError);
    expect(() => ns.register('a', 'PYRO:a@localhost:1', false, 'printer')).toThrow(
      new TypeError('metadata should not be a str, but another iterable (set, list, etc)'),
    );
    expect(() => ns.register('a', 'PYRO:a@localhost:1', false, 5)).toThrow(/'int' object is not iterable/);
    expect(() => ns.register('a', 'PYRO:a@localhost:1', false, [1])).toThrow(/metadata items must be str/);
    expect(() => ns.lookup(['a'])).toThrow(new TypeError('name must be a str'));
    expect(() => ns.set_metadata('a', 'x')).toThrow(TypeError);
    expect(() => ns.list(null, null, false, 'printer')).toThrow(/metadata_all should not be a str/);
    expect(() => ns.yplookup(null, 'printer')).toThrow(/metadata_any should not be a str/);
  });

  it('takes dotted names (Pyro does) but refuses an empty one (no PYRONAME could name it)', () => {
    ns.register('a.b.c', 'PYRO:a@localhost:1');
    expect(String(ns.lookup('a.b.c'))).toBe('PYRO:a@localhost:1');
    expect(() => ns.register('', 'PYRO:a@localhost:1')).toThrow(NamingError);
    expect(() => ns.register('', 'PYRO:a@localhost:1')).toThrow(/must not be empty/);
  });

  it('protects its own registration', () => {
    expect(() => ns.register(NAMESERVER_NAME, 'PYRO:evil@localhost:1')).toThrow(NamingError);
    expect(ns.remove(NAMESERVER_NAME)).toBe(0);
    expect(ns.remove(null, 'Pyro.')).toBe(0);
    expect(ns.remove(null, null, '.*')).toBe(0);
    expect(String(ns.lookup(NAMESERVER_NAME))).toBe('PYRO:Pyro.NameServer@127.0.0.1:9090');
  });

  it('lists everything, by prefix, by regex (anchored at the start only) and by Pyro4 metadata filters', () => {
    ns.register('example.printer', 'PYRO:p@localhost:1', false, ['printer', 'floor2']);
    ns.register('example.scanner', 'PYRO:s@localhost:2');
    ns.register('other.lamp', 'PYRO:l@localhost:3', false, ['light', 'floor1']);
    expect(Object.keys(ns.list())).toEqual([
      NAMESERVER_NAME,
      'example.printer',
      'example.scanner',
      'other.lamp',
    ]);
    expect(ns.list('example.')).toEqual({
      'example.printer': 'PYRO:p@localhost:1',
      'example.scanner': 'PYRO:s@localhost:2',
    });
    expect(Object.keys(ns.list(null, '.*\\.(printer|lamp)$'))).toEqual(['example.printer', 'other.lamp']);
    expect(Object.keys(ns.list(null, 'printer'))).toEqual([]);
    expect(Object.keys(ns.list(null, 'example'))).toEqual(['example.printer', 'example.scanner']);
    expect(Object.keys(ns.list(null, null, false, ['printer', 'floor2']))).toEqual(['example.printer']);
    expect(Object.keys(ns.list(null, null, false, null, ['floor1', 'printer']))).toEqual([
      'example.printer',
      'other.lamp',
    ]);
    expect(ns.list('other', null, true)).toEqual({
      'other.lamp': Tuple.of<unknown>('PYRO:l@localhost:3', ['light', 'floor1']),
    });
    expect(ns.list('example.scanner', null, true)).toEqual({
      'example.scanner': Tuple.of<unknown>('PYRO:s@localhost:2', []),
    });
    // Python truthiness: an empty prefix or filter list means no filter.
    expect(Object.keys(ns.list(''))).toHaveLength(4);
  });

  it('allows one filter at a time', () => {
    expect(() => ns.list('a', 'b')).toThrow(new RangeError('you can only filter on one thing at a time'));
    expect(() => ns.list('a', null, false, ['x'])).toThrow(RangeError);
    expect(() => ns.yplookup(['a'], ['b'])).toThrow(
      new RangeError("you can't use meta_all or meta_any at the same time"),
    );
  });

  it('reports a bad regex as a NamingError', () => {
    expect(() => ns.list(null, '(unclosed')).toThrow(NamingError);
    expect(() => ns.list(null, '(unclosed')).toThrow(/^invalid regex/);
    expect(() => ns.remove(null, null, '[a')).toThrow(NamingError);
  });

  it('does yellow-pages lookups', () => {
    ns.register('example.printer', 'PYRO:p@localhost:1', false, ['printer', 'floor2']);
    ns.register('other.lamp', 'PYRO:l@localhost:3', false, ['light', 'floor1']);
    expect(ns.yplookup(['printer', 'floor2'])).toEqual({
      'example.printer': Tuple.of<unknown>('PYRO:p@localhost:1', ['printer', 'floor2']),
    });
    expect(ns.yplookup(null, ['light'], false)).toEqual({ 'other.lamp': 'PYRO:l@localhost:3' });
    expect(Object.keys(ns.yplookup(['class:Pyro4.naming.NameServer']))).toEqual([NAMESERVER_NAME]);
    expect(Object.keys(ns.yplookup(['class:Pyro5.nameserver.NameServer']))).toEqual([NAMESERVER_NAME]);
    expect(ns.yplookup()).toEqual({});
  });

  it('sets and clears metadata', () => {
    ns.register('a', 'PYRO:a@localhost:1', false, ['x']);
    ns.set_metadata('a', ['y', 'z']);
    expect(ns.lookup('a', true)).toEqual(Tuple.of<unknown>(URI.parse('PYRO:a@localhost:1'), ['y', 'z']));
    ns.set_metadata('a', null);
    expect(ns.lookup('a', true)).toEqual(Tuple.of<unknown>(URI.parse('PYRO:a@localhost:1'), []));
  });

  it('removes by name, prefix and regex and counts what it removed', () => {
    for (const n of ['a.1', 'a.2', 'b.1', 'b.2', 'c']) ns.register(n, 'PYRO:x@localhost:1');
    expect(ns.remove('a.1')).toBe(1);
    expect(ns.remove('a.1')).toBe(0);
    expect(ns.remove(null, 'b.')).toBe(2);
    expect(ns.remove(null, null, 'a\\.')).toBe(1);
    expect(ns.remove()).toBe(0);
    expect(Object.keys(ns.list())).toEqual([NAMESERVER_NAME, 'c']);
  });

  it('keeps names such as __proto__ as ordinary keys in listings', () => {
    ns.register('__proto__', 'PYRO:x@localhost:1');
    const listing = ns.list('__');
    expect(Object.keys(listing)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(listing)).toBe(Object.prototype);
  });
});

describe('NameServer over the wire (keyword arguments, as Python calls it)', () => {
  let running: RunningNameServer;
  beforeAll(async () => {
    running = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
  });
  afterAll(async () => {
    await running?.close();
  });

  for (const [label, options] of [
    ['cbor (Cinder)', {}],
    ['json (Pyro5)', { serializer: 'json' }],
    ['serpent (Pyro4)', { protocol: 48 as const, serializer: 'serpent' }],
  ] as const) {
    it(`register, lookup and list with ${label}`, async () => {
      const p = connect<Record<string, (...a: unknown[]) => Promise<unknown>>>(running.uri, options);
      try {
        const name = `wire.${label.split(' ')[0]}`;
        await p.$call('register', [name, 'PYRO:obj@localhost:5555'], {
          kwargs: { metadata: ['m1', 'm2'], safe: true },
        });
        const [uri, tags] = (await p.$call('lookup', [name], { kwargs: { return_metadata: true } })) as [
          URI,
          string[],
        ];
        expect(uri).toBeInstanceOf(URI);
        expect(uri.toString()).toBe('PYRO:obj@localhost:5555');
        expect([...tags].sort()).toEqual(['m1', 'm2']);
        expect(await p.$call('list', [], { kwargs: { prefix: name } })).toEqual({
          [name]: 'PYRO:obj@localhost:5555',
        });
        expect(
          await p.$call('yplookup', [], { kwargs: { meta_any: ['m2'], return_metadata: false } }),
        ).toMatchObject({
          [name]: 'PYRO:obj@localhost:5555',
        });
        await expect(p.$call('lookup', ['nope'])).rejects.toThrow(new NamingError('unknown name: nope'));
        await expect(
          p.$call('register', [name, 'PYRO:x@localhost:1'], { kwargs: { safe: true } }),
        ).rejects.toThrow(NamingError);
        await expect(p.$call('register', [5, 'PYRO:x@localhost:1'])).rejects.toThrow(/name must be a str/);
        await expect(p.$call('register', ['x', 'PYRO:x'])).rejects.toThrow(/invalid uri/);
        await expect(p.$call('list', [], { kwargs: { prefix: 'a', regex: 'b' } })).rejects.toThrow(
          /one thing at a time/,
        );
        await expect(p.$call('list', [], { kwargs: { regex: '(' } })).rejects.toThrow(NamingError);
        expect(await p.$call('remove', [], { kwargs: { name } })).toBe(1);
      } finally {
        await p.$release();
      }
    });
  }

  it('tells a Python-style client the exact Python exception types', async () => {
    const p = connect<Record<string, (...a: unknown[]) => Promise<unknown>>>(running.uri, {
      serializer: 'json',
    });
    try {
      const err = await p.$call('register', [5, 'PYRO:x@localhost:1']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      const err2 = await p
        .$call('list', [], { kwargs: { prefix: 'a', regex: 'b' } })
        .catch((e: unknown) => e);
      expect(err2).toBeInstanceOf(RangeError);
    } finally {
      await p.$release();
    }
  });
});
