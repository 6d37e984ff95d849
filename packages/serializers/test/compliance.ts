// The compliance suite every Serializer runs (cbor, json, msgpack, serpent, marshal): round trips of
// the whole value model (with each format's documented losses), call envelopes, errors, registered
// classes, hooks, hostile input and big payloads. Format-specific expectations live in FORMATS below.
import {
  CinderError,
  DaemonError,
  MessageTooLargeError,
  ProtocolError,
  RemoteError,
  SecurityError,
  SerializeError,
  URI,
} from '@cinder/core';
import { createPyRender } from '@cinder/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClassRegistry,
  type CodecHooks,
  Complex,
  ExceptionWrapper,
  type Serializer,
  type SerializerOptions,
  Tuple,
} from '../src/index.js';
import { expectedAfterRoundTrip, type RoundTripTraits } from './round-trip.js';

export type MakeSerializer = (options?: SerializerOptions) => Serializer;

const { canon } = createPyRender({ Tuple, Complex });

/** What each format loses or changes on a round trip, and how to build hostile payloads for it. */
interface FormatTraits extends RoundTripTraits {
  complex: boolean;
  /** Containers carry 16- or 32-bit counts by size (msgpack, cbor), so >65,535 items need a test. */
  sizedHeaders: boolean;
  /** A payload nesting `n` lists. */
  deep(n: number): Uint8Array;
  /** A payload of one dict whose only key is `key` (value 1). */
  dictWithKey(key: string): Uint8Array;
}

const textBytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const SERPENT_HEADER = '# serpent utf-8 python3.2\n';

function marshalDeep(n: number): Uint8Array {
  // TYPE_LIST '[' with a 4-byte count of 1, n times, then None.
  const out = Buffer.alloc(n * 5 + 1);
  for (let i = 0; i < n; i++) out.set([0x5b, 1, 0, 0, 0], i * 5);
  out[n * 5] = 0x4e;
  return out;
}

function marshalDict(key: string): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  const head = Buffer.from([0x7b, 0x75, k.length, 0, 0, 0]);
  return Buffer.concat([head, k, Buffer.from([0xe9, 1, 0, 0, 0, 0x30])]);
}

function msgpackDict(key: string): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  return Buffer.concat([Buffer.from([0x81, 0xa0 | k.length]), k, Buffer.from([0x01])]);
}

function cborDict(key: string): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  return Buffer.concat([Buffer.from([0xa1, 0x60 | k.length]), k, Buffer.from([0x01])]);
}

export const FORMATS: Record<string, FormatTraits> = {
  cbor: {
    sizedHeaders: true,
    tuples: false,
    sets: true,
    jsonKeys: false,
    complex: true,
    dates: true,
    emptySetIsTuple: false,
    deep: (n) => Buffer.concat([Buffer.alloc(n, 0x81), Buffer.from([0xf6])]),
    dictWithKey: cborDict,
  },
  msgpack: {
    sizedHeaders: true,
    tuples: false,
    sets: false,
    jsonKeys: false,
    complex: true,
    dates: true,
    emptySetIsTuple: false,
    deep: (n) => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0xc0])]),
    dictWithKey: msgpackDict,
  },
  json: {
    sizedHeaders: false,
    tuples: false,
    sets: false,
    jsonKeys: true,
    complex: false,
    dates: false,
    emptySetIsTuple: false,
    deep: (n) => textBytes(`${'['.repeat(n)}${']'.repeat(n)}`),
    dictWithKey: (key) => textBytes(`{${JSON.stringify(key)}: 1}`),
  },
  serpent: {
    sizedHeaders: false,
    tuples: true,
    sets: true,
    jsonKeys: false,
    complex: true,
    dates: false,
    emptySetIsTuple: true,
    deep: (n) => textBytes(`${SERPENT_HEADER}${'['.repeat(n)}${']'.repeat(n)}`),
    dictWithKey: (key) => textBytes(`${SERPENT_HEADER}{${JSON.stringify(key)}:1}`),
  },
  marshal: {
    sizedHeaders: false,
    tuples: true,
    sets: true,
    jsonKeys: false,
    complex: true,
    dates: false,
    emptySetIsTuple: false,
    deep: marshalDeep,
    dictWithKey: marshalDict,
  },
};

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Named samples of every kind of model value. */
export function sampleValues(t: FormatTraits): [string, unknown][] {
  const samples: [string, unknown][] = [
    ['None', null],
    ['True', true],
    ['False', false],
    ['zero', 0],
    ['small negative', -1],
    ['int32 max', 2 ** 31 - 1],
    ['uint32 max', 2 ** 32 - 1],
    ['2^40', 2 ** 40],
    ['max safe int', Number.MAX_SAFE_INTEGER],
    ['min safe int', Number.MIN_SAFE_INTEGER],
    ['2^53 as bigint', 2n ** 53n],
    ['2^63', 2n ** 63n],
    ['-2^63', -(2n ** 63n)],
    ['2^64', 2n ** 64n],
    ['-2^64 - 1', -(2n ** 64n) - 1n],
    ['2^70', 2n ** 70n],
    ['-2^70', -(2n ** 70n)],
    ['small bigint', 5n],
    ['float', 1.5],
    ['negative zero', -0],
    ['tiny float', 5e-324],
    ['huge float', 1e300],
    ['NaN', Number.NaN],
    ['inf', Number.POSITIVE_INFINITY],
    ['-inf', Number.NEGATIVE_INFINITY],
    ['empty string', ''],
    ['unicode', 'héllo wörld ✓ 日本 😀'],
    ['controls', 'a\0b\n\t\r\x7f"\'\\'],
    ['long string', 'x'.repeat(70_000)],
    ['empty list', []],
    ['nested list', [1, [2, [3, []]]]],
    ['tuple', Tuple.of<unknown>(1, 'two', Tuple.of(3))],
    ['empty tuple', new Tuple()],
    ['dict', { a: 1, b: [true, null], c: { d: 'e' } }],
    ['empty dict', {}],
    ['dict with awkward keys', { '': 1, ' ': 2, $x: 3, 'a.b': 4, héllo: 5 }],
    [
      'int-keyed dict',
      new Map<unknown, unknown>([
        [1, 'one'],
        [2, 'two'],
      ]),
    ],
    [
      'mixed-key dict',
      new Map<unknown, unknown>([
        ['a', 1],
        [2, 'b'],
      ]),
    ],
    ['string-keyed Map', new Map([['a', 1]])],
    ['set', new Set([1, 2, 3])],
    ['empty set', new Set()],
    ['bytes', new Uint8Array([0, 1, 2, 255])],
    ['empty bytes', new Uint8Array(0)],
    ['bytes 300', new Uint8Array(300).fill(7)],
    ['undefined', undefined],
  ];
  if (t.complex) samples.push(['complex', new Complex(1.5, -2)], ['complex zero', new Complex(0, 0)]);
  samples.push(['date', new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 250))]);
  return samples;
}

/** A small registered class for the registry tests. */
export class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

class Tagged {
  label = 'hello';
  count = 3;
}

class CustomFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CustomFailure';
  }
}

/** Model values fast-check generates for a format (no complex where the format has none). */
function arbitraryValue(t: FormatTraits): fc.Arbitrary<unknown> {
  const big = fc
    .bigInt({ min: -(2n ** 100n), max: 2n ** 100n })
    .filter((b) => b > 2n ** 53n - 1n || b < -(2n ** 53n - 1n));
  const scalars: fc.Arbitrary<unknown>[] = [
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    big,
    fc.double(),
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.uint8Array({ maxLength: 16 }),
  ];
  if (t.complex)
    scalars.push(
      fc.tuple(fc.double({ noNaN: true }), fc.double({ noNaN: true })).map(([a, b]) => new Complex(a, b)),
    );
  const key = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', '0', '12'),
  );
  const hashable = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.string({ maxLength: 6 }));
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.oneof(...scalars),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(tie('value'), { maxLength: 4 }).map((a) => Tuple.fromArray(a)),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((pairs) => {
        const o: Record<string, unknown> = {};
        for (const [k, x] of pairs) setOwn(o, k, x);
        return o;
      }),
      fc
        .uniqueArray(fc.tuple(fc.integer({ min: -1000, max: 1000 }), tie('value')), {
          maxLength: 4,
          selector: ([k]) => k,
        })
        .map((pairs) => new Map<unknown, unknown>(pairs)),
      fc.uniqueArray(hashable, { maxLength: 4 }).map((a) => new Set(a)),
    ),
  }));
  return value;
}

function expectTypedFailure(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    // Only Cinder's typed errors may come out of a decoder: never TypeError, RangeError, ….
    if (!(err instanceof SerializeError || err instanceof SecurityError)) throw err;
  }
}

/** Runs the whole suite against the serializer `make` builds (called with options per test). */
export function serializerCompliance(name: string, make: MakeSerializer): void {
  const t = FORMATS[name];
  if (t === undefined) throw new Error(`no compliance traits for ${name}`);
  const roundTrip = (s: Serializer, v: unknown, hooks?: CodecHooks) => s.decode(s.encode(v, hooks), hooks);

  describe(`${name} serializer compliance`, () => {
    const s = make();

    it('has the right name, and an id and binary flag', () => {
      expect(s.name).toBe(name);
      expect(Number.isInteger(s.id)).toBe(true);
      expect(typeof s.binary).toBe('boolean');
    });

    describe('round trips every kind of model value', () => {
      for (const [label, value] of sampleValues(t)) {
        it(label, () => {
          expect(canon(roundTrip(s, value))).toBe(canon(expectedAfterRoundTrip(t, value)));
        });
      }
    });

    it.runIf(t.sizedHeaders)('round trips containers beyond 16-bit lengths', () => {
      const list = Array.from({ length: 70_000 }, (_, i) => i);
      const dict: Record<string, number> = {};
      for (let i = 0; i < 66_000; i++) dict[`k${i}`] = i;
      const got = roundTrip(s, [list, dict]) as [number[], Record<string, number>];
      expect(got[0]).toEqual(list);
      const keys = Object.keys(got[1]);
      expect(keys.length).toBe(66_000);
      expect([keys[0], keys[65_999], got[1].k65999]).toEqual(['k0', 'k65999', 65_999]);
    });

    it('round trips generated values (fast-check)', () => {
      fc.assert(
        fc.property(arbitraryValue(t), (v) => {
          expect(canon(roundTrip(s, v))).toBe(canon(expectedAfterRoundTrip(t, v)));
        }),
        { numRuns: 300 },
      );
    });

    it('encodes the same value to the same bytes every time', () => {
      const v = { a: [1, 2.5, 'x'], b: { c: null } };
      expect(Buffer.from(s.encode(v)).equals(Buffer.from(s.encode(v)))).toBe(true);
    });

    it('keeps earlier payloads intact while encoding more', () => {
      const first = s.encode(['first', 1]);
      const copy = Buffer.from(first);
      for (let i = 0; i < 2000; i++) s.encode(['x'.repeat(i % 50), i]);
      expect(Buffer.from(first).equals(copy)).toBe(true);
      expect(s.decode(first)).toEqual(['first', 1]);
    });

    if (!t.complex) {
      it('refuses complex numbers with a SerializeError', () => {
        expect(() => s.encode(new Complex(1, 2))).toThrow(SerializeError);
      });
    }

    it('refuses functions and symbols with a SerializeError', () => {
      expect(() => s.encode({ f: () => 1 })).toThrow(SerializeError);
      expect(() => s.encode([Symbol('x')])).toThrow(SerializeError);
    });

    it('lets the replace hook send a function as something else (a callback reference)', () => {
      const callback = () => 1;
      const hooks: CodecHooks = { replace: (v) => (v === callback ? { callback: 'obj_1' } : undefined) };
      expect(s.decode(s.encode({ onDone: callback }, hooks))).toEqual({ onDone: { callback: 'obj_1' } });
      expect(
        s.decodeCall(s.encodeCall({ object: 'o', method: 'm', params: [callback], kwargs: {} }, hooks))
          .params,
      ).toEqual(expectedAfterRoundTrip(t, [{ callback: 'obj_1' }]));
    });

    it('does not offer Dates to the replace hook', () => {
      const seen: unknown[] = [];
      const date = new Date(0);
      s.encode([date], {
        replace: (v) => {
          seen.push(v);
          return undefined;
        },
      });
      expect(seen).toEqual([]);
    });

    describe('call envelopes', () => {
      const calls = [
        { object: 'test.thing', method: 'add', params: [1, 2], kwargs: {} },
        { object: 'test.thing', method: 'kw', params: [1], kwargs: { b: 5, c: 7 } },
        { object: 'test.thing', method: '__getattr__', params: ['value'], kwargs: null },
        { object: 'test.thing', method: '__setattr__', params: ['value', [1, 'x']], kwargs: null },
        {
          object: 'test.thing',
          method: '<batch>',
          params: [
            ['add', [1, 1], {}],
            ['fail', [], {}],
          ],
          kwargs: null,
        },
        { object: 'Pyro.Daemon', method: 'get_metadata', params: ['obj_1'], kwargs: {} },
      ];
      for (const call of calls) {
        it(`round trips ${call.method}`, () => {
          const got = s.decodeCall(s.encodeCall(call));
          expect(got.object).toBe(call.object);
          expect(got.method).toBe(call.method);
          expect(canon([...got.params])).toBe(canon(expectedAfterRoundTrip(t, call.params)));
          expect(canon(got.kwargs)).toBe(canon(call.kwargs));
        });
      }

      it('revives classes inside params and kwargs', () => {
        const uri = URI.parse('PYRO:obj@localhost:5555');
        const got = s.decodeCall(
          s.encodeCall({ object: 'o', method: 'm', params: [uri], kwargs: { u: uri } }),
        );
        expect(got.params[0]).toBeInstanceOf(URI);
        expect((got.kwargs!.u as URI).equals(uri)).toBe(true);
      });

      it('refuses malformed envelopes with a SerializeError', () => {
        const bad: unknown[] = [
          'just a string',
          ['o', 'm', []],
          ['o', 'm', [], {}, 'extra'],
          [1, 'm', [], {}],
          ['o', 2, [], {}],
          ['o', 'm', 'params', {}],
          ['o', 'm', [], []],
          ['o', 'm', [], 'kwargs'],
          { object: 'o', method: 'm', params: [] },
          { object: 'o', method: 'm', params: [], kwargs: {}, extra: 1 },
        ];
        for (const value of bad) {
          expect(() => s.decodeCall(s.encode(value)), JSON.stringify(value)).toThrow(SerializeError);
        }
      });

      it('refuses a bad outgoing envelope before encoding', () => {
        expect(() => s.encodeCall({ object: 'o', method: 'm', params: 'x' as never, kwargs: {} })).toThrow(
          SerializeError,
        );
        expect(() =>
          s.encodeCall({ object: 'o', method: 'm', params: [], kwargs: new Map() as never }),
        ).toThrow(SerializeError);
      });
    });

    describe('errors', () => {
      it('sends Cinder errors as Pyro errors and brings back the same class', () => {
        const got = roundTrip(s, new DaemonError('unknown object')) as DaemonError & {
          remoteTraceback: string[];
        };
        expect(got).toBeInstanceOf(DaemonError);
        expect(got.message).toBe('unknown object');
        expect(got.remoteTraceback.join('')).toContain('DaemonError: unknown object');
      });

      it('keeps the size and limit of MessageTooLargeError', () => {
        const got = roundTrip(s, new MessageTooLargeError(2041, 1000)) as MessageTooLargeError;
        expect(got).toBeInstanceOf(MessageTooLargeError);
        expect([got.size, got.limit, got.message]).toEqual([
          2041,
          1000,
          'message too large (2041, max=1000)',
        ]);
      });

      it('re-creates JavaScript built-in errors', () => {
        for (const err of [new TypeError('t'), new RangeError('r'), new SyntaxError('s'), new Error('e')]) {
          const got = roundTrip(s, err) as Error;
          expect(got.constructor).toBe(err.constructor);
          expect(got.message).toBe(err.message);
        }
      });

      it('turns unknown exception classes into RemoteError with type, args, message and traceback', () => {
        const dict = {
          __class__: 'vectorobjects.CustomError',
          __exception__: true,
          args: ['custom failure', 42],
          attributes: { code: 42, _pyroTraceback: ['Traceback\n', 'CustomError\n'] },
        };
        const got = roundTrip(s, dict) as RemoteError;
        expect(got).toBeInstanceOf(RemoteError);
        expect(got.remoteType).toBe('vectorobjects.CustomError');
        expect(got.remoteMessage).toBe("('custom failure', 42)");
        expect([...got.args]).toEqual(['custom failure', 42]);
        expect(got.attributes).toEqual({ code: 42 });
        expect(got.remoteTraceback).toEqual(['Traceback\n', 'CustomError\n']);
      });

      it('relays a RemoteError unchanged', () => {
        const original = new RemoteError({
          remoteType: 'builtins.ValueError',
          remoteMessage: 'bad value',
          args: ['bad value'],
          remoteTraceback: ['line 1\n'],
          attributes: { extra: 1 },
        });
        const got = roundTrip(s, original) as RemoteError;
        expect(got).toBeInstanceOf(RemoteError);
        expect([got.remoteType, got.remoteMessage, got.remoteTraceback, got.attributes]).toEqual([
          'builtins.ValueError',
          'bad value',
          ['line 1\n'],
          { extra: 1 },
        ]);
      });

      it('never turns a dict without __exception__ into an error', () => {
        const dict = { __class__: 'builtins.ValueError', args: ['x'] };
        const got = roundTrip(s, dict);
        expect(got).not.toBeInstanceOf(Error);
        expect(got).toEqual(expectedAfterRoundTrip(t, dict));
      });

      it('carries errors inside values and batch exception wrappers', () => {
        const got = roundTrip(s, [1, new ExceptionWrapper(new ProtocolError('boom'))]) as unknown[];
        expect(got[0]).toBe(1);
        expect(got[1]).toBeInstanceOf(ExceptionWrapper);
        expect((got[1] as ExceptionWrapper).exception).toBeInstanceOf(ProtocolError);
      });

      it('re-creates registered error classes by calling them with args', () => {
        const registry = new ClassRegistry().register(CustomFailure, 'app.CustomFailure');
        const r = make({ registry });
        const sent = new CustomFailure('custom failure', 42);
        const payload = r.encode(sent);
        const got = r.decode(payload) as CustomFailure;
        expect(got).toBeInstanceOf(CustomFailure);
        expect(got.message).toBe('custom failure');
        // Sent as an attribute; the constructor got only the message, so the attribute fills it in.
        expect(got.code).toBe(42);
        // Without the registration the peer sees a RemoteError of that type.
        const plain = make().decode(payload) as RemoteError;
        expect(plain).toBeInstanceOf(RemoteError);
        expect(plain.remoteType).toBe('app.CustomFailure');
      });
    });

    describe('classes', () => {
      it('round trips URIs', () => {
        for (const text of [
          'PYRO:obj@localhost:5555',
          'PYRO:obj@./u:/tmp/sock',
          'PYRONAME:ns.name',
          'PYRO:x@[::1]:9',
        ]) {
          const uri = URI.parse(text);
          const got = roundTrip(s, { uri }) as { uri: URI };
          expect(got.uri).toBeInstanceOf(URI);
          expect(got.uri.toString()).toBe(uri.toString());
        }
      });

      it('writes the URI class name of its dialect and reads both', () => {
        const uri = URI.parse('PYRO:obj@localhost:5555');
        const s4 = make({ dialect: 4 });
        const s5 = make({ dialect: 5 });
        const plain4 = make({ dialect: 4, registry: emptyLookingRegistry() }).decode(
          s4.encode(uri),
        ) as Record<string, unknown>;
        const plain5 = make({ dialect: 5, registry: emptyLookingRegistry() }).decode(
          s5.encode(uri),
        ) as Record<string, unknown>;
        expect(plain4.__class__).toBe('Pyro4.core.URI');
        expect(plain5.__class__).toBe('Pyro5.core.URI');
        expect((s5.decode(s4.encode(uri)) as URI).equals(uri)).toBe(true);
        expect((s4.decode(s5.encode(uri)) as URI).equals(uri)).toBe(true);
      });

      it('refuses an invalid URI state with a SerializeError', () => {
        const bad = { __class__: 'Pyro5.core.URI', state: ['PYRO', 'obj', null, null, null] };
        expect(() => roundTrip(s, bad)).toThrow(SerializeError);
      });

      it('uses registered converters both ways', () => {
        const registry = new ClassRegistry().register(Point, 'geometry.Point', {
          toDict: (p) => ({ x: p.x, y: p.y }),
          fromDict: (d) => new Point(d.x as number, d.y as number),
        });
        const r = make({ registry });
        const got = roundTrip(r, [new Point(1, 2)]) as Point[];
        expect(got[0]).toBeInstanceOf(Point);
        expect([got[0]!.x, got[0]!.y]).toEqual([1, 2]);
        const plain = make().decode(r.encode(new Point(3, 4)));
        expect(plain).toEqual({ __class__: 'geometry.Point', x: 3, y: 4 });
      });

      it('uses the default converters: own properties out, the class prototype in', () => {
        const r = make({ registry: new ClassRegistry().register(Tagged, 'app.Tagged') });
        const got = roundTrip(r, new Tagged()) as Tagged;
        expect(got).toBeInstanceOf(Tagged);
        expect([got.label, got.count]).toEqual(['hello', 3]);
      });

      it('writes unregistered class instances as Pyro does: own properties plus __class__', () => {
        const got = roundTrip(s, new Tagged());
        expect(got).toEqual({ label: 'hello', count: 3, __class__: 'Tagged' });
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      });

      it('keeps unregistered __class__ dicts as dicts, or refuses them with strictClasses', () => {
        const dict = { __class__: 'some.Unknown', value: 1 };
        expect(roundTrip(s, dict)).toEqual(dict);
        const strict = make({ strictClasses: true });
        expect(() => roundTrip(strict, dict)).toThrow(SerializeError);
        expect(() => roundTrip(strict, dict)).toThrow(/unsupported serialized class: some.Unknown/);
      });

      it('refuses class names containing __ with a SecurityError', () => {
        for (const dict of [
          { __class__: '__main__.Evil' },
          { __class__: 'os.__builtins__', x: 1 },
          { __class__: '__main__.CustomError', __exception__: true, args: [], attributes: {} },
        ]) {
          expect(() => roundTrip(s, dict)).toThrow(SecurityError);
        }
      });

      it('calls the replace hook for class instances only, before the registry', () => {
        const seen: unknown[] = [];
        const hooks: CodecHooks = {
          replace(value) {
            seen.push(value);
            return value instanceof Point ? { proxied: `${value.x},${value.y}` } : undefined;
          },
        };
        const r = make({ registry: new ClassRegistry().register(Point, 'geometry.Point') });
        const got = r.decode(
          r.encode([new Point(1, 2), { a: [1] }, new Uint8Array(1), new Map([[1, 2]])], hooks),
        );
        expect((got as unknown[])[0]).toEqual({ proxied: '1,2' });
        expect(seen).toHaveLength(1);
      });

      it('calls the revive hook for unknown classes only, after the registry', () => {
        const seen: string[] = [];
        const hooks: CodecHooks = {
          revive(className, dict) {
            seen.push(className);
            return className === 'Pyro5.client.Proxy' ? { proxyFor: dict.state } : undefined;
          },
        };
        const payload = s.encode([
          { __class__: 'Pyro5.client.Proxy', state: 'uri' },
          { __class__: 'other.Thing' },
          URI.parse('PYRO:o@h:1'),
        ]);
        const got = s.decode(payload, hooks) as unknown[];
        expect(got[0]).toEqual({ proxyFor: 'uri' });
        expect(got[1]).toEqual({ __class__: 'other.Thing' });
        expect(got[2]).toBeInstanceOf(URI);
        expect(seen).toEqual(['Pyro5.client.Proxy', 'other.Thing']);
      });

      it('lets hooks encode and decode re-entrantly', () => {
        const hooks: CodecHooks = {
          replace: (v) =>
            v instanceof Point ? { inner: Buffer.from(s.encode([v.x, v.y])).toString('hex') } : undefined,
          revive: (_name, dict) => s.decode(Buffer.from(dict.inner as string, 'hex')),
        };
        const payload = s.encode([new Point(5, 6), 'after'], hooks);
        expect(s.decode(payload)).toEqual([{ inner: expect.any(String) }, 'after']);
        const withClass = s.encode([
          { __class__: 'x.Y', inner: Buffer.from(s.encode('nested')).toString('hex') },
          'z',
        ]);
        expect(s.decode(withClass, hooks)).toEqual(['nested', 'z']);
      });
    });

    describe('hostile input', () => {
      it('keeps prototype-pollution keys as ordinary data', () => {
        for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
          const got = s.decode(t.dictWithKey(key)) as Record<string, unknown>;
          expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
          expect(Object.keys(got)).toEqual([key]);
          expect(Object.getOwnPropertyDescriptor(got, key)?.value).toBe(1);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }
        const v: Record<string, unknown> = {};
        setOwn(v, '__proto__', { polluted: true });
        const got = roundTrip(s, v) as Record<string, unknown>;
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
        expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ polluted: true });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('refuses 10,000-deep nesting with a SerializeError, in both directions', () => {
        expect(() => s.decode(t.deep(10_000))).toThrow(SerializeError);
        let v: unknown = null;
        for (let i = 0; i < 10_000; i++) v = [v];
        expect(() => s.encode(v)).toThrow(SerializeError);
      });

      it('enforces maxDepth exactly', () => {
        const r = make({ maxDepth: 5 });
        expect(r.decode(t.deep(5))).toBeDefined();
        expect(() => r.decode(t.deep(6))).toThrow(/maxDepth/);
        let v: unknown = 1;
        for (let i = 0; i < 5; i++) v = [v];
        expect(r.decode(r.encode(v))).toEqual(v);
        expect(() => r.encode([v])).toThrow(SerializeError);
      });

      it('refuses cyclic values with a SerializeError', () => {
        const a: unknown[] = [];
        a.push(a);
        expect(() => s.encode(a)).toThrow(SerializeError);
      });

      it('fails every truncation of valid payloads with typed errors only', () => {
        const payloads = [
          s.encode({ a: [1, 2.5, 'héllo', null, true, 2n ** 70n], b: new Uint8Array([1, 2]) }),
          s.encodeCall({ object: 'test.thing', method: 'add', params: [1, 'x'], kwargs: { k: [1] } }),
          s.encode(new DaemonError('unknown object')),
        ];
        for (const payload of payloads) {
          for (let n = 0; n < payload.length; n++) expectTypedFailure(() => s.decode(payload.subarray(0, n)));
          expect(() => s.decode(payload.subarray(0, 0))).toThrow(SerializeError);
        }
      });

      it('fails random bytes with typed errors only (fast-check)', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
            expectTypedFailure(() => s.decode(bytes));
            expectTypedFailure(() => s.decodeCall(bytes));
          }),
          { numRuns: 500 },
        );
      });

      it('fails mutated valid payloads with typed errors only (fast-check)', () => {
        const base = s.encode({
          list: [1, 'two', 3.5, null],
          map: new Map([[1, 'x']]),
          bytes: new Uint8Array([9]),
        });
        fc.assert(
          fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
            const copy = new Uint8Array(base);
            copy[at] = byte;
            expectTypedFailure(() => s.decode(copy));
          }),
          { numRuns: 500 },
        );
      });

      it('refuses non-Uint8Array input with a SerializeError', () => {
        expect(() => s.decode('text' as never)).toThrow(CinderError);
      });
    });

    describe('big payloads', () => {
      it('round trips a 1 MiB Uint8Array', () => {
        const bytes = new Uint8Array(1 << 20);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
        const got = roundTrip(s, ['big', bytes]) as [string, Uint8Array];
        expect(got[1]).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(got[1]).equals(Buffer.from(bytes))).toBe(true);
      });

      it('round trips a 1 MiB string', () => {
        const text = 'abcdéfgh✓😀'.repeat(100_000).slice(0, 1 << 20);
        expect(roundTrip(s, { text })).toEqual({ text });
      });
    });
  });
}

/** A registry whose built-in names are shadowed, so class dicts come back as plain dicts. */
function emptyLookingRegistry(): ClassRegistry {
  class Never {}
  return new ClassRegistry()
    .register(Never, { 4: 'Pyro4.core.URI', 5: 'Pyro5.core.URI' }, { fromDict: (d) => d as never })
    .register(class Other {}, 'unused.Other');
}
