// Options and small helpers shared by the format codecs (json, serpent, marshal): how values outside
// the value model are replaced, the nesting limit, class revival, and safe property definition.
import { SerializeError } from '@cinder/core';
import { Tuple } from '../pyvalues.js';

export interface FormatEncodeOptions {
  /**
   * Called for any object outside the value model (class instances, Errors, Dates, …); must return a
   * model value (usually a dict with `"__class__"`). If absent or it returns undefined → SerializeError
   * naming the type.
   */
  replace?: (value: object) => unknown;
  /** Deepest container nesting allowed (the outermost container is level 1). Default 100. */
  maxDepth?: number;
}

export interface FormatDecodeOptions {
  /** Deepest container nesting allowed (the outermost container is level 1). Default 100. */
  maxDepth?: number;
  /**
   * Most values one decode may create, dict keys included (the decode budget). Default 250,000 (the
   * `maxDecodeItems` default).
   * Refused with a SerializeError before the values are allocated where the format announces counts.
   */
  maxItems?: number;
  /**
   * Called with each decoded dict that has a string `"__class__"` key (after its members are decoded);
   * its return value replaces the dict. Only plain-object dicts are offered: a dict with non-string
   * keys decodes to a Map and is left alone.
   */
  reviveClass?: (dict: Record<string, unknown>) => unknown;
}

export const DEFAULT_MAX_DEPTH = 100;
/** Most values one decode may create by default; see FormatDecodeOptions.maxItems. */
export const DEFAULT_MAX_ITEMS = 250_000;

/** Python 3.11 refuses int↔str conversions of more than 4300 decimal digits (CVE-2020-10735). */
export const PY_INT_MAX_STR_DIGITS = 4300;

export function maxDepthOf(options: { maxDepth?: number } | undefined): number {
  const d = options?.maxDepth;
  if (d === undefined) return DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(d) || d < 0) throw new SerializeError(`invalid maxDepth: ${String(d)}`);
  return d;
}

export function maxItemsOf(options: { maxItems?: number } | undefined): number {
  const n = options?.maxItems;
  if (n === undefined) return DEFAULT_MAX_ITEMS;
  if (!Number.isSafeInteger(n) || n < 1) throw new SerializeError(`invalid maxItems: ${String(n)}`);
  return n;
}

/** The SerializeError for data that would create more than `maxItems` values. */
export function tooManyItems(format: string, maxItems: number): SerializeError {
  return new SerializeError(
    `${format}: data holds more than maxItems=${maxItems} values (the decode budget; raise maxDecodeItems to accept it)`,
  );
}

/**
 * Sets an own data property. Plain assignment is fine for every key except `__proto__`, whose
 * assignment would replace the object's prototype instead of creating a property.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Whether `value` is a plain dict of the model: an object literal, `Object.create(null)` or JSON.parse output. */
export function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A short description of a value's type for error messages (`Date`, `function`, `symbol`, …). */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') return ctor.name;
    return 'object';
  }
  return typeof value;
}

export function tooDeep(maxDepth: number, where: string): SerializeError {
  return new SerializeError(`nesting deeper than maxDepth=${maxDepth} ${where}`);
}

/**
 * Runs `fn`, turning the RangeErrors of JavaScript's own limits into SerializeErrors: a stack
 * overflow (recursion is bounded by maxDepth, so only when a caller raises maxDepth beyond what the
 * stack holds) and strings or buffers beyond the engine's maximum size.
 */
export function guardStack<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) {
      const why = /call stack/i.test(err.message)
        ? 'nesting too deep for the call stack (lower maxDepth)'
        : `value too large (${err.message})`;
      throw new SerializeError(`${what}: ${why}`, { cause: err });
    }
    // Node's own size limits (Buffer#toString of more than the maximum string length).
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_STRING_TOO_LONG' || code === 'ERR_BUFFER_TOO_LARGE') {
      throw new SerializeError(`${what}: value too large (${(err as Error).message})`, { cause: err });
    }
    throw err;
  }
}

/** Calls options.replace for a value outside the model; a missing or undefined replacement is an error. */
export function replaceValue(
  value: object,
  options: FormatEncodeOptions | undefined,
  format: string,
): unknown {
  const replaced = options?.replace?.(value);
  if (replaced === undefined) {
    throw new SerializeError(`${format} cannot serialize a value of type ${typeName(value)}`);
  }
  return replaced;
}

/** Line and column (1-based) of a character offset, for error messages about text formats. */
export function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line} column ${offset - lineStart + 1}`;
}

/**
 * A new empty Tuple, to be filled with indexed stores. `new Tuple()` and `push()` on it take slow
 * generic paths in V8 (several µs per tuple when decoding), `Reflect.construct(Array, [], Tuple)`
 * about 350 ns; an array literal given Tuple's prototype about 130 ns (every such array shares one
 * map, so indexed stores and reads stay on the fast path).
 */
export function newTuple(): Tuple<unknown> {
  return Object.setPrototypeOf([], Tuple.prototype) as Tuple<unknown>;
}
