// What a proxy derives once instead of per connection: the metadata sets are shared between
// connections (and proxies) that see the same names, never between different ones.
import { resolveConfig } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { connect, describeProxy, isProxy } from '../src/index.js';
import { proxyCore } from '../src/proxy-object.js';
import { parseUri, serializersFor, toMeta } from '../src/proxy-setup.js';

describe('toMeta', () => {
  it('shares the sets while the names are the same, keeping each connection its own raw metadata', () => {
    const a = toMeta({ methods: ['ping', 'add'], oneway: ['fire'], attrs: ['x'] });
    const again = { methods: ['ping', 'add'], oneway: ['fire'], attrs: ['x'] };
    const b = toMeta(again, a);
    expect(b.methods).toBe(a.methods);
    expect(b.oneway).toBe(a.oneway);
    expect(b.attrs).toBe(a.attrs);
    expect(b.raw).toBe(again);
    // a new proxy (no current metadata) to the same kind of object reuses them too
    expect(toMeta({ methods: ['ping', 'add'], oneway: ['fire'], attrs: ['x'] }).methods).toBe(a.methods);
  });

  it('makes new sets when any list differs, also in order or length', () => {
    const a = toMeta({ methods: ['ping', 'add'], oneway: [], attrs: [] });
    for (const other of [
      { methods: ['add', 'ping'], oneway: [], attrs: [] },
      { methods: ['ping', 'add'], oneway: ['add'], attrs: [] },
      { methods: ['ping', 'add'], oneway: [], attrs: ['ping'] },
      { methods: ['ping'], oneway: [], attrs: [] },
    ]) {
      const m = toMeta(other, a);
      expect(m.methods).not.toBe(a.methods);
      expect([...m.methods]).toEqual(other.methods);
      expect([...m.oneway]).toEqual(other.oneway);
      expect([...m.attrs]).toEqual(other.attrs);
    }
  });
});

describe('recognising proxies (no WeakMap entry per proxy)', () => {
  it('finds the core of a proxy and of its $with view, and nothing for anything else', () => {
    const p = connect('PYRO:obj@127.0.0.1:9');
    const view = p.$with({ timeoutMs: 5 });
    expect(isProxy(p)).toBe(true);
    expect(proxyCore(p)?.uri.toString()).toBe('PYRO:obj@127.0.0.1:9');
    expect(proxyCore(view)).toBe(proxyCore(p));
    expect(describeProxy(p)?.uri.toString()).toBe('PYRO:obj@127.0.0.1:9');
    for (const other of [{}, [], () => 1, new Map(), Object.create(null)]) {
      expect(isProxy(other)).toBe(false);
      expect(describeProxy(other)).toBeUndefined();
    }
  });

  it("never reads a property of a value that is not one (a user's Proxy sees no trap call)", () => {
    const seen: PropertyKey[] = [];
    const trap = new Proxy(
      {},
      {
        get: (_t, prop) => {
          seen.push(prop);
          return undefined;
        },
      },
    );
    expect(isProxy(trap)).toBe(false);
    expect(describeProxy(trap)).toBeUndefined();
    expect(seen).toEqual([]);
  });
});

describe('setup shared between proxies made alike', () => {
  it('parses a uri once while the text and name-server port stay the same', () => {
    const a = parseUri('PYRONAME:thing@localhost', 9090);
    expect(parseUri('PYRONAME:thing@localhost', 9090)).toBe(a);
    const other = parseUri('PYRONAME:thing@localhost', 9999);
    expect(other).not.toBe(a);
    expect(other.port).toBe(9999);
    expect(parseUri('PYRONAME:other', 9999).object).toBe('other');
  });

  it('hands out one serializer set per resolved configuration and dialect', () => {
    const config = resolveConfig({});
    const five = serializersFor(5, config, undefined);
    expect(serializersFor(5, config, undefined)).toBe(five);
    expect(serializersFor(4, config, undefined)).not.toBe(five);
    expect(serializersFor(5, config, undefined)).toBe(five);
    const deeper = resolveConfig({ maxDepth: 7 });
    expect(serializersFor(5, deeper, undefined)).not.toBe(five);
  });

  it('a member is named after its remote method and is not a promise until awaited', () => {
    const p = connect('PYRO:obj@127.0.0.1:9') as unknown as Record<string, { name: string; then: unknown }>;
    expect(p.compute!.name).toBe('compute');
    expect(typeof p.compute!.then).toBe('function');
  });
});
