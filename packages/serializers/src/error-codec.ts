// Exceptions in Pyro's wire shape (pyro-reference §2.10):
//   {"__class__": "builtins.ValueError", "__exception__": true, "args": [...],
//    "attributes": {"_pyroTraceback": [lines…], …}}
// Cinder errors map one to one onto Pyro's error classes, JavaScript's built-in errors onto Python's
// built-in exceptions (so a Python client re-creates them), and registered error classes keep their
// names. Decoding never runs a constructor the payload chooses, except those of registered classes.
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
import { pyFloatRepr } from './formats/py-float.js';
import { pyBytesRepr, pyStrRepr } from './formats/py-repr.js';
import { Complex, Tuple } from './pyvalues.js';
import { type ClassEntry, type ClassRegistry, defineOwn } from './registry.js';
import type { PyroDialect } from './serializer.js';

/** The attribute that carries the remote traceback (a list of lines), as Pyro names it. */
export const TRACEBACK_ATTRIBUTE = '_pyroTraceback';
/**
 * The attribute that carries the JavaScript class of an error sent under a Python name, so a Cinder
 * peer can re-create the same class (Python peers just keep it as an attribute).
 */
export const JS_CLASS_ATTRIBUTE = '_jsClass';

type CinderErrorClass = new (message: string) => CinderError;

// Cinder class ↔ Pyro error class (the part after `Pyro5.errors.` / `Pyro4.errors.`).
const CINDER_TO_PYRO = new Map<Function, string>([
  [CinderError, 'PyroError'],
  [CommunicationError, 'CommunicationError'],
  [ConnectionClosedError, 'ConnectionClosedError'],
  [TimeoutError, 'TimeoutError'],
  [ProtocolError, 'ProtocolError'],
  [MessageTooLargeError, 'MessageTooLargeError'],
  [SerializeError, 'SerializeError'],
  [NamingError, 'NamingError'],
  [DaemonError, 'DaemonError'],
  [SecurityError, 'SecurityError'],
  // Cinder's own classes travel as their nearest Pyro class plus the JS class attribute.
  [AbortedError, 'CommunicationError'],
  [ConfigError, 'PyroError'],
  [InvalidUriError, 'PyroError'],
]);

const PYRO_TO_CINDER = new Map<string, CinderErrorClass>([
  ['PyroError', CinderError],
  ['CommunicationError', CommunicationError],
  ['ConnectionClosedError', ConnectionClosedError],
  ['TimeoutError', TimeoutError],
  ['ProtocolError', ProtocolError],
  ['MessageTooLargeError', MessageTooLargeError as unknown as CinderErrorClass],
  ['SerializeError', SerializeError],
  ['NamingError', NamingError],
  ['DaemonError', DaemonError],
  ['SecurityError', SecurityError],
]);

/** Cinder classes that travel under another class's Pyro name, by JS class name. */
const CINDER_BY_JS_NAME = new Map<string, CinderErrorClass>([
  ['AbortedError', AbortedError],
  ['ConfigError', ConfigError],
  ['InvalidUriError', InvalidUriError],
]);

// JavaScript built-in error → Python built-in exception. Subclasses use their nearest ancestor.
const JS_TO_PYTHON = new Map<Function, string>([
  [NotExposedError, 'AttributeError'],
  [TypeError, 'TypeError'],
  [RangeError, 'ValueError'],
  [SyntaxError, 'SyntaxError'],
  [ReferenceError, 'NameError'],
  [URIError, 'ValueError'],
  [EvalError, 'Exception'],
  [Error, 'Exception'],
]);

/** JavaScript error classes a received `_jsClass` may re-create: built-ins with a (message) constructor. */
const SAFE_JS_ERRORS = new Map<string, new (message: string) => Error>([
  ['NotExposedError', NotExposedError],
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['URIError', URIError],
  ['EvalError', EvalError],
]);

// Own properties that are part of the error itself, not attributes to send along.
const NOT_ATTRIBUTES = new Set(['name', 'message', 'stack', 'cause']);

/** What a received `_jsClass` may be to name a RemoteError's type: a plain JavaScript class name. */
const JS_CLASS_NAME = /^[A-Za-z_$][\w$]{0,199}$/;

/**
 * The `__class__` a RemoteError came with when its `remoteType` is the sender's JavaScript class
 * instead (a custom error class from a Cinder peer), so relaying it sends what a Python peer knows.
 */
const wireClassOf = new WeakMap<RemoteError, string>();

export interface ErrorCodecOptions {
  dialect: PyroDialect;
  registry: ClassRegistry;
  /** Whether `_pyroTraceback` carries the JavaScript stack (default true). */
  tracebacks?: boolean;
}

function errorsModule(dialect: PyroDialect): string {
  return dialect === 4 ? 'Pyro4.errors.' : 'Pyro5.errors.';
}

/**
 * An error as Pyro's exception dict. Attribute values are left as they are: the serializer encodes
 * them like any other value.
 */
export function encodeError(err: Error, options: ErrorCodecOptions): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  let className: string;
  let args: unknown[];
  const entry = options.registry.entryFor(err);
  if (entry) {
    className = entry.names[options.dialect];
    if (entry.converter.toDict) {
      // A registered class with its own converter decides the whole dict (args and attributes too).
      const state = entry.converter.toDict(err, { dialect: options.dialect, className });
      return { __class__: className, __exception__: true, ...withoutClass(state) };
    }
    args = messageArgs(err);
  } else if (err instanceof RemoteError) {
    // Relaying an error received from elsewhere: pass it on as it came.
    className = wireClassOf.get(err) ?? err.remoteType;
    args = [...err.args];
    for (const key of Object.keys(err.attributes)) defineOwn(attributes, key, err.attributes[key]);
  } else {
    const mapped = mapErrorClass(err, options.dialect);
    className = mapped.className;
    args = messageArgs(err);
    if (mapped.jsClass !== undefined) attributes[JS_CLASS_ATTRIBUTE] = mapped.jsClass;
  }
  if (!(err instanceof RemoteError)) {
    const isCinder = err instanceof CinderError;
    for (const key of Object.keys(err)) {
      if (NOT_ATTRIBUTES.has(key) || (isCinder && key === 'code')) continue;
      defineOwn(attributes, key, (err as unknown as Record<string, unknown>)[key]);
    }
  }
  if (options.tracebacks !== false) {
    attributes[TRACEBACK_ATTRIBUTE] =
      err instanceof RemoteError && err.remoteTraceback.length > 0
        ? [...err.remoteTraceback]
        : stackLines(err);
  } else {
    delete attributes[TRACEBACK_ATTRIBUTE];
  }
  // Python's args is a tuple: serpent and marshal write it as one, json and msgpack as a list.
  return { __class__: className, __exception__: true, args: Tuple.fromArray(args), attributes };
}

function withoutClass(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(state)) {
    if (key !== '__class__' && key !== '__exception__') defineOwn(out, key, state[key]);
  }
  return out;
}

/** Python's args for a JS error: its message, or nothing for an empty message (like `Exception()`). */
function messageArgs(err: Error): unknown[] {
  const message = typeof err.message === 'string' ? err.message : String(err.message);
  return message === '' ? [] : [message];
}

function mapErrorClass(err: Error, dialect: PyroDialect): { className: string; jsClass?: string } {
  const jsName = errorClassName(err);
  let proto = Object.getPrototypeOf(err) as object | null;
  while (proto !== null) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function') {
      const pyro = CINDER_TO_PYRO.get(ctor);
      if (pyro !== undefined) {
        const className = errorsModule(dialect) + pyro;
        // Only classes that travel under a borrowed name need the JS class to come back as themselves.
        return ctor === CinderError || PYRO_TO_CINDER.get(pyro) === ctor
          ? { className }
          : { className, jsClass: jsName };
      }
      const py = JS_TO_PYTHON.get(ctor);
      if (py !== undefined) return { className: `builtins.${py}`, jsClass: jsName };
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return { className: 'builtins.Exception', jsClass: jsName };
}

function errorClassName(err: Error): string {
  const ctor = (Object.getPrototypeOf(err) as { constructor?: { name?: unknown } } | null)?.constructor;
  const name = ctor?.name;
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

/** The JavaScript stack as traceback lines, each ending in a newline like Python's. */
function stackLines(err: Error): string[] {
  const stack = typeof err.stack === 'string' ? err.stack : `${errorClassName(err)}: ${err.message}`;
  const lines = stack.split('\n');
  const out: string[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) out[i] = `${lines[i]}\n`;
  return out;
}

/**
 * Rebuilds an error from Pyro's exception dict (members already decoded): Pyro's and Cinder's error
 * classes become the Cinder class, registered classes their class, JavaScript built-ins sent by
 * Cinder their built-in class, anything else a RemoteError. Every result carries `remoteTraceback`.
 */
export function decodeError(dict: Record<string, unknown>, options: ErrorCodecOptions): Error {
  const className = dict.__class__;
  if (typeof className !== 'string') throw new SerializeError('exception dict without a string __class__');
  if (className.includes('__')) {
    throw new SecurityError(
      `refused to deserialize types with double underscores in their name: ${className}`,
    );
  }
  const rawArgs = dict.args ?? [];
  if (!Array.isArray(rawArgs))
    throw new SerializeError(`exception ${className}: args must be a list or tuple`);
  const args: unknown[] = rawArgs instanceof Tuple ? [...rawArgs] : rawArgs;
  const rawAttributes = dict.attributes ?? {};
  if (
    typeof rawAttributes !== 'object' ||
    rawAttributes === null ||
    (Object.getPrototypeOf(rawAttributes) !== Object.prototype &&
      Object.getPrototypeOf(rawAttributes) !== null)
  ) {
    throw new SerializeError(`exception ${className}: attributes must be a dict with string keys`);
  }
  const attributes = rawAttributes as Record<string, unknown>;
  const traceback = tracebackOf(attributes[TRACEBACK_ATTRIBUTE]);
  const message = pyStrArgs(args);
  const jsClass =
    typeof attributes[JS_CLASS_ATTRIBUTE] === 'string'
      ? (attributes[JS_CLASS_ATTRIBUTE] as string)
      : undefined;

  const entry = options.registry.entryNamed(className);
  if (entry) return fromRegistered(entry, dict, className, args, message, attributes, traceback, options);

  let err: Error | undefined;
  const dot = className.lastIndexOf('.');
  const module = className.slice(0, dot + 1);
  const short = className.slice(dot + 1);
  if (module === 'Pyro5.errors.' || module === 'Pyro4.errors.') {
    const cls = PYRO_TO_CINDER.get(short);
    if (cls !== undefined) {
      const borrowed = jsClass !== undefined ? CINDER_BY_JS_NAME.get(jsClass) : undefined;
      const actual = borrowed !== undefined && CINDER_TO_PYRO.get(borrowed) === short ? borrowed : cls;
      err =
        actual === (MessageTooLargeError as unknown) ? tooLarge(message, attributes) : new actual(message);
    }
  } else if (module === 'builtins.' && jsClass !== undefined) {
    const ctor = SAFE_JS_ERRORS.get(jsClass);
    if (ctor !== undefined && JS_TO_PYTHON.get(ctor) === short) err = new ctor(message);
  }
  if (err === undefined) {
    // A JavaScript error class a Cinder peer sent under a Python name (`class InsufficientFunds
    // extends Error` → builtins.Exception + _jsClass): revived as that class when it is registered
    // here under its JavaScript name, otherwise a RemoteError whose remoteType is the class's name.
    const jsName =
      jsClass !== undefined && JS_CLASS_NAME.test(jsClass) && module === 'builtins.' ? jsClass : undefined;
    if (jsName !== undefined) {
      const named = options.registry.entryNamed(jsName);
      if (named !== undefined && named.ctor.prototype instanceof Error) {
        return fromRegistered(named, dict, jsName, args, message, attributes, traceback, options);
      }
    }
    const remote = new RemoteError({
      remoteType: jsName ?? className,
      remoteMessage: message,
      args,
      remoteTraceback: traceback,
      attributes: withoutTraceback(attributes),
    });
    if (jsName !== undefined) wireClassOf.set(remote, className);
    return remote;
  }
  attachRemote(err, attributes, traceback);
  return err;
}

function fromRegistered(
  entry: ClassEntry,
  dict: Record<string, unknown>,
  className: string,
  args: unknown[],
  message: string,
  attributes: Record<string, unknown>,
  traceback: string[],
  options: ErrorCodecOptions,
): Error {
  let value: unknown;
  try {
    if (entry.converter.fromDict) {
      value = entry.converter.fromDict(dict, { dialect: options.dialect, className });
    } else {
      // Pyro re-creates exceptions as `cls(*args)`; the class was registered, so its constructor is trusted.
      const ctor = entry.ctor as unknown as new (...a: unknown[]) => unknown;
      value = new ctor(...args);
    }
  } catch (cause) {
    value = undefined;
    if (cause instanceof SecurityError) throw cause;
  }
  if (!(value instanceof Error)) {
    // The class could not be rebuilt from these args: keep everything the peer sent.
    return new RemoteError({
      remoteType: className,
      remoteMessage: message,
      args,
      remoteTraceback: traceback,
      attributes: withoutTraceback(attributes),
    });
  }
  if (!entry.converter.fromDict) attachRemote(value, attributes, traceback, true);
  else if (!Object.hasOwn(value, 'remoteTraceback')) defineHidden(value, 'remoteTraceback', traceback);
  return value;
}

function tooLarge(message: string, attributes: Record<string, unknown>): Error {
  // Pyro's text is "message too large (size, max=limit)"; Cinder peers also send the numbers.
  const m = /\((\d+), max=(\d+)\)/.exec(message);
  const size = typeof attributes.size === 'number' ? attributes.size : m ? Number(m[1]) : 0;
  const limit = typeof attributes.limit === 'number' ? attributes.limit : m ? Number(m[2]) : 0;
  const err = new MessageTooLargeError(size, limit);
  err.message = message;
  return err;
}

/**
 * Gives a re-created error its remote traceback and the sent attributes. Built-in and Cinder classes
 * only gain attributes they do not have (a peer cannot overwrite `code` or `name`); registered classes
 * get every attribute set, as Pyro's `setattr` does, except over methods.
 */
function attachRemote(
  err: Error,
  attributes: Record<string, unknown>,
  traceback: string[],
  overwrite = false,
): void {
  const target = err as unknown as Record<string, unknown>;
  for (const key of Object.keys(attributes)) {
    if (key === TRACEBACK_ATTRIBUTE || key === JS_CLASS_ATTRIBUTE || NOT_ATTRIBUTES.has(key)) continue;
    if (key in err && (!overwrite || !Object.hasOwn(err, key) || typeof target[key] === 'function')) continue;
    defineOwn(target, key, attributes[key]);
  }
  defineHidden(err, 'remoteTraceback', traceback);
}

/** A non-enumerable own property, so it is not sent on again as an attribute if the error is relayed. */
function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

function withoutTraceback(attributes: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(attributes, TRACEBACK_ATTRIBUTE)) return attributes;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(attributes)) {
    if (key !== TRACEBACK_ATTRIBUTE) defineOwn(out, key, attributes[key]);
  }
  return out;
}

function tracebackOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const line of value) out.push(typeof line === 'string' ? line : pyStr(line));
  return out;
}

/** Python's `str(exception)`: '' for no args, `str(arg)` for one, `repr(args)` for several. */
export function pyStrArgs(args: readonly unknown[]): string {
  if (args.length === 0) return '';
  if (args.length === 1) return pyStr(args[0]);
  return pyRepr(Tuple.fromArray(args), 0);
}

/** Python's `str()` of a value: strings as they are, everything else as `repr()`. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value, 0);
}

/** Python's `repr()` of a model value, for messages; deep structures are cut short. */
export function pyRepr(value: unknown, depth: number): string {
  if (depth > 20) return '...';
  switch (typeof value) {
    case 'string':
      return pyStrRepr(value);
    case 'number':
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : pyFloatRepr(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'True' : 'False';
    case 'undefined':
      return 'None';
    case 'object': {
      if (value === null) return 'None';
      if (value instanceof Tuple) {
        const items = value.map((v) => pyRepr(v, depth + 1));
        return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
      }
      if (Array.isArray(value)) return `[${value.map((v) => pyRepr(v, depth + 1)).join(', ')}]`;
      if (value instanceof Uint8Array) return pyBytesRepr(value);
      if (value instanceof Set) {
        if (value.size === 0) return 'set()';
        return `{${[...value].map((v) => pyRepr(v, depth + 1)).join(', ')}}`;
      }
      if (value instanceof Map) {
        return `{${[...value].map(([k, v]) => `${pyRepr(k, depth + 1)}: ${pyRepr(v, depth + 1)}`).join(', ')}}`;
      }
      if (value instanceof Complex) return complexRepr(value);
      if (value instanceof Error) return `${value.name}(${pyStrRepr(value.message)})`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto === Object.prototype || proto === null) {
        const rec = value as Record<string, unknown>;
        return `{${Object.keys(rec)
          .map((k) => `${pyStrRepr(k)}: ${pyRepr(rec[k], depth + 1)}`)
          .join(', ')}}`;
      }
      return `<${(value as { constructor?: { name?: string } }).constructor?.name ?? 'object'} object>`;
    }
    default:
      return `<${typeof value}>`;
  }
}

function complexRepr(c: Complex): string {
  const im = `${pyFloatRepr(Math.abs(c.imag)).replace(/\.0$/, '')}j`;
  const sign = c.imag < 0 || Object.is(c.imag, -0) ? '-' : '+';
  if (c.real === 0 && !Object.is(c.real, -0)) return c.imag < 0 || Object.is(c.imag, -0) ? `-${im}` : im;
  return `(${pyFloatRepr(c.real).replace(/\.0$/, '')}${sign}${im})`;
}
