// The class registry, the value mapper's fallbacks, the call envelopes' wire layouts and
// createSerializers' options.
import { ConfigError, SerializeError, URI } from '@cinder/core';
import { SerializerId } from '@cinder/protocol';
import { describe, expect, it } from 'vitest';
import {
  ClassRegistry,
  createSerializers,
  DEFAULT_MAX_DEPTH,
  ExceptionWrapper,
  MAX_DEPTH_LIMIT,
  Tuple,
} from '../src/index.js';
import { bytesFromDict } from '../src/value-mapper.js';

class Shape {}
class Circle extends Shape {
  constructor(readonly r: number) {
    super();
  }
}
class Square extends Shape {}

describe('ClassRegistry', () => {
  it('refuses bad names and things that are not classes', () => {
    const reg = new ClassRegistry();
    expect(() => reg.register(Shape, '')).toThrow(ConfigError);
    expect(() => reg.register(Shape, '__main__.Shape')).toThrow(/must not contain '__'/);
    expect(() => reg.register(Shape, { 4: 'ok.Shape', 5: 'bad__.Shape' })).toThrow(ConfigError);
    expect(() => reg.register(Object, 'x.Object')).toThrow(/refusing/);
    expect(() => reg.register(Array, 'x.Array')).toThrow(/refusing/);
    expect(() => reg.register((() => 1) as never, 'x.Arrow')).toThrow(/only classes/);
  });

  it('finds the nearest registered ancestor and names per dialect', () => {
    const reg = new ClassRegistry().register(Shape, { 4: 'geo4.Shape', 5: 'geo5.Shape' });
    reg.register(Circle, 'geo.Circle');
    expect(reg.nameOf(new Circle(1), 5)).toBe('geo.Circle');
    expect(reg.nameOf(new Square(), 4)).toBe('geo4.Shape');
    expect(reg.nameOf(new Square(), 5)).toBe('geo5.Shape');
    expect(reg.nameOf({}, 5)).toBeUndefined();
    expect(reg.entryNamed('geo4.Shape')?.ctor).toBe(Shape);
  });

  it('replaces earlier entries for the same class or name', () => {
    const reg = new ClassRegistry().register(Shape, 'geo.Shape');
    reg.register(Shape, 'geo.Renamed');
    expect(reg.entryNamed('geo.Shape')).toBeUndefined();
    reg.register(Square, 'geo.Renamed');
    expect(reg.nameOf(new Shape(), 5)).toBeUndefined();
    expect(reg.nameOf(new Square(), 5)).toBe('geo.Renamed');
  });

  it('unregisters by class or name, but never removes a built-in', () => {
    const reg = new ClassRegistry().register(Shape, 'geo.Shape').register(Circle, 'geo.Circle');
    expect(reg.unregister(Shape)).toBe(true);
    expect(reg.unregister('geo.Circle')).toBe(true);
    expect(reg.unregister('geo.Circle')).toBe(false);
    expect(reg.unregister(URI)).toBe(false);
    expect(reg.unregister('Pyro5.core._ExceptionWrapper')).toBe(false);
    expect(reg.entryNamed('Pyro4.core.URI')?.ctor).toBe(URI);
  });

  it('rebuilds instances without running their constructor when no converter is given', () => {
    let constructed = 0;
    class Counted {
      constructor() {
        constructed++;
      }
    }
    const set = createSerializers({ registry: new ClassRegistry().register(Counted, 'app.Counted') });
    const s = set.byName('json')!;
    const payload = new TextEncoder().encode('{"__class__": "app.Counted", "__proto__": {"x": 1}, "y": 2}');
    const got = s.decode(payload) as Record<string, unknown>;
    expect(constructed).toBe(0);
    expect(got).toBeInstanceOf(Counted);
    expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ x: 1 });
    expect(got.y).toBe(2);
    expect(got.__class__).toBeUndefined();
  });

  it('turns converter failures into SerializeErrors', () => {
    const reg = new ClassRegistry().register(Shape, 'geo.Shape', {
      fromDict: () => {
        throw new RangeError('nope');
      },
    });
    const s = createSerializers({ registry: reg }).byName('msgpack')!;
    expect(() => s.decode(s.encode({ __class__: 'geo.Shape' }))).toThrow(/cannot rebuild geo.Shape: nope/);
  });
});

describe('values outside the formats', () => {
  const s = createSerializers().byName('msgpack')!;
  const json = createSerializers().byName('json')!;

  it('sends typed arrays as lists and buffers as bytes', () => {
    expect(s.decode(s.encode(new Int16Array([1, -2])))).toEqual([1, -2]);
    expect(s.decode(s.encode(new BigInt64Array([5n])))).toEqual([5]);
    expect(s.decode(s.encode(new Uint8Array([1, 2]).buffer))).toEqual(new Uint8Array([1, 2]));
    expect(s.decode(s.encode(new DataView(new Uint8Array([3, 4, 5]).buffer, 1)))).toEqual(
      new Uint8Array([4, 5]),
    );
  });

  it('sends Dates as ISO text in formats without a date type, and refuses invalid ones', () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(json.decode(json.encode(date))).toBe('2024-01-02T03:04:05.006Z');
    expect(() => json.encode(new Date(Number.NaN))).toThrow(SerializeError);
    expect(() => s.encode(new Date(Number.NaN))).toThrow(SerializeError);
    expect(() => createSerializers().byName('cbor')!.encode(new Date(Number.NaN))).toThrow(SerializeError);
  });

  it('names anonymous class instances "object"', () => {
    const anon = new (class {})();
    (anon as Record<string, unknown>).v = 1;
    expect(s.decode(s.encode(anon))).toEqual({ v: 1, __class__: 'object' });
  });

  it('turns only the exact base64 bytes dict back into bytes', () => {
    const two = bytesFromDict({ data: 'AQI=', encoding: 'base64' }) as Uint8Array;
    expect(two).toEqual(new Uint8Array([1, 2]));
    expect(two.buffer.byteLength).toBe(2);
    expect(bytesFromDict({ data: '', encoding: 'base64' })).toEqual(new Uint8Array(0));
    for (const d of [
      { data: 'AQI=', encoding: 'base64', extra: 1 },
      { data: 'AQI', encoding: 'base64' },
      { data: 'A Q I=', encoding: 'base64' },
      { data: 'A*QI', encoding: 'base64' },
      { data: 'AQ=I', encoding: 'base64' },
      { data: 'AQ-_', encoding: 'base64' },
      { data: 5, encoding: 'base64' },
      { data: 'AQI=', encoding: 'hex' },
    ]) {
      expect(bytesFromDict(d)).toBe(d);
    }
  });
});

describe('call envelopes on the wire', () => {
  const call = { object: 'test.thing', method: 'add', params: [1, 2], kwargs: {} };
  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

  it("json: an object with Pyro's key order", () => {
    const s = createSerializers().byName('json')!;
    expect(text(s.encodeCall(call))).toBe(
      '{"object": "test.thing", "method": "add", "params": [1, 2], "kwargs": {}}',
    );
    expect(text(s.encodeCall({ ...call, method: '__getattr__', params: ['value'], kwargs: null }))).toBe(
      '{"object": "test.thing", "method": "__getattr__", "params": ["value"], "kwargs": null}',
    );
    expect(() =>
      s.decodeCall(new TextEncoder().encode('{"object": "o", "method": "m", "params": []}')),
    ).toThrow(/missing key "kwargs"/);
    expect(() =>
      s.decodeCall(
        new TextEncoder().encode(
          '{"object": "o", "method": "m", "params": [], "kwargs": {}, "a": 1, "b": 2}',
        ),
      ),
    ).toThrow(/unexpected keys "a", "b"/);
  });

  it('serpent: a tuple with the args as a tuple, or a list for <batch>', () => {
    const s = createSerializers().byName('serpent')!;
    expect(text(s.encodeCall(call))).toBe("# serpent utf-8 python3.2\n('test.thing','add',(1,2),{})");
    const batch = { object: 'o', method: '<batch>', params: [['add', [1], {}]], kwargs: null };
    expect(text(s.encodeCall(batch))).toBe(
      "# serpent utf-8 python3.2\n('o','<batch>',[['add',[1],{}]],None)",
    );
  });

  it('marshal: Pyro5 sends the args as a list, Pyro4 as a tuple', () => {
    const m5 = createSerializers({ dialect: 5 }).byName('marshal')!;
    const m4 = createSerializers({ dialect: 4 }).byName('marshal')!;
    const got5 = m5.decode(m5.encodeCall({ ...call, params: Tuple.of(1, 2) })) as unknown[];
    const got4 = m4.decode(m4.encodeCall(call)) as unknown[];
    expect(got5[2]).not.toBeInstanceOf(Tuple);
    expect(got4[2]).toBeInstanceOf(Tuple);
    expect(m4.decodeCall(m4.encodeCall(call)).params).toEqual(Tuple.of(1, 2));
  });

  it('msgpack and cbor: a 4-item array', () => {
    const m = createSerializers().byName('msgpack')!;
    expect(Buffer.from(m.encodeCall(call)).toString('hex')).toBe('94aa746573742e7468696e67a361646492010280');
    const c = createSerializers().byName('cbor')!;
    expect(Buffer.from(c.encodeCall(call)).toString('hex')).toBe(
      '846a746573742e7468696e67636164648201 02a0'.replace(' ', ''),
    );
  });

  it('refuses envelopes that are not objects', () => {
    const s = createSerializers().byName('cbor')!;
    expect(() => s.encodeCall(null as never)).toThrow(SerializeError);
    expect(() => s.encodeCall({ ...call, object: 1 as never })).toThrow(/object id/);
    expect(() => s.encodeCall({ ...call, method: null as never })).toThrow(/method/);
  });
});

describe('createSerializers', () => {
  it('gives the five serializers under their Pyro5 ids and names', () => {
    const set = createSerializers();
    expect(set.all().map((s) => [s.name, s.id, s.binary])).toEqual([
      ['cbor', SerializerId.CBOR, true],
      ['json', SerializerId.JSON, false],
      ['msgpack', SerializerId.MSGPACK, true],
      ['serpent', SerializerId.SERPENT, false],
      ['marshal', SerializerId.MARSHAL, true],
    ]);
    expect(set.byId(16)?.name).toBe('cbor');
    expect(set.byId(99)).toBeUndefined();
    expect(set.byName('pickle')).toBeUndefined();
    expect(set.dialect).toBe(5);
    expect(set.registry).toBeInstanceOf(ClassRegistry);
    expect(createSerializers({ serpentBytesRepr: true }).byName('serpent')!.binary).toBe(true);
  });

  it('checks its options', () => {
    expect(() => createSerializers({ dialect: 3 as never })).toThrow(ConfigError);
    expect(() => createSerializers({ maxDepth: 0 })).toThrow(/maxDepth/);
    expect(() => createSerializers({ maxDepth: MAX_DEPTH_LIMIT + 1 })).toThrow(/maxDepth/);
    expect(() => createSerializers({ maxDepth: 1.5 })).toThrow(/maxDepth/);
    expect(DEFAULT_MAX_DEPTH).toBe(100);
  });

  it('never shares a registry between sets unless given one', () => {
    const a = createSerializers();
    const b = createSerializers();
    expect(a.registry).not.toBe(b.registry);
    const shared = new ClassRegistry();
    expect(createSerializers({ registry: shared }).registry).toBe(shared);
  });

  it('encodes errors and exception wrappers with the set’s dialect', () => {
    const set4 = createSerializers({ dialect: 4 });
    const s = set4.byName('json')!;
    const text = Buffer.from(s.encode(new ExceptionWrapper(new Error('x')))).toString('utf8');
    expect(text).toContain('"__class__": "Pyro4.futures._ExceptionWrapper"');
    expect(text).toContain('"__class__": "builtins.Exception"');
  });
});
