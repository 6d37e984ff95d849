// Pyro5's name server returns metadata as sets; serpent and marshal carry Python sets, so Pyro5
// clients using them get sets (their code does set operations). JSON and msgpack have no sets, and
// Cinder's own cbor and Pyro4 (protocol 48) callers keep getting lists. Checked over the wire.
import { connect, type ProxyOptions } from '@cinder/proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningNameServer, startNameServer } from '../src/index.js';

let ns: RunningNameServer;
beforeAll(async () => {
  ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
  await ns.nameServer.register('shop.printer', 'PYRO:printer@127.0.0.1:5555', false, ['floor2', 'color']);
});
afterAll(async () => {
  await ns.close();
});

type Ns = {
  lookup(name: string, returnMetadata: boolean): [string, Iterable<string>];
  list(prefix: null, regex: null, returnMetadata: boolean): Record<string, [string, Iterable<string>]>;
};

const cases: [string, 'set' | 'list', ProxyOptions][] = [
  ['Pyro5 serpent', 'set', { serializer: 'serpent' }],
  ['Pyro5 marshal', 'set', { serializer: 'marshal' }],
  ['Pyro5 json', 'list', { serializer: 'json' }],
  ['Pyro5 msgpack', 'list', { serializer: 'msgpack' }],
  ['Cinder cbor', 'list', {}],
  ['Pyro4 serpent', 'list', { serializer: 'serpent', protocol: 48 }],
];

describe('name-server metadata', () => {
  it.each(cases)('%s callers get a %s', async (_, kind, options) => {
    await using p = connect<Ns>(ns.uri, { ...options, timeoutMs: 5000 });
    const [, tags] = await p.lookup('shop.printer', true);
    const [, listed] = (await p.list(null, null, true))['shop.printer']!;
    for (const value of [tags, listed]) {
      expect(value instanceof Set ? 'set' : Array.isArray(value) ? 'list' : typeof value).toBe(kind);
      expect([...value].sort()).toEqual(['color', 'floor2']);
    }
  });
});
