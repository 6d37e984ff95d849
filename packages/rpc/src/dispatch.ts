// Serving side of a call: resolve an exposed member of an object and run it with Pyro's calling
// conventions (positional params, keyword arguments, `__getattr__`/`__setattr__` for remote
// attributes) and Pyro's error texts, so Python callers see exactly what a Python daemon would say.
import { RemoteError } from '@cinder/core';
import { type ExposedMethod, type Exposure, isPrivateName } from './expose.js';

/** An AttributeError as Python raises it; crosses the wire as `builtins.AttributeError`. */
export function attributeError(message: string): RemoteError {
  return new RemoteError({ remoteType: 'builtins.AttributeError', remoteMessage: message, args: [message] });
}

/** A TypeError about call arguments, as Python words it; crosses the wire as `builtins.TypeError`. */
export function argumentError(message: string): TypeError {
  return new TypeError(message);
}

function className(target: object): string {
  const name = (Object.getPrototypeOf(target) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}

/** Why `name` cannot be called on `target`: private, unexposed or missing (Pyro's texts). */
export function notCallable(target: object, name: string): RemoteError {
  if (name.includes('.')) return attributeError(`dotted names are not allowed: '${name}'`);
  if (isPrivateName(name)) return attributeError(`attempt to access private attribute '${name}'`);
  if (name in target) return attributeError(`attempt to access unexposed attribute '${name}'`);
  return attributeError(`'${className(target)}' object has no attribute '${name}'`);
}

const EMPTY_ARGS: unknown[] = [];

/**
 * Most positional arguments one call may pass. JavaScript passes arguments on the stack, so a call
 * with hundreds of thousands of them (a peer's params list is as long as it likes) would fail with a
 * stack overflow; no method takes that many, so more are refused like any bad argument list.
 */
export const MAX_POSITIONAL_ARGS = 10_000;

/** Refuses a params list longer than MAX_POSITIONAL_ARGS (a TypeError, as Python words it). */
export function checkArgCount(method: string, params: readonly unknown[]): void {
  if (params.length > MAX_POSITIONAL_ARGS) {
    throw argumentError(
      `${method}() takes at most ${MAX_POSITIONAL_ARGS} positional arguments but ${params.length} were given`,
    );
  }
}

/**
 * Maps positional params and keyword arguments onto a JavaScript argument list. With declared
 * parameter names (`@params`) keywords fill their positions (`**name` collects the rest); without
 * them, non-empty keywords arrive as one trailing object.
 */
export function buildArguments(
  method: string,
  m: ExposedMethod,
  params: readonly unknown[],
  kwargs: Record<string, unknown> | null,
): unknown[] {
  let hasKwargs = false;
  if (kwargs !== null)
    for (const _ in kwargs) {
      hasKwargs = true;
      break;
    }
  const names = m.params;
  if (!hasKwargs && names === undefined) return params.length === 0 ? EMPTY_ARGS : (params as unknown[]);
  if (names === undefined) return [...params, kwargs];
  const restIndex = names.findIndex((n) => n.startsWith('**'));
  const positional = restIndex >= 0 ? names.slice(0, restIndex) : names;
  // `**rest` collects keywords only, as in Python: extra positionals are an error either way
  if (params.length > positional.length) {
    const n = positional.length;
    throw argumentError(
      `${method}() takes ${n} positional argument${n === 1 ? '' : 's'} but ${params.length} ${params.length === 1 ? 'was' : 'were'} given`,
    );
  }
  if (!hasKwargs && restIndex < 0) return params.length === 0 ? EMPTY_ARGS : (params as unknown[]);
  const args: unknown[] = params.slice();
  while (args.length < positional.length) args.push(undefined);
  let rest: Record<string, unknown> | undefined;
  for (const key of hasKwargs ? Object.keys(kwargs!) : []) {
    const idx = positional.indexOf(key);
    if (idx < 0) {
      if (restIndex < 0) throw argumentError(`${method}() got an unexpected keyword argument '${key}'`);
      rest ??= {};
      Object.defineProperty(rest, key, {
        value: kwargs![key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (idx < params.length) {
      throw argumentError(`${method}() got multiple values for argument '${key}'`);
    } else {
      args[idx] = kwargs![key];
    }
  }
  if (restIndex >= 0) {
    args.length = Math.max(args.length, restIndex);
    args[restIndex] = rest ?? {};
  }
  return args;
}

/** Runs one call on an exposed object. May return a promise; throws for refused names. */
export function invokeExposed(
  target: object,
  exposure: Exposure,
  method: string,
  params: readonly unknown[],
  kwargs: Record<string, unknown> | null,
): unknown {
  const m = exposure.methods.get(method);
  if (m !== undefined) {
    checkArgCount(method, params);
    return m.fn.apply(target, buildArguments(method, m, params, kwargs));
  }
  if (method === '__getattr__' || method === '__setattr__') {
    const name = params[0];
    if (typeof name !== 'string') throw argumentError(`${method} needs an attribute name`);
    const attr = exposure.attrs.get(name);
    if (method === '__getattr__') {
      if (attr?.get) return attr.get.call(target);
    } else if (attr?.set) {
      attr.set.call(target, params[1]);
      return null;
    }
    throw notCallable(target, name);
  }
  throw notCallable(target, method);
}
