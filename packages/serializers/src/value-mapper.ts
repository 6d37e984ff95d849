// The one place where values outside the wire formats meet the class registry and the per-call
// hooks: what an encoder writes for an object it does not know, and what a decoder makes of a
// `__class__` dict. Every serializer of a set shares one mapper.
import { SecurityError, SerializeError } from '@cinder/core';
import { decodeError, encodeError } from './error-codec.js';
import { DEFAULT_MAX_ITEMS } from './formats/options.js';
import { type ClassRegistry, classToDict, defineOwn, dictToClass, ownProps } from './registry.js';
import type { CodecHooks, PyroDialect } from './serializer.js';

export const DEFAULT_MAX_DEPTH = 100;
export { DEFAULT_MAX_ITEMS } from './formats/options.js';
/** The largest maxDepth accepted: deeper recursion could exhaust the JavaScript stack. */
export const MAX_DEPTH_LIMIT = 1000;

export interface MapperOptions {
  dialect: PyroDialect;
  registry: ClassRegistry;
  /** Unregistered `__class__` dicts are refused (SerializeError) instead of kept as plain dicts. */
  strictClasses: boolean;
  /** Send the JavaScript stack as `_pyroTraceback`. */
  tracebacks: boolean;
  maxDepth: number;
  /** Most values one decode may create (the decode budget). */
  maxItems: number;
}

export class ValueMapper {
  readonly dialect: PyroDialect;
  readonly registry: ClassRegistry;
  readonly strictClasses: boolean;
  readonly tracebacks: boolean;
  readonly maxDepth: number;
  readonly maxItems: number;

  constructor(options: MapperOptions) {
    this.dialect = options.dialect;
    this.registry = options.registry;
    this.strictClasses = options.strictClasses;
    this.tracebacks = options.tracebacks;
    this.maxDepth = options.maxDepth;
    this.maxItems = options.maxItems;
  }

  /**
   * What to write in place of `value`, an object the format does not know (anything but arrays,
   * plain objects, Map, Set, Uint8Array, Complex and, where the format has them, Date). Order: errors
   * → their exception dict; dates → ISO text; then the hook's replacement; functions → SerializeError;
   * then the registry; then typed arrays and buffers; then Pyro's default, the own properties plus
   * `__class__`.
   */
  toModel(value: object, hooks: CodecHooks | undefined): unknown {
    if (value instanceof Error) {
      return encodeError(value, {
        dialect: this.dialect,
        registry: this.registry,
        tracebacks: this.tracebacks,
      });
    }
    // Formats without a date type: every one treats a Date the same, without the hook.
    if (value instanceof Date) return dateToIso(value);
    if (hooks?.replace !== undefined) {
      const replaced = hooks.replace(value);
      if (replaced !== undefined && replaced !== value) return replaced;
    }
    // Functions only travel when a hook turns them into something (a callback reference).
    if (typeof value === 'function') throw new SerializeError('cannot serialize a function');
    const entry = this.registry.entryFor(value);
    if (entry !== undefined) return classToDict(entry, value, this.dialect);
    if (ArrayBuffer.isView(value)) {
      if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      // Typed arrays travel as lists of numbers (bigints for the 64-bit kinds), like Python's array.array.
      return Array.from(value as unknown as ArrayLike<unknown>);
    }
    if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return new Uint8Array(value);
    const meaningless = meaninglessValue(value);
    if (meaningless !== undefined) throw new SerializeError(meaningless);
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'object';
    const dict = ownProps(value);
    defineOwn(dict, '__class__', name);
    return dict;
  }

  /**
   * What a received dict with a string `__class__` becomes: exceptions (`__exception__: true`) an
   * Error, registered classes their instance, then whatever the revive hook returns; otherwise the
   * dict itself (or a SerializeError with strictClasses). Names containing `__` are refused.
   */
  fromClassDict(dict: Record<string, unknown>, hooks: CodecHooks | undefined): unknown {
    const className = dict.__class__ as string;
    if (className.includes('__')) {
      throw new SecurityError(
        `refused to deserialize types with double underscores in their name: ${className}`,
      );
    }
    if (dict.__exception__ === true) {
      return decodeError(dict, { dialect: this.dialect, registry: this.registry });
    }
    const entry = this.registry.entryNamed(className);
    if (entry !== undefined) return dictToClass(entry, dict, className, this.dialect);
    if (hooks?.revive !== undefined) {
      const revived = hooks.revive(className, dict);
      if (revived !== undefined) return revived;
    }
    if (this.strictClasses) throw new SerializeError(`unsupported serialized class: ${className}`);
    return dict;
  }
}

/** Dates in formats without a date type: ISO 8601 text, as Pyro writes Python datetimes to json. */
function dateToIso(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new SerializeError('cannot serialize an invalid Date');
  return date.toISOString();
}

/** Byte strings up to this long are copied byte by byte (cheaper than TypedArray#set's call). */
const SMALL_COPY = 16;

/**
 * A copy of `src[start, end)` as a plain Uint8Array over its own memory (never a Buffer, whose
 * `slice` makes views, or a view into Node's shared allocation pool).
 */
export function copyBytes(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  const out = new Uint8Array(n);
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) out[i] = src[start + i]!;
  } else {
    // not src.subarray: on a Buffer it looks up the species constructor and makes a Buffer first
    out.set(new Uint8Array(src.buffer, src.byteOffset + start, n));
  }
  return out;
}

/** A maxDepth option checked and defaulted. */
export function checkMaxDepth(maxDepth: number | undefined): number {
  if (maxDepth === undefined) return DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_LIMIT) {
    throw new SerializeError(
      `maxDepth must be an integer from 1 to ${MAX_DEPTH_LIMIT}, got ${String(maxDepth)}`,
    );
  }
  return maxDepth;
}

/** A maxItems option checked and defaulted. */
export function checkMaxItems(maxItems: number | undefined): number {
  if (maxItems === undefined) return DEFAULT_MAX_ITEMS;
  if (!Number.isSafeInteger(maxItems) || maxItems < 1) {
    throw new SerializeError(`maxItems must be a positive integer, got ${String(maxItems)}`);
  }
  return maxItems;
}

/**
 * The exact dict json and serpent write for bytes, `{"data": <base64>, "encoding": "base64"}`, back
 * as a Uint8Array; anything else is returned as it is.
 */
export function bytesFromDict(dict: Record<string, unknown>): unknown {
  const data = dict.data;
  if (dict.encoding !== 'base64' || typeof data !== 'string') return dict;
  let count = 0;
  for (const _ in dict) if (++count > 2) return dict;
  if (count !== 2 || data.length % 4 !== 0 || data.includes('-') || data.includes('_')) return dict;
  // Node's decoder skips characters outside the alphabet and stops at '=': a decoded length short of
  // what the text promises means the text was not strict base64 (checked natively, no regex pass).
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const buf = Buffer.from(data, 'base64');
  if (buf.length !== (data.length / 4) * 3 - padding) return dict;
  return copyBytes(buf, 0, buf.length);
}

/**
 * Why `value` cannot mean anything on the other side (so sending its own properties as a
 * `__class__` dict would only hide a bug, such as a forgotten `await`), or undefined.
 */
function meaninglessValue(value: object): string | undefined {
  if (typeof (value as { then?: unknown }).then === 'function') {
    return 'cannot send a Promise (or other thenable) as a value: await it first (a forgotten `await`?)';
  }
  if (Symbol.asyncIterator in value) {
    return 'cannot send an async iterator or async generator as a value: collect it into an array first (a remote method that returns one streams it)';
  }
  if (Symbol.iterator in value && typeof (value as { next?: unknown }).next === 'function') {
    return 'cannot send an iterator or generator as a value: spread it into an array first (a remote method that returns one streams it)';
  }
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    return `cannot send a ${value.constructor.name}: its contents cannot be enumerated`;
  }
  return undefined;
}
