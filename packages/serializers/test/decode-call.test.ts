// decodeCall of the binary formats reads the envelope straight into a CallEnvelope (no 4-item array
// first): it must give exactly what decode + callFromSequence gives — the same call, or the same
// error (class and message) — for good envelopes, bad ones, truncated and padded data, and under
// the decode budget and depth limits.
import { SerializeError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { callFromSequence } from '../src/envelope.js';
import { createSerializers, Tuple } from '../src/index.js';

type Outcome = { call: unknown } | { error: string; type: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { call: f() };
  } catch (err) {
    return { error: (err as Error).message, type: (err as Error).constructor.name };
  }
}

const envelopes: unknown[][] = [
  ['bench', 'ping', [], {}],
  ['obj', 'add', [1, 2.5, -3, 2n ** 70n], { a: 'x', b: null }],
  ['o', 'm', [new Uint8Array([1, 2, 3]), ['nested', [1, [2, [3]]]], new Map([[1, 2]])], null],
  ['ünïcode ∑', 'méthode', ['a'.repeat(100)], { k: { deep: [true, false] } }],
  [
    'o',
    '<batch>',
    [
      ['m', [1], {}],
      ['n', [], null],
    ],
    null,
  ],
  [1, 'm', [], {}],
  ['o', 2, [], {}],
  ['o', 'm', 'not a list', {}],
  ['o', 'm', [], 'not a dict'],
  ['o', 'm', [], { __class__: 'builtins.ValueError', args: ['x'] }],
];

describe.each(['cbor', 'msgpack'])('%s decodeCall', (name) => {
  const cases = (set: ReturnType<typeof createSerializers>) => {
    const s = set.byName(name)!;
    const out: Uint8Array[] = envelopes.map((e) => s.encode(e));
    const ok = out[0]!;
    out.push(s.encode(['o', 'm', [], {}, 'fifth']));
    out.push(s.encode(['o', 'm', []]));
    out.push(s.encode(Tuple.of<unknown>('o', 'm', [], {})));
    out.push(s.encode('not an envelope'));
    out.push(new Uint8Array(0));
    out.push(Buffer.concat([ok, Buffer.from([0])]));
    for (let n = 1; n < ok.length; n++) out.push(ok.subarray(0, n));
    return out;
  };

  for (const options of [{}, { maxItems: 6 }, { maxDepth: 1 }, { maxDepth: 2 }]) {
    it(`gives what decode + callFromSequence gives (${JSON.stringify(options)})`, () => {
      const fast = createSerializers(options);
      const slow = createSerializers(options);
      const s = fast.byName(name)!;
      const all = cases(createSerializers());
      let errors = 0;
      for (const data of all) {
        const want = outcome(() => callFromSequence(name, slow.byName(name)!.decode(data)));
        const got = outcome(() => s.decodeCall(data));
        expect(got).toEqual(want);
        if ('error' in got) errors++;
      }
      expect(errors).toBeGreaterThan(10);
      // the good envelopes decode (with limits, some or all of them fail as decode fails them)
      if (Object.keys(options).length === 0) expect(errors).toBeLessThan(all.length - 3);
    });
  }

  it('reads the common envelope without building the 4-item array, and stays usable after errors', () => {
    const s = createSerializers().byName(name)!;
    expect(() => s.decodeCall(s.encode(['o', 'm', [], {}, 5]))).toThrow(SerializeError);
    expect(s.decodeCall(s.encode(['bench', 'ping', [7], { x: 1 }]))).toEqual({
      object: 'bench',
      method: 'ping',
      params: [7],
      kwargs: { x: 1 },
    });
  });
});
