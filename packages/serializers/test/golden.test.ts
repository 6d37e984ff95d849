// Golden tests against the wire vectors captured from real Pyro5/Pyro4 peers: every payload decodes
// (with the serializer and dialect of its frame) to what the vector's `payload_decoded` says once
// Cinder's documented revival is applied (exceptions, URIs, batch wrappers, bytes dicts); INVOKE
// payloads decode with decodeCall; client CONNECT/INVOKE payloads re-encode byte for byte.
import {
  type CinderError,
  CommunicationError,
  DaemonError,
  NamingError,
  ProtocolError,
  RemoteError,
  SerializeError,
  URI,
} from '@cinder/core';
import {
  createPyRender,
  loadVectors,
  type VectorFile,
  type VectorLine,
  vectorFiles,
} from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import { Complex, createSerializers, ExceptionWrapper, type Serializer, Tuple } from '../src/index.js';

const { fromRendering, canon } = createPyRender({ Tuple, Complex });

// Every file of framed messages (broadcast.jsonl holds UDP datagrams, which carry no payload to decode).
const FILES = vectorFiles.filter((f) => f !== 'broadcast');

// Header serializer ids → names. Pyro4 numbers its serializers differently (pyro-reference §2.15).
const PYRO5_IDS: Record<number, string> = { 1: 'serpent', 2: 'marshal', 3: 'json', 4: 'msgpack' };
const PYRO4_IDS: Record<number, string> = { 1: 'serpent', 2: 'json', 3: 'marshal', 6: 'msgpack' };
const MSG_INVOKE = 4;
const MSG_CONNECT = 1;
const MSG_PING = 6;

const sets = { 5: createSerializers({ dialect: 5 }), 4: createSerializers({ dialect: 4 }) };

interface Frame {
  line: VectorLine;
  serializer: Serializer;
  payload: Uint8Array;
  msgType: number;
}

function framesOf(file: VectorFile): Frame[] {
  const out: Frame[] = [];
  for (const line of loadVectors(file)) {
    if (line.frame_hex === null || line.header === null) continue;
    const header = line.header as { serializer_id: number; msg_type: number; data_length: number };
    // Deliberately broken frames carry no decoded payload; PING payloads are opaque bytes.
    if (
      header.msg_type === MSG_PING ||
      line.malformed !== undefined ||
      line.payload_decode_error !== undefined
    )
      continue;
    const name = (line.protocol === 502 ? PYRO5_IDS : PYRO4_IDS)[header.serializer_id];
    if (name === undefined) continue;
    const serializer = sets[line.protocol === 502 ? 5 : 4].byName(name)!;
    const frame = Buffer.from(line.frame_hex, 'hex');
    const payload =
      line.payload_uncompressed_hex !== undefined
        ? Buffer.from(line.payload_uncompressed_hex, 'hex')
        : frame.subarray(frame.length - header.data_length);
    out.push({ line, serializer, payload: new Uint8Array(payload), msgType: header.msg_type });
  }
  return out;
}

const CINDER_FOR_PYRO: Record<string, string> = {
  PyroError: 'CinderError',
  CommunicationError: 'CommunicationError',
  ConnectionClosedError: 'ConnectionClosedError',
  TimeoutError: 'TimeoutError',
  ProtocolError: 'ProtocolError',
  MessageTooLargeError: 'MessageTooLargeError',
  SerializeError: 'SerializeError',
  NamingError: 'NamingError',
  DaemonError: 'DaemonError',
  SecurityError: 'SecurityError',
};

/** Python's str() of exception args, for the arg types the vectors hold (strings and ints). */
function pyArgsText(args: unknown[]): string {
  const repr = (a: unknown) => {
    if (typeof a === 'string') return `'${a}'`;
    if (typeof a === 'number' && Number.isInteger(a)) return String(a);
    throw new Error(`no repr for ${String(a)} in this test`);
  };
  if (args.length === 0) return '';
  if (args.length === 1) return typeof args[0] === 'string' ? args[0] : repr(args[0]);
  return `(${args.map(repr).join(', ')})`;
}

function isPlainDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** What Cinder's decoder should make of a rendered payload: the revival rules applied to it. */
function expectedRevival(v: unknown, textFormat: boolean): unknown {
  const walk = (x: unknown) => expectedRevival(x, textFormat);
  if (v instanceof Tuple) return Tuple.fromArray([...v].map(walk));
  if (Array.isArray(v)) return v.map(walk);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, walk(x)]));
  if (!isPlainDict(v)) return v;
  const d: Record<string, unknown> = {};
  for (const key of Object.keys(v))
    Object.defineProperty(d, key, { value: walk(v[key]), enumerable: true, writable: true });
  const keys = Object.keys(d);
  if (textFormat && keys.length === 2 && d.encoding === 'base64' && typeof d.data === 'string') {
    return new Uint8Array(Buffer.from(d.data, 'base64'));
  }
  const cls = d.__class__;
  if (typeof cls !== 'string') return d;
  if (d.__exception__ === true) {
    const args = [...(d.args as unknown[])];
    const attributes = d.attributes as Record<string, unknown>;
    const tb = attributes._pyroTraceback;
    const [module, short] = [cls.slice(0, cls.lastIndexOf('.')), cls.slice(cls.lastIndexOf('.') + 1)];
    const cinder =
      module === 'Pyro5.errors' || module === 'Pyro4.errors' ? CINDER_FOR_PYRO[short] : undefined;
    const marker: Record<string, unknown> = {
      $error: cinder ?? 'RemoteError',
      message: pyArgsText(args),
      traceback: Array.isArray(tb) ? tb : [],
    };
    if (cinder === undefined) {
      marker.remoteType = cls;
      marker.args = args;
      const rest: Record<string, unknown> = {};
      for (const k of Object.keys(attributes)) if (k !== '_pyroTraceback') rest[k] = attributes[k];
      marker.attributes = rest;
    }
    return marker;
  }
  if (cls === 'Pyro5.core.URI' || cls === 'Pyro4.core.URI')
    return { $uri: URI.fromPyroState(d.state).toString() };
  if (cls === 'Pyro5.core._ExceptionWrapper' || cls === 'Pyro4.futures._ExceptionWrapper') {
    return { $wrapper: d.exception };
  }
  if (cls === 'float') return Number(d.value);
  return d;
}

/** The decoded value with errors, URIs and wrappers replaced by the same markers. */
function describe_(v: unknown): unknown {
  if (v instanceof Error) {
    const marker: Record<string, unknown> = {
      $error: v.constructor.name,
      message: v instanceof RemoteError ? v.remoteMessage : v.message,
      traceback: (v as { remoteTraceback?: unknown }).remoteTraceback,
    };
    if (v instanceof RemoteError) {
      marker.remoteType = v.remoteType;
      marker.args = [...v.args];
      marker.attributes = v.attributes;
    }
    return marker;
  }
  if (v instanceof URI) return { $uri: v.toString() };
  if (v instanceof ExceptionWrapper) return { $wrapper: describe_(v.exception) };
  if (v instanceof Tuple) return Tuple.fromArray([...v].map(describe_));
  if (Array.isArray(v)) return v.map(describe_);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, describe_(x)]));
  if (v instanceof Set) return new Set([...v].map(describe_));
  if (!isPlainDict(v)) return v;
  const d: Record<string, unknown> = {};
  for (const key of Object.keys(v))
    Object.defineProperty(d, key, { value: describe_(v[key]), enumerable: true, writable: true });
  return d;
}

function expectedFor(frame: Frame): unknown {
  const text = frame.serializer.name === 'json' || frame.serializer.name === 'serpent';
  return expectedRevival(fromRendering(frame.line.payload_decoded), text);
}

const label = (f: Frame) => `${f.line.file} ${f.line.scenario}#${f.line.step}`;

describe('every vector payload decodes to payload_decoded (with revival)', () => {
  for (const file of FILES) {
    it(file, () => {
      const frames = framesOf(file);
      expect(frames.length).toBeGreaterThan(20);
      for (const frame of frames) {
        const got = describe_(frame.serializer.decode(frame.payload));
        expect(canon(got), label(frame)).toBe(canon(expectedFor(frame)));
      }
    });
  }
});

describe('INVOKE payloads decode with decodeCall', () => {
  for (const file of FILES) {
    it(file, () => {
      let count = 0;
      for (const frame of framesOf(file)) {
        if (frame.msgType !== MSG_INVOKE) continue;
        count++;
        const call = frame.serializer.decodeCall(frame.payload);
        const raw = expectedFor(frame);
        const [object, method, params, kwargs] = Array.isArray(raw)
          ? raw
          : [
              (raw as Record<string, unknown>).object,
              (raw as Record<string, unknown>).method,
              (raw as Record<string, unknown>).params,
              (raw as Record<string, unknown>).kwargs,
            ];
        expect(call.object, label(frame)).toBe(object);
        expect(call.method, label(frame)).toBe(method);
        expect(canon(describe_(call.params)), label(frame)).toBe(canon(params));
        expect(canon(describe_(call.kwargs)), label(frame)).toBe(canon(kwargs));
      }
      expect(count).toBeGreaterThan(5);
    });
  }
});

/**
 * Client payloads Cinder cannot reproduce byte for byte, and why. JavaScript has one number type,
 * so a Python float with an integral value (2.0) is written back as the int 2.
 */
const NOT_BYTE_EXACT: Record<string, string> = {
  echo_arg_float_integral: 'the float 2.0 is the number 2 in JavaScript and is written as an int',
};

describe('client CONNECT and INVOKE payloads re-encode byte for byte (json, serpent, msgpack)', () => {
  for (const file of FILES.filter((f) => !f.endsWith('marshal'))) {
    it(file, () => {
      let exact = 0;
      let skipped = 0;
      for (const frame of framesOf(file)) {
        const { line, serializer } = frame;
        if (line.direction !== 'c2s' || line.compare !== 'exact') continue;
        if (!['json', 'serpent', 'msgpack'].includes(serializer.name)) continue;
        if (frame.msgType !== MSG_INVOKE && frame.msgType !== MSG_CONNECT) continue;
        const again =
          frame.msgType === MSG_INVOKE
            ? serializer.encodeCall(serializer.decodeCall(frame.payload))
            : serializer.encode(serializer.decode(frame.payload));
        const same = Buffer.from(again).equals(Buffer.from(frame.payload));
        if (frame.msgType === MSG_INVOKE && NOT_BYTE_EXACT[line.scenario] !== undefined) {
          // Keep the list honest: a skipped case must really differ.
          expect(same, `${label(frame)} is listed as not byte-exact`).toBe(false);
          skipped++;
          continue;
        }
        expect(Buffer.from(again).toString('latin1'), label(frame)).toBe(
          Buffer.from(frame.payload).toString('latin1'),
        );
        exact++;
      }
      expect(exact).toBeGreaterThan(20);
      expect(skipped).toBeLessThanOrEqual(2);
    });
  }
});

/** Server RESULT payloads Cinder writes differently from Python, and why. */
const RESULT_NOT_BYTE_EXACT: Record<string, string> = {
  result_float_integral: 'the float 2.0 is the number 2 in JavaScript and is written as an int',
  echo_arg_float_integral: 'the float 2.0 is the number 2 in JavaScript and is written as an int',
  'serpent:echo_arg_bytes':
    "Pyro echoes serpent's bytes dict as a dict; Cinder reads it as bytes, which serpent writes with its own spacing",
};

describe('server RESULT payloads (values, batch results with errors) re-encode byte for byte', () => {
  for (const file of FILES.filter((f) => !f.endsWith('marshal'))) {
    it(file, () => {
      let exact = 0;
      for (const frame of framesOf(file)) {
        const { line, serializer } = frame;
        if (line.direction !== 's2c' || line.compare === 'decoded' || frame.msgType !== 5) continue;
        // Exception RESULTs carry Python's traceback, which only Python reproduces.
        if (((line.header as { flags: number }).flags & 1) !== 0) continue;
        const again = Buffer.from(serializer.encode(serializer.decode(frame.payload)));
        const why =
          RESULT_NOT_BYTE_EXACT[line.scenario] ??
          RESULT_NOT_BYTE_EXACT[`${serializer.name}:${line.scenario}`];
        if (why !== undefined) {
          expect(
            again.equals(Buffer.from(frame.payload)),
            `${label(frame)} is listed as not byte-exact`,
          ).toBe(false);
          continue;
        }
        expect(again.toString('latin1'), label(frame)).toBe(Buffer.from(frame.payload).toString('latin1'));
        exact++;
      }
      expect(exact).toBeGreaterThan(10);
    });
  }
});

describe('exception payloads decode to the right error class', () => {
  const cases: [VectorFile, string, Function, string][] = [
    ['pyro5-json', 'unknown object', DaemonError, 'DaemonError'],
    ['pyro4-serpent', 'unknown object', DaemonError, 'DaemonError'],
    ['pyro5-msgpack', 'result of call is an iterator', ProtocolError, 'ProtocolError'],
    ['pyro4-nameserver-serpent', 'unknown name: no.such.name', NamingError, 'NamingError'],
  ];
  for (const [file, message, cls, name] of cases) {
    it(`${file}: ${message} → ${name}`, () => {
      const frame = framesOf(file).find((f) => {
        const text = f.line.payload_text ?? Buffer.from(f.payload).toString('latin1');
        return text.includes(message) && text.includes('__exception__');
      });
      expect(frame).toBeDefined();
      const err = frame!.serializer.decode(frame!.payload) as CinderError & { remoteTraceback: string[] };
      expect(err).toBeInstanceOf(cls);
      expect(err.message).toBe(message);
      expect(Array.isArray(err.remoteTraceback)).toBe(true);
    });
  }

  it('builtins.ValueError with its traceback, args and message (all four formats)', () => {
    for (const file of [
      'pyro5-json',
      'pyro5-serpent',
      'pyro5-msgpack',
      'pyro5-marshal',
      'pyro4-json',
    ] as VectorFile[]) {
      const frame = framesOf(file).find(
        (f) => f.line.scenario === 'exception_builtin' && f.line.direction === 's2c' && f.msgType === 5,
      );
      expect(frame, file).toBeDefined();
      const err = frame!.serializer.decode(frame!.payload) as RemoteError;
      expect(err).toBeInstanceOf(RemoteError);
      expect(err.remoteType).toBe('builtins.ValueError');
      expect(err.remoteMessage).toBe('bad value');
      expect([...err.args]).toEqual(['bad value']);
      expect(err.remoteTraceback[0]).toBe('Traceback (most recent call last):\n');
      expect(err.remoteTraceback.at(-1)).toBe('ValueError: bad value\n');
    }
  });

  it('a custom exception class keeps its attributes', () => {
    const frame = framesOf('pyro5-json').find(
      (f) => f.line.scenario === 'exception_custom' && f.msgType === 5,
    )!;
    const err = frame.serializer.decode(frame.payload) as RemoteError;
    expect(err.remoteType).toBe('vectorobjects.CustomError');
    expect(err.remoteMessage).toBe("('custom failure', 42)");
    expect(err.attributes).toEqual({ code: 42, detail: 'extra attribute' });
  });

  it('the serializer-failure RESULT is a SerializeError, a CommunicationError as Pyro has it', () => {
    const frame = framesOf('pyro5-json').find((f) => {
      const d = f.line.payload_decoded as Record<string, unknown> | null;
      return d !== null && typeof d === 'object' && d.__class__ === 'Pyro5.errors.SerializeError';
    })!;
    const err = frame.serializer.decode(frame.payload);
    expect(err).toBeInstanceOf(SerializeError);
    expect(err).toBeInstanceOf(CommunicationError);
  });
});
