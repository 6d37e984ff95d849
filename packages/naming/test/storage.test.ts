// One compliance suite for every NameStorage backend (memory, SQLite, etcd), a model-based property test
// that drives both with the same random operations, and SQLite's own promises: registrations
// survive reopening, and the file is interchangeable with Python Pyro's SqlStorage.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, NamingError } from '@cinder/core';
import { type EtcdCluster, etcdBinary, scratchDir, startEtcdCluster, stopAllEtcd } from '@cinder/test-utils';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MemoryStorage,
  type NameStorage,
  openSqliteStorage,
  openStorage,
  type SqliteStorage,
} from '../src/index.js';

const dir = scratchDir('naming');
let fileCounter = 0;
const newFile = () => join(dir, `names-${fileCounter++}.sqlite`);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// etcd: one single-member cluster for the file, a fresh key prefix per test.
let etcd: EtcdCluster | undefined;
let etcdPrefix = 0;
afterAll(stopAllEtcd);
const openEtcd = async () => {
  etcd ??= await startEtcdCluster();
  return openStorage(`etcd://${etcd.endpoints[0]}/t${process.pid}-${etcdPrefix++}`);
};

const backends: [string, () => Promise<NameStorage>][] = [
  ['memory', async () => new MemoryStorage()],
  ['sql', () => openSqliteStorage(newFile())],
  ...(etcdBinary() ? [['etcd', openEtcd] as [string, () => Promise<NameStorage>]] : []),
];

async function names(storage: NameStorage, ...args: Parameters<NameStorage['list']>): Promise<string[]> {
  return (await storage.list(...args)).map((r) => r.name);
}

/** A storage call's failure, whether it throws or rejects. */
async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return undefined;
}

for (const [kind, open] of backends) {
  describe(`NameStorage compliance: ${kind}`, () => {
    let s: NameStorage;
    beforeEach(async () => {
      s = await open();
      return async () => {
        await s.close();
      };
    });

    it('stores, finds and counts registrations', async () => {
      expect(s.kind).toBe(kind);
      expect(await s.count()).toBe(0);
      expect(await s.get('a')).toBeUndefined();
      await s.set('a', 'PYRO:a@h:1', ['x', 'y']);
      await s.set('b', 'PYRO:b@h:2', []);
      expect(await s.count()).toBe(2);
      expect(await s.has('a')).toBe(true);
      expect(await s.has('c')).toBe(false);
      const a = (await s.get('a'))!;
      expect(a.uri).toBe('PYRO:a@h:1');
      expect([...a.metadata].sort()).toEqual(['x', 'y']);
      expect((await s.get('b'))!.metadata.size).toBe(0);
    });

    it('keeps registration order; a replaced name moves to the end, new metadata does not move it', async () => {
      for (const n of ['a', 'b', 'c']) await s.set(n, `PYRO:${n}@h:1`, ['t']);
      await s.set('a', 'PYRO:a2@h:1', ['t']);
      expect(await names(s)).toEqual(['b', 'c', 'a']);
      await s.setMetadata('b', ['u', 't']);
      expect(await names(s)).toEqual(['b', 'c', 'a']);
      expect(await names(s, { metadataAny: ['t'] })).toEqual(['b', 'c', 'a']);
      expect(await names(s, { metadataAll: ['t'] })).toEqual(['b', 'c', 'a']);
      expect((await s.get('a'))!.uri).toBe('PYRO:a2@h:1');
    });

    it('replaces metadata, clears it, and refuses unknown names', async () => {
      await s.set('a', 'PYRO:a@h:1', ['x']);
      expect(await s.setMetadata('a', ['y', 'z', 'y'])).toBe(true);
      expect([...(await s.get('a'))!.metadata].sort()).toEqual(['y', 'z']);
      expect(await s.setMetadata('a', [])).toBe(true);
      expect((await s.get('a'))!.metadata.size).toBe(0);
      expect(await names(s, { metadataAny: ['x', 'y'] })).toEqual([]);
      expect(await s.setMetadata('nope', ['x'])).toBe(false);
    });

    it('deletes one or many names', async () => {
      for (const n of ['a', 'b', 'c', 'd']) await s.set(n, `PYRO:${n}@h:1`, ['t']);
      expect(await s.delete('b')).toBe(true);
      expect(await s.delete('b')).toBe(false);
      expect(await s.deleteMany(['a', 'zz', 'c', 'a'])).toBe(2);
      expect(await names(s)).toEqual(['d']);
      expect(await names(s, { metadataAny: ['t'] })).toEqual(['d']);
    });

    it('lists by prefix literally: no wildcards, case-sensitive', async () => {
      for (const n of ['a_b', 'axb', 'a%c', 'A_b', 'a*', 'a?', 'a[1]', 'a[', 'b', 'ä.x'])
        await s.set(n, 'PYRO:x@h:1', []);
      expect(await names(s, { prefix: 'a_' })).toEqual(['a_b']);
      expect(await names(s, { prefix: 'a%' })).toEqual(['a%c']);
      expect(await names(s, { prefix: 'a*' })).toEqual(['a*']);
      expect(await names(s, { prefix: 'a?' })).toEqual(['a?']);
      expect(await names(s, { prefix: 'a[' })).toEqual(['a[1]', 'a[']);
      expect(await names(s, { prefix: 'A' })).toEqual(['A_b']);
      expect(await names(s, { prefix: 'ä' })).toEqual(['ä.x']);
      expect(await names(s, { prefix: 'zz' })).toEqual([]);
    });

    it('selects by all or any of several tags, with or without metadata', async () => {
      await s.set('p', 'PYRO:p@h:1', ['printer', 'floor2']);
      await s.set('l', 'PYRO:l@h:1', ['light', 'floor1']);
      await s.set('n', 'PYRO:n@h:1', []);
      await s.set('s', 'PYRO:s@h:1', ['scanner', 'floor2']);
      expect(await names(s, { metadataAll: ['floor2'] })).toEqual(['p', 's']);
      expect(await names(s, { metadataAll: ['floor2', 'printer'] })).toEqual(['p']);
      expect(await names(s, { metadataAll: ['floor2', 'printer', 'printer'] })).toEqual(['p']);
      expect(await names(s, { metadataAll: ['floor2', 'light'] })).toEqual([]);
      expect(await names(s, { metadataAll: ['nothing'] })).toEqual([]);
      expect(await names(s, { metadataAll: [] })).toEqual([]);
      expect(await names(s, { metadataAny: ['light', 'printer', 'light'] })).toEqual(['p', 'l']);
      expect(await names(s, { metadataAny: [] })).toEqual([]);
      const withMeta = await s.list({ metadataAny: ['floor1'] }, { withMetadata: true });
      expect(withMeta.map((r) => ({ ...r, metadata: [...r.metadata].sort() }))).toEqual([
        { name: 'l', uri: 'PYRO:l@h:1', metadata: ['floor1', 'light'] },
      ]);
      expect((await s.list({ metadataAny: ['floor1'] }))[0]!.metadata).toEqual([]);
      expect((await s.list(undefined, { withMetadata: true })).find((r) => r.name === 'n')!.metadata).toEqual(
        [],
      );
    });

    it('keeps arbitrary names and tags intact', async () => {
      const odd = ['__proto__', 'constructor', '', ' ', 'é😀', 'a\nb', "it's", 'x"y', '%_*?['];
      for (const n of odd) await s.set(n, 'PYRO:x@h:1', odd);
      expect(await names(s)).toEqual(odd);
      for (const n of odd) expect([...(await s.get(n))!.metadata].sort()).toEqual([...odd].sort());
      expect(await names(s, { metadataAll: odd })).toEqual(odd);
    });

    it('fails with a NamingError once closed', async () => {
      await s.set('a', 'PYRO:a@h:1', []);
      await s.close();
      expect(await failure(() => s.set('b', 'PYRO:b@h:1', []))).toBeInstanceOf(NamingError);
      expect(await failure(() => s.list())).toBeInstanceOf(NamingError);
      expect(await failure(() => s.get('a'))).toBeInstanceOf(NamingError);
      await s.close(); // twice is fine
    });
  });
}

describe('memory, SQLite and etcd storage agree on random operation sequences', () => {
  const name = fc.constantFrom('a', 'b', 'c', 'ab', 'a_', 'ba', '%', 'a*');
  const tags = fc.uniqueArray(fc.constantFrom('t1', 't2', 't3', 't4'), { maxLength: 3 });
  const op = fc.oneof(
    fc.record({ op: fc.constant('set' as const), name, tags, port: fc.integer({ min: 1, max: 9 }) }),
    fc.record({ op: fc.constant('meta' as const), name, tags }),
    fc.record({ op: fc.constant('delete' as const), name }),
    fc.record({ op: fc.constant('deleteMany' as const), names: fc.array(name, { maxLength: 3 }) }),
  );
  it('same results for every query after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const mem = new MemoryStorage();
        const others: NameStorage[] = [await openSqliteStorage(newFile())];
        if (etcdBinary()) others.push(await openEtcd());
        try {
          const query = async (st: NameStorage) => [
            await st.count(),
            (await st.list(undefined, { withMetadata: true })).map((r) => [
              r.name,
              r.uri,
              [...r.metadata].sort(),
            ]),
            await names(st, { prefix: 'a' }),
            await names(st, { prefix: 'a_' }),
            await names(st, { metadataAll: ['t1', 't2'] }),
            await names(st, { metadataAny: ['t3', 't4'] }),
          ];
          for (const o of ops) {
            const results = [mem, ...others].map(async (st) => {
              switch (o.op) {
                case 'set':
                  return st.set(o.name, `PYRO:${o.name}@h:${o.port}`, o.tags);
                case 'meta':
                  return st.setMetadata(o.name, o.tags);
                case 'delete':
                  return st.delete(o.name);
                case 'deleteMany':
                  return st.deleteMany(o.names);
              }
              return undefined;
            });
            const [expected, ...got] = await Promise.all(results);
            for (const g of got) expect(g).toEqual(expected);
            const want = await query(mem);
            for (const st of others) expect(await query(st)).toEqual(want);
          }
        } finally {
          for (const st of others) await st.close();
        }
      }),
      { numRuns: 30 },
    );
  }, 60_000);
});

describe('SQLite storage', () => {
  it('keeps registrations and metadata when the file is opened again', async () => {
    const file = newFile();
    const a = await openSqliteStorage(file);
    a.set('x', 'PYRO:x@h:1', ['t1', 't2']);
    a.set('y', 'PYRO:y@h:2', []);
    a.close();
    const b = (await openStorage(`sql:${file}`)) as SqliteStorage;
    expect(b.kind).toBe('sql');
    expect(
      b.list(undefined, { withMetadata: true }).map((r) => [r.name, r.uri, [...r.metadata].sort()]),
    ).toEqual([
      ['x', 'PYRO:x@h:1', ['t1', 't2']],
      ['y', 'PYRO:y@h:2', []],
    ]);
    b.close();
  });

  it('refuses bad storage specs and files', async () => {
    await expect(openStorage('redis:x')).rejects.toThrow(ConfigError);
    await expect(openStorage('sql:')).rejects.toThrow(ConfigError);
    await expect(openStorage('sql::memory:')).rejects.toThrow(ConfigError);
    await expect(openSqliteStorage(join(dir, 'no-such-dir', 'x.sqlite'))).rejects.toThrow(
      /cannot open name server database/,
    );
  });

  const hasPyro4 =
    spawnSync('/usr/bin/python3', ['-c', 'import Pyro4.naming_storage'], { timeout: 10_000 }).status === 0;

  describe.skipIf(!hasPyro4)('file compatibility with Python Pyro4 SqlStorage', () => {
    const py = (script: string, file: string) => {
      const run = spawnSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8', timeout: 15_000 });
      expect(run.stderr).toBe('');
      return run.stdout;
    };

    it('reads what Pyro wrote', async () => {
      const file = newFile();
      py(
        `import sys
from Pyro4.naming_storage import SqlStorage
s = SqlStorage(sys.argv[1])
s["py.one"] = ("PYRO:one@localhost:1", {"a", "b"})
s["py.two"] = ("PYRO:two@localhost:2", set())`,
        file,
      );
      const s = await openSqliteStorage(file);
      expect(
        s.list(undefined, { withMetadata: true }).map((r) => [r.name, r.uri, [...r.metadata].sort()]),
      ).toEqual([
        ['py.one', 'PYRO:one@localhost:1', ['a', 'b']],
        ['py.two', 'PYRO:two@localhost:2', []],
      ]);
      s.close();
    });

    it('writes what Pyro reads', async () => {
      const file = newFile();
      const s = await openSqliteStorage(file);
      s.set('js.one', 'PYRO:one@localhost:1', ['x', 'y']);
      s.set('js.two', 'PYRO:two@localhost:2', []);
      s.close();
      const out = py(
        `import sys, json
from Pyro4.naming_storage import SqlStorage
s = SqlStorage(sys.argv[1])
print(json.dumps({k: [v[0], sorted(v[1])] for k, v in sorted(s.everything(return_metadata=True).items())}))`,
        file,
      );
      expect(JSON.parse(out)).toEqual({
        'js.one': ['PYRO:one@localhost:1', ['x', 'y']],
        'js.two': ['PYRO:two@localhost:2', []],
      });
    });
  });
});
