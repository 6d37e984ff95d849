// What a proxy derives once instead of per connection: the metadata sets are shared between
// connections (and proxies) that see the same names, never between different ones.
import { describe, expect, it } from 'vitest';
import { toMeta } from '../src/proxy-setup.js';

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
