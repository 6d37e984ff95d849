// The class registry: which JavaScript classes travel as Pyro `__class__` dicts, under which names,
// and how they are rebuilt. One registry is passed to each serializer set (never a global), and every
// registry starts with Pyro's built-ins: URI, the batch exception wrapper and serpent's NaN/inf dict.
import { ConfigError, SerializeError, URI } from '@cinder/core';
import { Tuple } from './pyvalues.js';
import type { PyroDialect } from './serializer.js';

/** What a converter learns about the call it serves. */
export interface ClassContext {
  /** The dialect of the serializer set doing the work (decides names such as `Pyro5.core.URI`). */
  readonly dialect: PyroDialect;
  /** The `__class__` name being written or read. */
  readonly className: string;
}

export interface ClassConverter<T extends object = object> {
  /**
   * The instance's state as a dict (without `__class__`, which is added first). Default: the own
   * enumerable properties, as Pyro does with `vars(obj)`.
   */
  toDict?(value: T, context: ClassContext): Record<string, unknown>;
  /**
   * Rebuilds an instance from a received dict (its members already decoded). Default: an object with
   * the class's prototype and the dict's members other than `__class__` as own properties; for Error
   * classes, the constructor is called with the exception's `args`, as Pyro does.
   */
  fromDict?(dict: Record<string, unknown>, context: ClassContext): T;
}

/** A class's Pyro name: one for both dialects, or one per dialect. */
export type ClassName = string | { readonly 4: string; readonly 5: string };

/** A class, whatever its constructor's signature or visibility (only its prototype is used). */
export type AnyConstructor<T extends object = object> = Function & { readonly prototype: T };

export interface ClassEntry {
  readonly ctor: AnyConstructor;
  readonly names: { readonly 4: string; readonly 5: string };
  readonly converter: ClassConverter<any>;
  readonly builtin: boolean;
}

/**
 * A Python-side wrapper Pyro puts into batch results in place of the result of the call that raised
 * (`Pyro5.core._ExceptionWrapper`, `Pyro4.futures._ExceptionWrapper`); the batch stops there.
 */
export class ExceptionWrapper {
  constructor(readonly exception: unknown) {}
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '') throw new ConfigError('class name must be a non-empty string');
  // Pyro refuses such names on receipt, so registering one could never work with a Python peer.
  if (name.includes('__')) throw new ConfigError(`class name must not contain '__': ${name}`);
}

/** Registers classes for the `__class__` dict convention; see ClassConverter for the defaults. */
export class ClassRegistry {
  readonly #byProto = new Map<object, ClassEntry>();
  readonly #byName = new Map<string, ClassEntry>();

  constructor() {
    registerBuiltins(this);
  }

  /**
   * Registers `ctor` under `name` (e.g. `'mymodule.Point'`, or `{ 4: 'Pyro4.x.Y', 5: 'Pyro5.x.Y' }`).
   * Subclasses are written under the same name unless registered themselves. Registering a class or
   * name again replaces the earlier entry.
   */
  register<T extends object>(
    ctor: AnyConstructor<T>,
    name: ClassName,
    converter: ClassConverter<T> = {},
  ): this {
    return this.#add(ctor, name, converter, false);
  }

  /** Forgets a class (by constructor or by any of its names). Built-ins can be replaced, not removed. */
  unregister(ctorOrName: AnyConstructor | string): boolean {
    const entry =
      typeof ctorOrName === 'string' ? this.#byName.get(ctorOrName) : this.#byProto.get(ctorOrName.prototype);
    if (!entry || entry.builtin) return false;
    this.#remove(entry);
    return true;
  }

  /** @internal Registers a built-in entry (URI, ExceptionWrapper, …). */
  addBuiltin<T extends object>(ctor: AnyConstructor<T>, name: ClassName, converter: ClassConverter<T>): void {
    this.#add(ctor, name, converter, true);
  }

  #add(ctor: AnyConstructor, name: ClassName, converter: ClassConverter<any>, builtin: boolean): this {
    if (typeof ctor !== 'function' || typeof ctor.prototype !== 'object' || ctor.prototype === null) {
      throw new ConfigError('only classes can be registered');
    }
    if (ctor === (Object as unknown) || ctor === (Array as unknown) || ctor === (Function as unknown)) {
      throw new ConfigError(`refusing to register ${ctor.name}`);
    }
    const names = typeof name === 'string' ? { 4: name, 5: name } : { 4: name[4], 5: name[5] };
    checkName(names[4]);
    checkName(names[5]);
    const entry: ClassEntry = { ctor, names, converter, builtin };
    const old = this.#byProto.get(ctor.prototype as object);
    if (old) this.#remove(old);
    for (const n of [names[4], names[5]]) {
      const other = this.#byName.get(n);
      if (other && other !== entry) this.#remove(other);
    }
    this.#byProto.set(ctor.prototype as object, entry);
    this.#byName.set(names[4], entry);
    this.#byName.set(names[5], entry);
    return this;
  }

  #remove(entry: ClassEntry): void {
    this.#byProto.delete(entry.ctor.prototype as object);
    if (this.#byName.get(entry.names[4]) === entry) this.#byName.delete(entry.names[4]);
    if (this.#byName.get(entry.names[5]) === entry) this.#byName.delete(entry.names[5]);
  }

  /** The entry for an instance: its class or the nearest registered ancestor. */
  entryFor(value: object): ClassEntry | undefined {
    if (this.#byProto.size === 0) return undefined;
    let proto = Object.getPrototypeOf(value) as object | null;
    while (proto !== null && proto !== Object.prototype) {
      const entry = this.#byProto.get(proto);
      if (entry) return entry;
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    return undefined;
  }

  /** The entry registered under a `__class__` name (either dialect's). */
  entryNamed(name: string): ClassEntry | undefined {
    return this.#byName.get(name);
  }

  /** The `__class__` name a registered instance is written under, or undefined. */
  nameOf(value: object, dialect: PyroDialect): string | undefined {
    return this.entryFor(value)?.names[dialect];
  }
}

/** Writes a registered instance as its `__class__` dict. */
export function classToDict(entry: ClassEntry, value: object, dialect: PyroDialect): Record<string, unknown> {
  const className = entry.names[dialect];
  const out: Record<string, unknown> = { __class__: className };
  const state = entry.converter.toDict
    ? entry.converter.toDict(value, { dialect, className })
    : ownProps(value);
  for (const key of Object.keys(state)) {
    if (key === '__class__') continue;
    defineOwn(out, key, state[key]);
  }
  return out;
}

/** Rebuilds a registered instance from its dict; converter failures become SerializeErrors. */
export function dictToClass(
  entry: ClassEntry,
  dict: Record<string, unknown>,
  className: string,
  dialect: PyroDialect,
): unknown {
  const context: ClassContext = { dialect, className };
  try {
    if (entry.converter.fromDict) return entry.converter.fromDict(dict, context);
    // No converter: an instance of the class carrying the dict's members, built without running any
    // constructor, so nothing in the payload decides what code runs.
    const out = Object.create(entry.ctor.prototype as object) as Record<string, unknown>;
    for (const key of Object.keys(dict)) if (key !== '__class__') defineOwn(out, key, dict[key]);
    return out;
  } catch (err) {
    if (err instanceof SerializeError) throw err;
    throw new SerializeError(`cannot rebuild ${className}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
}

/** The own enumerable string-keyed properties of an object, as a fresh dict. */
export function ownProps(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) defineOwn(out, key, (value as Record<string, unknown>)[key]);
  return out;
}

/** Assignment that also works for the key `__proto__` (which must become an ordinary property). */
export function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function registerBuiltins(registry: ClassRegistry): void {
  registry.addBuiltin(
    URI,
    { 4: 'Pyro4.core.URI', 5: 'Pyro5.core.URI' },
    {
      // Pyro writes the state as a tuple; formats without tuples write a list.
      toDict: (uri) => ({ state: Tuple.fromArray(uri.toPyroState()) }),
      fromDict: (dict) => {
        try {
          return URI.fromPyroState(dict.state);
        } catch (err) {
          throw new SerializeError(`invalid URI state: ${(err as Error).message}`, { cause: err });
        }
      },
    },
  );
  registry.addBuiltin(
    ExceptionWrapper,
    { 4: 'Pyro4.futures._ExceptionWrapper', 5: 'Pyro5.core._ExceptionWrapper' },
    {
      toDict: (wrapper) => ({ exception: wrapper.exception }),
      fromDict: (dict) => new ExceptionWrapper(dict.exception),
    },
  );
}
