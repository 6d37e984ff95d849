// decodeBatchCall (cbor, msgpack): a `<batch>` call's calls are decoded one at a time as they are
// iterated, after a walk over the whole payload under decode's rules. What it yields must be what
// decodeCall reads, and whatever decodeCall would refuse or must judge itself (tags, exts, class
// dicts) makes it return null, so the caller's eager decode refuses or reads it exactly as before.
import { SerializeError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import {
  type CallEnvelope,
  Complex,
  createSerializers,
  QueuedCalls,
  type Serializer,
  Tuple,
} from '../src/index.js';

const NAMES = ['cbor', 'msgpack'] as const;

function batch(calls: unknown[], kwargs: Record<string, unknown> | null = null): CallEnvelope {
  return { object: 'obj.1', method: '<batch>', params: calls, kwargs };
}

const plainCalls: unknown[] = [
  ['multiply', [7, 6], {}],
  ['add', [-10, 2 ** 40, -(2 ** 40), 2 ** 60, 2n ** 63n, -(2n ** 62n)], {}],
  ['f', [1.5, Math.PI, -0, Number.NaN, Number.POSITIVE_INFINITY], { a: 1, b: 'two' }],
  ['strings', ['', 'x', 'ünïcødé ✓', 'a'.repeat(100), '日本語'.repeat(40)], {}],
  ['bytes', [new Uint8Array([1, 2, 3]), new Uint8Array(70_000).fill(7)], {}],
  ['nested', [[1, [2, [3]]], { k: [1, { v: null }] }, true, false, null], {}],
  [
    'keys',
    [
      new Map<unknown, unknown>([
        [1, 'one'],
        ['s', 2],
      ]),
    ],
    {},
  ],
  ['proto', [JSON.parse('{"__proto__": 1, "x": 2}')], {}],
  ['empty', [], {}],
];

describe.each(NAMES)('%s decodeBatchCall', (name) => {
  const set = createSerializers();
  const s = set.byName(name) as Serializer & Required<Pick<Serializer, 'decodeBatchCall'>>;

  it('yields, call by call, exactly what decodeCall reads', () => {
    const data = s.encodeCall(batch(plainCalls));
    const eager = s.decodeCall(data);
    const lazy = s.decodeBatchCall(data)!;
    expect(lazy).not.toBeNull();
    expect(lazy.object).toBe('obj.1');
    expect(lazy.method).toBe('<batch>');
    expect(lazy.kwargs).toBeNull();
    expect(lazy.params).toEqual([]);
    expect(lazy.batch!.length).toBe(plainCalls.length);
    expect([...lazy.batch!]).toEqual(eager.params);
    // iterating again decodes again, the same
    expect([...lazy.batch!]).toEqual(eager.params);
  });

  it('reads a batch of 40,000 calls and the envelope kwargs', () => {
    const calls = Array.from({ length: 40_000 }, (_, i) => [i % 2 ? 'add' : 'multiply', [i, 6], {}]);
    const data = s.encodeCall(batch(calls, { k: 'v' }));
    const lazy = s.decodeBatchCall(data)!;
    expect(lazy.kwargs).toEqual({ k: 'v' });
    expect(lazy.batch!.length).toBe(40_000);
    let i = 0;
    let wrong = 0;
    for (const call of lazy.batch!) {
      const [method, args, kwargs] = call as [string, number[], object];
      if (method !== calls[i]![0] || args.length !== 2 || args[0] !== i || args[1] !== 6) wrong++;
      if (Object.keys(kwargs).length !== 0) wrong++;
      i++;
    }
    expect([i, wrong]).toEqual([40_000, 0]);
  });

  it('is not disturbed by other decodes on the same serializer between calls', () => {
    const data = s.encodeCall(batch(plainCalls));
    const eager = s.decodeCall(data);
    const got: unknown[] = [];
    for (const call of s.decodeBatchCall(data)!.batch!) {
      got.push(call);
      expect(s.decode(s.encode({ other: [1, 2, 3] }))).toEqual({ other: [1, 2, 3] });
      expect(s.decodeCall(s.encodeCall(batch([['x', [1], {}]])))).toMatchObject({ method: '<batch>' });
    }
    expect(got).toEqual(eager.params);
  });

  it('leaves tags, exts and class dicts to the eager decode (null)', () => {
    for (const arg of [
      new Date(1_700_000_000_000),
      new Complex(1, 2),
      2n ** 70n,
      { __class__: 'x.Y', a: 1 },
    ]) {
      const data = s.encodeCall(
        batch([
          ['ok', [1], {}],
          ['m', [arg], {}],
        ]),
      );
      expect(s.decodeBatchCall(data)).toBeNull();
      expect(s.decodeCall(data).params).toHaveLength(2);
    }
    if (name === 'cbor') {
      const data = s.encodeCall(batch([['m', [new Set([1])], {}]]));
      expect(s.decodeBatchCall(data)).toBeNull();
      expect(s.decodeCall(data).params).toEqual([['m', [new Set([1])], {}]]);
    }
  });

  it('returns null for whatever decodeCall refuses, anywhere in the payload', () => {
    const good = s.encodeCall(
      batch([
        ['first', [1], {}],
        ['zzzz', [2], {}],
      ]),
    );
    const bad: Uint8Array[] = [];
    bad.push(good.subarray(0, good.length - 1)); // truncated
    bad.push(Buffer.concat([good, Buffer.from([0])])); // extra data
    const utf8 = Buffer.from(good);
    utf8[utf8.indexOf('zzzz')] = 0xff; // invalid UTF-8 in the last call
    bad.push(utf8);
    bad.push(
      s.encodeCall({ object: 'o', method: '<batch>', params: [['m', [], {}]], kwargs: null }).subarray(1),
    );
    bad.push(s.encode(['o', '<batch>', [['m', [], {}]]])); // 3 items
    bad.push(s.encode([1, '<batch>', [['m', [], {}]], null])); // object not a string
    bad.push(s.encode(['o', '<batch>', [['m', [], {}]], [1]])); // kwargs not a dict
    bad.push(s.encode(['o', '<batch>', 'calls', null])); // params not a list
    for (const data of bad) {
      expect(s.decodeBatchCall(data)).toBeNull();
      expect(() => s.decodeCall(data)).toThrow(SerializeError);
    }
  });

  it('charges the decode budget for the whole batch before any call is decoded', () => {
    const small = createSerializers({ maxItems: 100 }).byName(name)!;
    // root 1 + 4 envelope parts + per call: 1 (in the list) + 3 (its parts) + its args
    // 15 calls of 2 args (6 each) + 1 of 1 arg (5): 1 + 4 + 90 + 5 = 100, exactly the budget
    const fits = [...Array.from({ length: 15 }, () => ['m', [1, 2], null]), ['m', [1], null]];
    const fitsData = small.encodeCall(batch(fits));
    expect(small.decodeBatchCall!(fitsData)!.batch!.length).toBe(16);
    expect([...small.decodeBatchCall!(fitsData)!.batch!]).toEqual(fits);
    expect(small.decodeCall(fitsData).params).toEqual(fits);
    // 16 calls of 2 args: 101
    const over = small.encodeCall(batch(Array.from({ length: 16 }, () => ['m', [1, 2], null])));
    expect(small.decodeBatchCall!(over)).toBeNull();
    expect(() => small.decodeCall(over)).toThrow(/more than maxItems=100 values/);
  });

  it('returns null when the calls nest deeper than maxDepth', () => {
    const shallow = createSerializers({ maxDepth: 5 }).byName(name)!;
    // envelope 1, list of calls 2, call 3, args 4, then [[x]] 5 and 6
    const ok = shallow.encodeCall(batch([['m', [[1]], {}]]));
    expect([...shallow.decodeBatchCall!(ok)!.batch!]).toEqual([['m', [[1]], {}]]);
    const deep = Buffer.from(s.encodeCall(batch([['m', [[[1]]], {}]])));
    expect(shallow.decodeBatchCall!(deep)).toBeNull();
    expect(() => shallow.decodeCall(deep)).toThrow(/maxDepth=5/);
  });
});

// QueuedCalls: a batch being sent, queued flat. Every format writes exactly the bytes of the list
// of calls built the way Pyro's batch proxy sends it (`[method, args, kwargs]`, kwargs `{}` when
// none; tuples in serpent and marshal), and a Cinder peer reads back the calls queued.
describe.each(['cbor', 'msgpack', 'json', 'serpent', 'marshal'] as const)('%s QueuedCalls', (name) => {
  const s = createSerializers().byName(name)!;
  const queued: [string, unknown[], Record<string, unknown> | null][] = [
    ['multiply', [7, 6], null],
    ['kw', [1], { a: 'b', n: [1, 2] }],
    ['none', [], null],
    ['mixed', ['x', 1.5, null, true, [1, [2]], { k: 'v' }, new Uint8Array([1, 2])], {}],
  ];

  it('encodes the same bytes as the list of calls', () => {
    const q = new QueuedCalls();
    for (const [m, a, k] of queued) q.add(m, a, k);
    expect(q.length).toBe(queued.length);
    const tuples = name === 'serpent' || name === 'marshal';
    const list = queued.map(([m, a, k]) =>
      tuples ? Tuple.of<unknown>(m, Tuple.fromArray(a), k ?? {}) : [m, a, k ?? {}],
    );
    const envelope = { object: 'obj.1', method: '<batch>', kwargs: null };
    const flat = s.encodeCall({ ...envelope, params: [], batch: q });
    expect(Buffer.from(flat)).toEqual(Buffer.from(s.encodeCall({ ...envelope, params: list })));
    if (s.encodeCallParts !== undefined) {
      expect(Buffer.concat(s.encodeCallParts({ ...envelope, params: [], batch: q }))).toEqual(
        Buffer.from(flat),
      );
    }
    const back = s
      .decodeCall(flat)
      .params.map((c) => [...(c as unknown[])].map((x) => (x instanceof Tuple ? [...x] : x)));
    expect(back).toEqual(queued.map(([m, a, k]) => [m, a, k ?? {}]));
  });

  it('writes thousands of calls across the queue chunks, and a call longer than a chunk', () => {
    const q = new QueuedCalls();
    const list: unknown[] = [];
    const tuples = name === 'serpent' || name === 'marshal';
    for (let i = 0; i < 10_000; i++) {
      const args =
        i === 5000 ? Array.from({ length: 5000 }, (_, k) => k) : Array.from({ length: i % 7 }, () => i);
      const kwargs = i % 3 === 0 ? null : { i };
      q.add(`m${i % 5}`, args, kwargs);
      list.push(
        tuples
          ? Tuple.of<unknown>(`m${i % 5}`, Tuple.fromArray(args), kwargs ?? {})
          : [`m${i % 5}`, args, kwargs ?? {}],
      );
    }
    expect(q.length).toBe(10_000);
    const envelope = { object: 'obj.1', method: '<batch>', kwargs: null };
    const flat = Buffer.from(s.encodeCall({ ...envelope, params: [], batch: q }));
    expect(flat.equals(Buffer.from(s.encodeCall({ ...envelope, params: list })))).toBe(true);
  });

  it('copies the arguments when queued, as a Python *args tuple', () => {
    const q = new QueuedCalls();
    const args = [1, 2];
    q.add('m', args, null);
    args[0] = 99;
    expect([...q]).toEqual([['m', [1, 2], {}]]);
  });
});
