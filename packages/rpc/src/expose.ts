// Exposure: what a remote peer may call on an object. Like Pyro5, nothing is remotely accessible
// unless it is exposed; names starting with `_` are private (except non-deny-listed `__dunder__`
// names, as in Pyro), dotted names are refused, and only members the class itself declares are
// exposed unless the user asks for inherited ones. Works as TypeScript standard decorators
// (`@expose`, `@oneway`, `@behavior(...)`, `@params(...)`) and as plain functions for JavaScript.
import type { ObjectMetadata } from '@cinder/core';

/** How a daemon creates instances of a registered class (Pyro's instance modes). */
export type InstanceMode = 'single' | 'session' | 'percall';

export interface BehaviorOptions {
  /** Default `session`: one instance per client connection, like Pyro. */
  instanceMode?: InstanceMode;
  /** Creates the instance (instead of `new Class()`); must return an instance of the class. */
  instanceCreator?: (cls: new () => object) => object;
}

export interface ExposeOptions {
  /** Also expose public members inherited from base classes (Pyro never does; off by default). */
  inherited?: boolean;
}

type AnyFunction = (...args: any[]) => any;
type Constructor = abstract new (...args: any[]) => object;

const exposedMembers = new WeakSet<AnyFunction>();
const onewayMembers = new WeakSet<AnyFunction>();
const memberParams = new WeakMap<AnyFunction, readonly string[]>();
const exposedClasses = new WeakMap<object, ExposeOptions>();
const exposedObjects = new WeakSet<object>();
const behaviors = new WeakMap<object, BehaviorOptions>();

/** Pyro's deny-list of dunder names that are never remotely accessible, plus JavaScript's own. */
const DENIED = new Set([
  '__init__',
  '__call__',
  '__new__',
  '__del__',
  '__repr__',
  '__str__',
  '__format__',
  '__nonzero__',
  '__bool__',
  '__coerce__',
  '__cmp__',
  '__eq__',
  '__ne__',
  '__hash__',
  '__ge__',
  '__gt__',
  '__le__',
  '__lt__',
  '__dir__',
  '__enter__',
  '__exit__',
  '__copy__',
  '__deepcopy__',
  '__sizeof__',
  '__getattr__',
  '__setattr__',
  '__hasattr__',
  '__getattribute__',
  '__delattr__',
  '__instancecheck__',
  '__subclasscheck__',
  '__getinitargs__',
  '__getnewargs__',
  '__getstate__',
  '__setstate__',
  '__reduce__',
  '__reduce_ex__',
  '__getstate_for_dict__',
  '__setstate_from_dict__',
  '__subclasshook__',
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'constructor',
  'prototype',
  'toString',
  'toLocaleString',
  'valueOf',
  'toJSON',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'then',
]);

/** Pyro's rule: `_x` and `__x` are private, `__x__` (longer than 4 chars) is public unless denied. */
export function isPrivateName(name: string): boolean {
  if (DENIED.has(name)) return true;
  if (name.length > 4 && name.startsWith('__') && name.endsWith('__')) return false;
  return name.startsWith('_');
}

type DecoratorContext =
  | ClassDecoratorContext
  | ClassMethodDecoratorContext
  | ClassGetterDecoratorContext
  | ClassSetterDecoratorContext
  | ClassAccessorDecoratorContext;

function isDecoratorContext(value: unknown): value is DecoratorContext {
  return typeof value === 'object' && value !== null && 'kind' in value && 'name' in value;
}

function checkMemberName(context: DecoratorContext): void {
  if (typeof context.name !== 'string') throw new TypeError('symbol members cannot be exposed');
  if (context.kind !== 'class' && 'private' in context && context.private) {
    throw new TypeError(`#private member ${context.name} cannot be exposed`);
  }
  if (context.kind !== 'class' && isPrivateName(context.name)) {
    throw new TypeError(`private member '${context.name}' cannot be exposed`);
  }
  if (context.kind !== 'class' && 'static' in context && context.static) {
    throw new TypeError(`static member '${context.name}' cannot be exposed (expose instance members)`);
  }
}

function markMember(value: unknown, context: DecoratorContext): void {
  checkMemberName(context);
  if (context.kind === 'accessor') {
    const acc = value as ClassAccessorDecoratorTarget<unknown, unknown>;
    exposedMembers.add(acc.get);
    exposedMembers.add(acc.set);
  } else {
    exposedMembers.add(value as AnyFunction);
  }
}

function markByName(
  target: Constructor | object,
  names: readonly string[],
  mark: (fn: AnyFunction) => void,
): void {
  const proto = typeof target === 'function' ? (target.prototype as object) : target;
  for (const name of names) {
    if (isPrivateName(name)) throw new TypeError(`private member '${name}' cannot be exposed`);
    let found = false;
    for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (!d) continue;
      for (const fn of [d.value, d.get, d.set]) if (typeof fn === 'function') mark(fn as AnyFunction);
      found = true;
      break;
    }
    if (!found) throw new TypeError(`no member '${name}' to mark`);
  }
}

/**
 * Marks what is remotely accessible.
 * - `@expose` on a class: every public method and accessor the class itself declares.
 * - `@expose` on a method, getter, setter or `accessor` field: that member.
 * - `expose(Class)`, `expose(Class, ['add', 'value'])`, `expose(object)` for JavaScript users; an
 *   object literal passed to `expose` has all its own public methods and accessors exposed.
 */
export function expose<T>(target: T, context: DecoratorContext): void;
export function expose<T extends Constructor | object>(
  target: T,
  members?: readonly string[] | ExposeOptions,
): T;
export function expose(target: unknown, arg?: unknown): unknown {
  if (isDecoratorContext(arg)) {
    if (arg.kind === 'class') {
      checkMemberName(arg);
      exposedClasses.set(target as object, {});
    } else {
      markMember(target, arg);
    }
    return undefined;
  }
  if (Array.isArray(arg)) {
    markByName(target as object, arg as string[], (fn) => exposedMembers.add(fn));
    return target;
  }
  const options = (arg ?? {}) as ExposeOptions;
  if (typeof target === 'function') exposedClasses.set(target, options);
  else if (typeof target === 'object' && target !== null) exposedObjects.add(target);
  else throw new TypeError('expose() needs a class, an object, or a decorator context');
  return target;
}

/** Class decorator form with options: `@exposeAll({ inherited: true })`. */
export function exposeAll(options: ExposeOptions) {
  return (target: Constructor, _context: ClassDecoratorContext): void => {
    exposedClasses.set(target, options);
  };
}

/**
 * Marks methods as oneway: the client does not wait for a reply and the daemon runs them without
 * blocking the connection. Like Pyro, a oneway method must also be exposed.
 */
export function oneway(target: AnyFunction, context: ClassMethodDecoratorContext): void;
export function oneway<T extends Constructor>(target: T, ...methods: string[]): T;
export function oneway(target: unknown, ...rest: unknown[]): unknown {
  const first = rest[0];
  if (isDecoratorContext(first)) {
    checkMemberName(first);
    onewayMembers.add(target as AnyFunction);
    return undefined;
  }
  markByName(target as Constructor, rest as string[], (fn) => onewayMembers.add(fn));
  return target;
}

/** Sets the instance mode of a class registered with a daemon (Pyro's `@behavior`). */
export function behavior(
  options: BehaviorOptions,
): (target: Constructor, context: ClassDecoratorContext) => void;
export function behavior<T extends Constructor>(target: T, options: BehaviorOptions): T;
export function behavior(a: unknown, b?: unknown): unknown {
  if (typeof a === 'function') {
    behaviors.set(a, validateBehavior(b as BehaviorOptions));
    return a;
  }
  const options = validateBehavior(a as BehaviorOptions);
  return (target: Constructor) => {
    behaviors.set(target, options);
  };
}

function validateBehavior(options: BehaviorOptions): BehaviorOptions {
  const mode = options.instanceMode ?? 'session';
  if (mode !== 'single' && mode !== 'session' && mode !== 'percall') {
    throw new TypeError(`invalid instance mode: ${String(mode)}`);
  }
  if (options.instanceCreator !== undefined && typeof options.instanceCreator !== 'function') {
    throw new TypeError('instanceCreator must be a function');
  }
  return { ...options, instanceMode: mode };
}

/**
 * Names the parameters of a method so keyword arguments from Python callers map onto positions
 * (`@params('name', 'uri', 'safe', 'metadata')`). Without it, keyword arguments arrive as one
 * trailing object argument.
 */
export function params(...names: string[]) {
  return (target: AnyFunction, context: ClassMethodDecoratorContext): void => {
    checkMemberName(context);
    memberParams.set(target, names);
  };
}

/** Plain-function form of `@params` for JavaScript users. */
export function setParams<T extends Constructor>(cls: T, method: string, names: readonly string[]): T {
  markByName(cls, [method], (fn) => memberParams.set(fn, names));
  return cls;
}

/** The behaviour of a class (instance mode and creator), with Pyro's defaults. */
export function behaviorOf(cls: object): Required<Pick<BehaviorOptions, 'instanceMode'>> & BehaviorOptions {
  const b = behaviors.get(cls);
  return {
    instanceMode: b?.instanceMode ?? 'session',
    ...(b?.instanceCreator ? { instanceCreator: b.instanceCreator } : {}),
  };
}

export interface ExposedMethod {
  readonly fn: AnyFunction;
  readonly oneway: boolean;
  readonly params: readonly string[] | undefined;
}

export interface ExposedAttribute {
  readonly get: AnyFunction | undefined;
  readonly set: AnyFunction | undefined;
}

/** What one object (or every instance of one class) exposes; computed once and cached. */
export interface Exposure {
  readonly methods: ReadonlyMap<string, ExposedMethod>;
  readonly attrs: ReadonlyMap<string, ExposedAttribute>;
  readonly metadata: ObjectMetadata;
}

const exposureCache = new WeakMap<object, Exposure>();

/**
 * The exposure of an object: from its class (decorators or `expose(Class)`), or its own members when
 * it is a plain object passed to `expose(obj)`. Objects with nothing exposed get an empty exposure.
 */
export function exposureOf(target: object): Exposure {
  const cached = exposureCache.get(target);
  if (cached) return cached;
  let result: Exposure;
  if (exposedObjects.has(target)) {
    result = scan([target], true);
    exposureCache.set(target, result);
    return result;
  }
  const proto = typeof target === 'function' ? (target.prototype as object) : Object.getPrototypeOf(target);
  if (!proto || proto === Object.prototype) {
    result = scan([], false);
    exposureCache.set(target, result);
    return result;
  }
  const fromProto = exposureCache.get(proto);
  if (fromProto) return fromProto;
  const ctor = (proto as { constructor?: unknown }).constructor;
  const classOptions = typeof ctor === 'function' ? exposedClasses.get(ctor) : undefined;
  // Base classes are scanned too, but contribute only members marked one by one (a deliberate
  // choice by the user) unless the class was exposed with `inherited: true`.
  const chain: object[] = [];
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) chain.push(p);
  result = scan(chain, classOptions !== undefined, classOptions?.inherited ? chain.length : 1);
  exposureCache.set(proto, result);
  return result;
}

function scan(chain: readonly object[], wholeClass: boolean, wholeDepth = chain.length): Exposure {
  const methods = new Map<string, ExposedMethod>();
  const attrs = new Map<string, ExposedAttribute>();
  const seen = new Set<string>();
  chain.forEach((obj, depth) => {
    const all = wholeClass && depth < wholeDepth;
    for (const name of Object.getOwnPropertyNames(obj)) {
      if (seen.has(name)) continue;
      seen.add(name);
      if (isPrivateName(name) || name.includes('.')) continue;
      const d = Object.getOwnPropertyDescriptor(obj, name)!;
      if (typeof d.value === 'function') {
        const fn = d.value as AnyFunction;
        if (!all && !exposedMembers.has(fn)) continue;
        methods.set(name, { fn, oneway: onewayMembers.has(fn), params: memberParams.get(fn) });
      } else if (d.get || d.set) {
        const get = d.get && (all || exposedMembers.has(d.get)) ? d.get : undefined;
        const set = d.set && (all || exposedMembers.has(d.set)) ? d.set : undefined;
        if (get || set) attrs.set(name, { get, set });
      }
    }
  });
  const metadata: ObjectMetadata = {
    methods: [...methods.keys()],
    oneway: [...methods].filter(([, m]) => m.oneway).map(([n]) => n),
    attrs: [...attrs.keys()],
  };
  return { methods, attrs, metadata };
}

/** True when the object (or its class) exposes anything. */
export function isExposed(target: object): boolean {
  const e = exposureOf(target);
  return e.methods.size > 0 || e.attrs.size > 0;
}
