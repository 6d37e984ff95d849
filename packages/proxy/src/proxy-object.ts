// The public proxy object: a JS Proxy over a ProxyCore whose members are remote methods (a member
// is also awaitable, reading a remote attribute), with the `$` controls beside them that can never
// collide with remote names, and the hygiene that keeps it from being taken for a promise, a plain
// dict or something to enumerate or assign.
import type { CallOptions } from '@cinder/core';
import type { ProxyDescriptor } from '@cinder/rpc';
import { makeBatch } from './batch.js';
import type { ProxyCore } from './proxy-core.js';
import type { Remote, RemoteCallOptions } from './remote.js';

/**
 * Every proxy object made here. A WeakSet, not a WeakMap to the core: V8's young-generation
 * collector treats a WeakMap's values as live whatever their keys, so a map entry kept every new
 * proxy's core — and its connector, and a released connection's session — alive through the next
 * scavenge and promoted it to the old generation (a proxy made per call paid that in GC). The core
 * is read through the handler (CORE below), only for a value known to be a proxy.
 */
const proxies = new WeakSet<object>();
/** The property under which the handler hands out a proxy's core (never a remote name). */
const CORE: unique symbol = Symbol('cinder.proxyCore');
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
/** The internal state behind a proxy made by `connect`, or undefined for anything else. */
export function proxyCore(value: unknown): ProxyCore | undefined {
  return typeof value === 'object' && value !== null && proxies.has(value)
    ? (value as { [CORE]: ProxyCore })[CORE]
    : undefined;
}

/** The descriptor of a Cinder proxy (for passing it as a value), or undefined for anything else. */
export function describeProxy(value: object): ProxyDescriptor | undefined {
  return proxyCore(value)?.describe();
}

/** True when `value` is a Cinder proxy. */
export function isProxy(value: unknown): boolean {
  return proxyCore(value) !== undefined;
}

type Member = ((...args: unknown[]) => Promise<unknown>) & { then: Promise<unknown>['then'] };

function makeMember(core: ProxyCore, name: string, options: RemoteCallOptions | undefined): Member {
  // named by the computed key (the remote method's name), with no defineProperty of 'name'
  const fn = { [name]: (...args: unknown[]) => core.call(name, args, options) }[name] as Member;
  // `await proxy.attr` reads a remote attribute; the member itself is never a promise otherwise.
  Object.defineProperty(fn, 'then', {
    value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      core.getAttribute(name, options).then(onFulfilled, onRejected),
  });
  return fn;
}

/** The names of the `$` controls, for `in` (a plain object, so `in` answers as it always has). */
const CONTROLS: Readonly<Record<string, true>> = {
  $bind: true,
  $release: true,
  $rebind: true,
  $reconnect: true,
  $call: true,
  $get: true,
  $set: true,
  $with: true,
  $batch: true,
  $ping: true,
};

/**
 * The target of every proxy object, holding the proxy's state; one handler (below) serves every
 * proxy, and what a proxy hands out (controls, members, its description) is made when first asked
 * for — a proxy made for one call builds little. Its prototype is not Object.prototype, so
 * serializers never take a proxy for a plain dict (which would enumerate its remote members): they
 * hand it to the codec hooks, which write it as a Pyro proxy.
 */
class RemoteProxyTarget {
  readonly #core: ProxyCore;
  readonly #callOptions: RemoteCallOptions | undefined;
  #members: Map<string, Member> | undefined;
  #controls: Record<string, unknown> | undefined;
  #describe: (() => string) | undefined;

  constructor(core: ProxyCore, callOptions: RemoteCallOptions | undefined) {
    this.#core = core;
    this.#callOptions = callOptions;
  }

  /** util.inspect reads a proxy's target directly, never through the handler (`this`: the proxy). */
  [inspectCustom](): string {
    const core = #core in this ? this.#core : proxyCore(this);
    return core ? `<cinder.Proxy at ${core.uri}>` : '<cinder.Proxy>';
  }

  static describe(target: RemoteProxyTarget): () => string {
    const core = target.#core;
    target.#describe ??= () => `<cinder.Proxy at ${core.uri}>`;
    return target.#describe;
  }

  static core(target: RemoteProxyTarget): ProxyCore {
    return target.#core;
  }

  static member(target: RemoteProxyTarget, name: string): Member {
    const members = (target.#members ??= new Map());
    let m = members.get(name);
    if (m === undefined) {
      m = makeMember(target.#core, name, target.#callOptions);
      members.set(name, m);
    }
    return m;
  }

  static control(target: RemoteProxyTarget, name: string): unknown {
    const controls = (target.#controls ??= {});
    const made = controls[name];
    if (made !== undefined) return made;
    const control = makeControl(target.#core, target.#callOptions, name);
    if (control !== undefined) controls[name] = control;
    return control;
  }
}

function makeControl(core: ProxyCore, callOptions: RemoteCallOptions | undefined, name: string): unknown {
  switch (name) {
    case '$bind':
      return (options?: CallOptions) => core.ensure(options).then(() => undefined);
    case '$release':
      return () => core.release();
    case '$rebind':
      return () => core.rebind();
    case '$reconnect':
      return async (options?: CallOptions) => {
        await core.release();
        await core.ensure(options);
      };
    case '$call':
      return (method: string, args: unknown[] = [], options?: RemoteCallOptions) =>
        core.call(method, args, callOptions ? { ...callOptions, ...options } : options);
    case '$get':
      return (name: string, options?: CallOptions) => core.getAttribute(name, options ?? callOptions);
    case '$set':
      return (name: string, value: unknown, options?: CallOptions) =>
        core.setAttribute(name, value, options ?? callOptions);
    case '$with':
      return (options: RemoteCallOptions) =>
        makeProxy(core, callOptions ? { ...callOptions, ...options } : options);
    case '$batch':
      return () => makeBatch(core);
    case '$ping':
      return (options?: CallOptions) => core.ping(options ?? callOptions);
    default:
      return undefined;
  }
}

function exposes(core: ProxyCore, prop: string): boolean {
  const meta = core.metadata;
  return (
    meta !== undefined &&
    (meta.methods.includes(prop) || meta.attrs.includes(prop) || meta.oneway.includes(prop))
  );
}

const handler: ProxyHandler<RemoteProxyTarget> = {
  get(target, prop) {
    if (typeof prop === 'symbol') {
      if (prop === CORE) return RemoteProxyTarget.core(target);
      if (prop === Symbol.asyncDispose) return RemoteProxyTarget.control(target, '$release');
      if (prop === inspectCustom) return RemoteProxyTarget.describe(target);
      if (prop === Symbol.toStringTag) return 'CinderProxy';
      return undefined;
    }
    if (prop.charCodeAt(0) === 36 /* $ */) {
      const core = RemoteProxyTarget.core(target);
      switch (prop) {
        case '$uri':
          return core.uri;
        case '$resolvedUri':
          return core.resolved;
        case '$metadata':
          return core.metadata;
        case '$handshakeResponse':
          return core.handshakeResponse;
        case '$multiplexed':
          return core.multiplexed;
        case '$connected':
          return core.connected;
        default:
          return RemoteProxyTarget.control(target, prop);
      }
    }
    switch (prop) {
      case 'then':
        return undefined; // never mistaken for a promise
      case 'toString':
        return RemoteProxyTarget.describe(target);
      case 'toJSON':
      case 'valueOf': {
        const core = RemoteProxyTarget.core(target);
        return () => core.uri.toString();
      }
      case 'constructor':
        return Object;
    }
    return RemoteProxyTarget.member(target, prop);
  },
  set(_target, prop) {
    throw new TypeError(
      `cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`,
    );
  },
  has(target, prop) {
    if (typeof prop !== 'string') return false;
    return prop in CONTROLS || exposes(RemoteProxyTarget.core(target), prop);
  },
  ownKeys(target) {
    const meta = RemoteProxyTarget.core(target).metadata;
    return meta ? [...new Set([...meta.methods, ...meta.oneway, ...meta.attrs])] : [];
  },
  getOwnPropertyDescriptor(target, prop) {
    if (typeof prop !== 'string') return undefined;
    if (exposes(RemoteProxyTarget.core(target), prop)) {
      return {
        configurable: true,
        enumerable: true,
        writable: false,
        value: handler.get!(target, prop, undefined),
      };
    }
    return undefined;
  },
  deleteProperty() {
    return false;
  },
  defineProperty() {
    return false;
  },
};

export function makeProxy<T>(core: ProxyCore, callOptions: RemoteCallOptions | undefined): Remote<T> {
  const proxy = new Proxy(new RemoteProxyTarget(core, callOptions), handler) as unknown as Remote<T>;
  proxies.add(proxy);
  return proxy;
}
