// The exception mapping of §2.10: Cinder ↔ Pyro error classes, JavaScript ↔ Python built-ins,
// registered error classes, attributes, tracebacks, and Python's str(args) message rules.
import {
  AbortedError,
  CinderError,
  CommunicationError,
  ConfigError,
  ConnectionClosedError,
  DaemonError,
  InvalidUriError,
  MessageTooLargeError,
  NamingError,
  NotExposedError,
  ProtocolError,
  RemoteError,
  SecurityError,
  SerializeError,
  TimeoutError,
} from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { pyRepr, pyStrArgs } from '../src/error-codec.js';
import {
  ClassRegistry,
  Complex,
  createSerializers,
  decodeError,
  encodeError,
  JS_CLASS_ATTRIBUTE,
  TRACEBACK_ATTRIBUTE,
  Tuple,
} from '../src/index.js';

const registry = new ClassRegistry();
const opts5 = { dialect: 5 as const, registry };
const opts4 = { dialect: 4 as const, registry };

describe('encodeError', () => {
  it('maps every Cinder error class onto its Pyro class, per dialect', () => {
    const cases: [Error, string][] = [
      [new CinderError('x'), 'PyroError'],
      [new CommunicationError('x'), 'CommunicationError'],
      [new ConnectionClosedError('x'), 'ConnectionClosedError'],
      [new TimeoutError('x'), 'TimeoutError'],
      [new ProtocolError('x'), 'ProtocolError'],
      [new MessageTooLargeError(5, 1), 'MessageTooLargeError'],
      [new SerializeError('x'), 'SerializeError'],
      [new NamingError('x'), 'NamingError'],
      [new DaemonError('x'), 'DaemonError'],
      [new SecurityError('x'), 'SecurityError'],
    ];
    for (const [err, pyro] of cases) {
      const d5 = encodeError(err, opts5);
      const d4 = encodeError(err, opts4);
      expect(d5.__class__).toBe(`Pyro5.errors.${pyro}`);
      expect(d4.__class__).toBe(`Pyro4.errors.${pyro}`);
      expect(d5.__exception__).toBe(true);
      expect(d5.args).toEqual([err.message]);
      const attributes = d5.attributes as Record<string, unknown>;
      expect(attributes[JS_CLASS_ATTRIBUTE]).toBeUndefined();
      expect(attributes.code).toBeUndefined();
      expect(attributes.name).toBeUndefined();
    }
  });

  it("sends Cinder's own classes under their nearest Pyro class, with the JS class kept", () => {
    const cases: [Error, string, string][] = [
      [new AbortedError('stop'), 'Pyro5.errors.CommunicationError', 'AbortedError'],
      [new ConfigError('bad'), 'Pyro5.errors.PyroError', 'ConfigError'],
      [new InvalidUriError('bad uri'), 'Pyro5.errors.PyroError', 'InvalidUriError'],
    ];
    for (const [err, className, jsClass] of cases) {
      const dict = encodeError(err, opts5);
      expect(dict.__class__).toBe(className);
      expect((dict.attributes as Record<string, unknown>)[JS_CLASS_ATTRIBUTE]).toBe(jsClass);
      const back = decodeError(dict, opts5);
      expect(back.constructor).toBe(err.constructor);
      expect(back.message).toBe(err.message);
    }
  });

  it('maps JavaScript built-in errors onto Python built-ins', () => {
    class MyTypeError extends TypeError {}
    const cases: [Error, string, string][] = [
      [new Error('e'), 'builtins.Exception', 'Error'],
      [new TypeError('e'), 'builtins.TypeError', 'TypeError'],
      [new RangeError('e'), 'builtins.ValueError', 'RangeError'],
      [new SyntaxError('e'), 'builtins.SyntaxError', 'SyntaxError'],
      [new ReferenceError('e'), 'builtins.NameError', 'ReferenceError'],
      [new URIError('e'), 'builtins.ValueError', 'URIError'],
      [new EvalError('e'), 'builtins.Exception', 'EvalError'],
      [new MyTypeError('e'), 'builtins.TypeError', 'MyTypeError'],
    ];
    for (const [err, className, jsClass] of cases) {
      const dict = encodeError(err, opts5);
      expect(dict.__class__, jsClass).toBe(className);
      expect((dict.attributes as Record<string, unknown>)[JS_CLASS_ATTRIBUTE]).toBe(jsClass);
    }
    // Only the standard classes are re-created; a subclass the peer cannot know is a RemoteError
    // named after the sender's class.
    const back = decodeError(encodeError(new MyTypeError('e'), opts5), opts5) as RemoteError;
    expect(back).toBeInstanceOf(RemoteError);
    expect(back.remoteType).toBe('MyTypeError');
  });

  it('sends own enumerable properties as attributes and the stack as traceback lines', () => {
    const err = Object.assign(new Error('disk full'), { code: 'ENOSPC', errno: -28, path: '/tmp/x' });
    const dict = encodeError(err, opts5);
    const attributes = dict.attributes as Record<string, unknown>;
    expect(attributes).toMatchObject({ code: 'ENOSPC', errno: -28, path: '/tmp/x' });
    const tb = attributes[TRACEBACK_ATTRIBUTE] as string[];
    expect(tb[0]).toBe('Error: disk full\n');
    expect(tb.every((line) => line.endsWith('\n'))).toBe(true);
    expect(tb.length).toBeGreaterThan(1);
    const withoutTb = encodeError(err, { ...opts5, tracebacks: false });
    expect(TRACEBACK_ATTRIBUTE in (withoutTb.attributes as object)).toBe(false);
  });

  it('sends an empty message as no args, like Exception()', () => {
    expect(encodeError(new Error(), opts5).args).toEqual([]);
    expect(decodeError(encodeError(new Error(), opts5), opts5).message).toBe('');
  });

  it('keeps MessageTooLargeError numbers as attributes', () => {
    const dict = encodeError(new MessageTooLargeError(2041, 1000), opts5);
    expect(dict.attributes).toMatchObject({ size: 2041, limit: 1000 });
    const back = decodeError({ ...dict, attributes: {} }, opts5) as MessageTooLargeError;
    expect([back.size, back.limit]).toEqual([2041, 1000]);
    const odd = decodeError(
      { __class__: 'Pyro5.errors.MessageTooLargeError', __exception__: true, args: ['too big'] },
      opts5,
    ) as MessageTooLargeError;
    expect([odd.message, odd.size, odd.limit]).toEqual(['too big', 0, 0]);
  });
});

describe('decodeError', () => {
  it('reads Pyro4 and Pyro5 error names alike', () => {
    for (const module of ['Pyro4.errors.', 'Pyro5.errors.']) {
      const err = decodeError(
        { __class__: `${module}NamingError`, __exception__: true, args: ['unknown name: x'] },
        opts5,
      );
      expect(err).toBeInstanceOf(NamingError);
      expect(err.message).toBe('unknown name: x');
      expect((err as unknown as { remoteTraceback: string[] }).remoteTraceback).toEqual([]);
    }
  });

  it('accepts null, string and list tracebacks', () => {
    const base = { __class__: 'builtins.ValueError', __exception__: true, args: ['v'] };
    const tb = (attributes: unknown) =>
      (decodeError({ ...base, attributes }, opts5) as RemoteError).remoteTraceback;
    expect(tb({ _pyroTraceback: null })).toEqual([]);
    expect(tb({ _pyroTraceback: 'one string\n' })).toEqual(['one string\n']);
    expect(tb({ _pyroTraceback: ['a\n', 7] })).toEqual(['a\n', '7']);
    expect(tb(undefined)).toEqual([]);
  });

  it('does not let attributes overwrite what a Cinder error already has', () => {
    const err = decodeError(
      {
        __class__: 'Pyro5.errors.DaemonError',
        __exception__: true,
        args: ['x'],
        attributes: { code: 'FORGED', name: 'Forged', toString: 'no', detail: 'kept' },
      },
      opts5,
    ) as DaemonError & { detail: string };
    expect(err.code).toBe('DAEMON');
    expect(err.name).toBe('DaemonError');
    expect(typeof err.toString).toBe('function');
    expect(err.detail).toBe('kept');
  });

  it('refuses malformed exception dicts', () => {
    expect(() => decodeError({ __exception__: true }, opts5)).toThrow(SerializeError);
    expect(() => decodeError({ __class__: 'builtins.X', args: 'nope' }, opts5)).toThrow(SerializeError);
    expect(() => decodeError({ __class__: 'builtins.X', args: [], attributes: [1] }, opts5)).toThrow(
      SerializeError,
    );
    expect(() => decodeError({ __class__: '__main__.X', args: [] }, opts5)).toThrow(SecurityError);
  });

  it('turns a tuple of args into a plain array', () => {
    const err = decodeError(
      { __class__: 'x.Y', __exception__: true, args: Tuple.of<unknown>('a', 1) },
      opts5,
    ) as RemoteError;
    expect(Array.isArray(err.args) && !(err.args instanceof Tuple)).toBe(true);
    expect(err.message).toBe("x.Y: ('a', 1)");
  });

  it('re-creates registered error classes, or falls back to RemoteError when that fails', () => {
    class Strict extends Error {
      constructor(message: string, count: number) {
        if (typeof count !== 'number') throw new TypeError('count required');
        super(message);
      }
    }
    class Loose extends Error {}
    const reg = new ClassRegistry().register(Strict, 'app.Strict').register(Loose, 'app.Loose', {
      fromDict: (d) => new Loose(`custom: ${(d.args as string[])[0]}`),
    });
    const o = { dialect: 5 as const, registry: reg };
    expect(encodeError(new Strict('m', 1), o).__class__).toBe('app.Strict');
    const strict = decodeError({ __class__: 'app.Strict', __exception__: true, args: ['m', 2] }, o);
    expect(strict).toBeInstanceOf(Strict);
    const failed = decodeError(
      { __class__: 'app.Strict', __exception__: true, args: ['m'] },
      o,
    ) as RemoteError;
    expect(failed).toBeInstanceOf(RemoteError);
    expect(failed.remoteType).toBe('app.Strict');
    const loose = decodeError({ __class__: 'app.Loose', __exception__: true, args: ['hi'] }, o);
    expect(loose).toBeInstanceOf(Loose);
    expect(loose.message).toBe('custom: hi');
    expect((loose as unknown as { remoteTraceback: string[] }).remoteTraceback).toEqual([]);
  });

  it('lets a registered converter write the whole exception dict', () => {
    class Coded extends Error {
      constructor(readonly code: number) {
        super(`code ${code}`);
      }
    }
    const reg = new ClassRegistry().register(Coded, 'app.Coded', {
      toDict: (e) => ({ args: [e.code], attributes: { code: e.code } }),
      fromDict: (d) => new Coded((d.args as number[])[0]!),
    });
    const set = createSerializers({ registry: reg });
    const dict = set.encodeError(new Coded(7));
    expect(dict).toEqual({ __class__: 'app.Coded', __exception__: true, args: [7], attributes: { code: 7 } });
    const back = set.decodeError(dict) as Coded;
    expect(back).toBeInstanceOf(Coded);
    expect(back.code).toBe(7);
  });
});

describe('custom JavaScript error classes', () => {
  class InsufficientFunds extends RangeError {}

  it('travel under the nearest Python built-in, so Python peers can raise them', () => {
    const dict = encodeError(new InsufficientFunds('poor'), opts5);
    expect(dict.__class__).toBe('builtins.ValueError');
    expect((dict.attributes as Record<string, unknown>)[JS_CLASS_ATTRIBUTE]).toBe('InsufficientFunds');
  });

  it("decode at a Cinder peer as a RemoteError named after the class, and relay under the wire's class", () => {
    const back = decodeError(encodeError(new InsufficientFunds('poor'), opts5), opts5);
    expect(back).toBeInstanceOf(RemoteError);
    expect((back as RemoteError).remoteType).toBe('InsufficientFunds');
    expect(back.message).toBe('InsufficientFunds: poor');
    const relayed = encodeError(back, opts4);
    expect(relayed.__class__).toBe('builtins.ValueError');
    expect((relayed.attributes as Record<string, unknown>)[JS_CLASS_ATTRIBUTE]).toBe('InsufficientFunds');
  });

  it('revive as the class when it is registered under its JavaScript name', () => {
    const local = new ClassRegistry().register(InsufficientFunds, 'InsufficientFunds');
    const back = decodeError(encodeError(new InsufficientFunds('poor'), opts5), {
      dialect: 5,
      registry: local,
    });
    expect(back).toBeInstanceOf(InsufficientFunds);
    expect(back.message).toBe('poor');
  });

  it("NotExposedError (a proxy's local refusal) is Python's AttributeError on the wire", () => {
    const dict = encodeError(new NotExposedError("no exposed attribute or method 'x'"), opts4);
    expect(dict.__class__).toBe('builtins.AttributeError');
    const back = decodeError(dict, opts4);
    expect(back).toBeInstanceOf(NotExposedError);
    expect((back as NotExposedError).code).toBe('NOT_EXPOSED');
  });

  it('ignore a _jsClass that is no class name, or that comes with a non-builtin class', () => {
    const odd = { __class__: 'builtins.Exception', __exception__: true, args: ['x'] };
    for (const jsClass of ['a.b', '', 'x y', 'A'.repeat(300)]) {
      const back = decodeError({ ...odd, attributes: { [JS_CLASS_ATTRIBUTE]: jsClass } }, opts5);
      expect((back as RemoteError).remoteType).toBe('builtins.Exception');
    }
    const mine = { __class__: 'mymodule.Error', __exception__: true, args: ['x'] };
    const back = decodeError({ ...mine, attributes: { [JS_CLASS_ATTRIBUTE]: 'Other' } }, opts5);
    expect((back as RemoteError).remoteType).toBe('mymodule.Error');
  });
});

describe("Python's str() of exception args", () => {
  it('follows Python for zero, one and several args', () => {
    expect(pyStrArgs([])).toBe('');
    expect(pyStrArgs(['only'])).toBe('only');
    expect(pyStrArgs([42])).toBe('42');
    expect(pyStrArgs(['custom failure', 42])).toBe("('custom failure', 42)");
    expect(pyStrArgs([Tuple.of(1)])).toBe('(1,)');
  });

  it('writes reprs of the model values', () => {
    const value = [
      null,
      true,
      false,
      1.5,
      2n ** 70n,
      "it's",
      new Uint8Array([0x61, 0]),
      new Set([1]),
      new Set(),
      new Map<unknown, unknown>([[1, 'a']]),
      { k: [undefined] },
      new Complex(1, -2),
      new Complex(0, 2),
      new TypeError('bad'),
      new (class Thing {})(),
      () => 1,
    ];
    expect(pyRepr(value, 0)).toBe(
      `[None, True, False, 1.5, 1180591620717411303424, "it's", b'a\\x00', {1}, set(), {1: 'a'}, {'k': [None]}, (1-2j), 2j, TypeError('bad'), <Thing object>, <function>]`,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = [deep];
    expect(pyRepr(deep, 0)).toContain('...');
  });
});
