// The decode budget (maxItems): no payload may make a decoder create more values than the limit,
// in any serializer, and the refusal comes before the values are built. Also the size limit of
// received big integers, which keeps every later conversion of them bounded.
import { SerializeError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { createSerializers, DEFAULT_MAX_ITEMS, Tuple } from '../src/index.js';

const NAMES = ['cbor', 'json', 'msgpack', 'serpent', 'marshal'] as const;
const small = createSerializers({ maxItems: 1000 });
const standard = createSerializers();

describe.each(NAMES)('%s decode budget', (name) => {
  const s = small.byName(name)!;

  it('accepts exactly maxItems values (the root counts) and refuses one more', () => {
    const fits = Array.from({ length: 999 }, (_, i) => i);
    expect(s.decode(s.encode(fits))).toEqual(fits);
    const over = Array.from({ length: 1000 }, (_, i) => i);
    expect(() => s.decode(s.encode(over))).toThrow(SerializeError);
    expect(() => s.decode(s.encode(over))).toThrow(/more than maxItems=1000 values/);
  });

  it('counts nested values and dict keys', () => {
    // 1 outer list + 333 dicts × (1 key + 1 value) = 667 values; + 333 more elements in the dicts
    // (a second key and value each) = 1333 > 1000.
    const one = Array.from({ length: 333 }, () => ({ a: 1 }));
    expect(s.decode(s.encode(one))).toEqual(one);
    const two = Array.from({ length: 333 }, () => ({ a: 1, b: 2 }));
    expect(() => s.decode(s.encode(two))).toThrow(/more than maxItems=1000 values/);
    const lists = Array.from({ length: 400 }, () => [1, 2]);
    expect(() => s.decode(s.encode(lists))).toThrow(/more than maxItems=1000 values/);
  });

  it('refuses a payload of a million and a half empty containers with the default budget, quickly', () => {
    const std = standard.byName(name)!;
    const bomb = std.encode(Array.from({ length: 1_500_000 }, () => (name === 'serpent' ? new Tuple() : {})));
    const t0 = performance.now();
    expect(() => std.decode(bomb)).toThrow(new RegExp(`more than maxItems=${DEFAULT_MAX_ITEMS}`));
    // Refused before anything is built: from the announced counts (cbor, msgpack, marshal) or from
    // counting the text (json, serpent; formats/value-count.ts): far below the time to build them.
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('applies to call envelopes too', () => {
    const call = s.encodeCall({ object: 'o', method: 'm', params: [Array(1000).fill(0)], kwargs: {} });
    expect(() => s.decodeCall(call)).toThrow(/more than maxItems=1000 values/);
  });
});

describe('decode budget options', () => {
  it('refuses invalid values', () => {
    expect(() => createSerializers({ maxItems: 0 })).toThrow(/maxItems/);
    expect(() => createSerializers({ maxItems: 1.5 })).toThrow(/maxItems/);
  });

  it('json text whose commas sit inside strings stays on the fast path and decodes', () => {
    const s = small.byName('json')!;
    const text = ['a,b,c,d'.repeat(1000)];
    expect(s.decode(s.encode(text))).toEqual(text);
  });

  it('marshal references count as the values they expand to', () => {
    const s = small.byName('marshal')!;
    const shared = Array.from({ length: 100 }, (_, i) => i);
    // The encoder writes `shared` once and refers to it nine times: 1 + 10 × 101 values.
    const data = s.encode(Array.from({ length: 10 }, () => shared));
    expect(() => s.decode(data)).toThrow(/maxItems=1000/);
  });
});

describe('big integers', () => {
  const marshal = standard.byName('marshal')!;

  /** A marshal long (type 'l') with `n` 15-bit digits, all 0x7fff. */
  function marshalLong(n: number): Uint8Array {
    const out = Buffer.alloc(5 + 2 * n, 0xff);
    out[0] = 0x6c;
    out.writeInt32LE(n, 1);
    for (let i = 0; i < n; i++) out[6 + 2 * i] = 0x7f;
    return out;
  }

  it('marshal longs of up to 953 digits (4300 decimal digits) decode; longer ones are refused', () => {
    expect(typeof marshal.decode(marshalLong(953))).toBe('bigint');
    expect(() => marshal.decode(marshalLong(954))).toThrow(/exceeds the limit of 953/);
  });

  it('a marshal long of 10 million decimal digits is refused at once', () => {
    const t0 = performance.now();
    expect(() => marshal.decode(marshalLong(2_214_000))).toThrow(SerializeError);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it.each(['json', 'serpent', 'msgpack', 'cbor'] as const)('%s refuses ints beyond 4300 digits', (name) => {
    const s = standard.byName(name)!;
    const ok = 10n ** 4299n;
    expect(s.decode(s.encode(ok))).toBe(ok);
    const big = 10n ** 5000n;
    const enc = (() => {
      try {
        return s.encode(big);
      } catch {
        return undefined;
      }
    })();
    // Encoders that refuse such ints too cannot make the payload; write it by hand then.
    const text = `${big}`;
    const payload =
      enc ??
      (name === 'cbor'
        ? Buffer.concat([Buffer.from([0xc2, 0x59, 0x08, 0x00]), Buffer.alloc(2048, 0xff)])
        : name === 'msgpack'
          ? Buffer.concat([
              Buffer.from([0xc8, text.length >> 8, text.length & 0xff, 0x31]),
              Buffer.from(text),
            ])
          : Buffer.from(text));
    expect(() => s.decode(payload)).toThrow(SerializeError);
  });
});
