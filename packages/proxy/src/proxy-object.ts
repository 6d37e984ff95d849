// The public proxy object: a JS Proxy over a ProxyCore whose members are remote methods (a member
// is also awaitable, reading a remote attribute), with the `$` controls beside them that can never
// collide with remote names, and the hygiene that keeps it from being taken for a promise, a plain
// dict or something to enumerate or assign.
import type { CallOptions } from '@cinder/core';
import type { ProxyDescriptor } from '@cinder/rpc';
import { makeBatch } from './batch.js';
import type { ProxyCore } from './proxy-core.js';
import type { Remote, RemoteCallOptions } from './remote.js';

const cores = new WeakMap<object, ProxyCore>();
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
/**
 * The target of every proxy object. Its prototype is not Object.prototype, so serializers never
 * take a proxy for a plain dict (which would enumerate its remote members): they hand it to the
 * codec hooks, which write it as a Pyro proxy.
 */
class RemoteProxyTarget {}

/** The internal state behind a proxy made by `connect`, or undefined for anything else. */
export function proxyCore(value: unknown): ProxyCore | undefined {
  return typeof value === 'object' && value !== null ? cores.get(value) : undefined;
}

/** The descriptor of a Cinder proxy (for passing it as a value), or undefined for anything else. */
export function describeProxy(value: object): ProxyDescriptor | undefined {
  return cores.get(value)?.describe();
}

/** True when `value` is a Cinder proxy. */
export function isProxy(value: unknown): boolean {
  return proxyCore(value) !== undefined;
}

type Member = ((...args: unknown[]) => Promise<unknown>) & { then: Promise<unknown>['then'] };

function makeMember(core: ProxyCore, name: string, options: RemoteCallOptions | undefined): Member {
  const fn = ((...args: unknown[]) => core.call(name, args, options)) as Member;
  // `await proxy.attr` reads a remote attribute; the member itself is never a promise otherwise.
  Object.defineProperty(fn, 'then', {
    value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      core.getAttribute(name, options).then(onFulfilled, onRejected),
  });
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

export function makeProxy<T>(core: ProxyCore, callOptions: RemoteCallOptions | undefined): Remote<T> {
  const members = new Map<string, Member>();
  const controls: Record<string, unknown> = {
    $bind: (options?: CallOptions) => core.ensure(options).then(() => undefined),
    $release: () => core.release(),
    $rebind: () => core.rebind(),
    $reconnect: async (options?: CallOptions) => {
      await core.release();
      await core.ensure(options);
    },
    $call: (method: string, args: unknown[] = [], options?: RemoteCallOptions) =>
      core.call(method, args, callOptions ? { ...callOptions, ...options } : options),
    $get: (name: string, options?: CallOptions) => core.getAttribute(name, options ?? callOptions),
    $set: (name: string, value: unknown, options?: CallOptions) =>
      core.setAttribute(name, value, options ?? callOptions),
    $with: (options: RemoteCallOptions) =>
      makeProxy<T>(core, callOptions ? { ...callOptions, ...options } : options),
    $batch: () => makeBatch<T>(core),
    $ping: (options?: CallOptions) => core.ping(options ?? callOptions),
  };
  const describe = () => `<cinder.Proxy at ${core.uri}>`;
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === 'symbol') {
        if (prop === Symbol.asyncDispose) return () => core.release();
        if (prop === inspectCustom) return describe;
        if (prop === Symbol.toStringTag) return 'CinderProxy';
        return undefined;
      }
      if (prop.charCodeAt(0) === 36 /* $ */) {
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
            return controls[prop];
        }
      }
      switch (prop) {
        case 'then':
          return undefined; // never mistaken for a promise
        case 'toString':
          return describe;
        case 'toJSON':
          return () => core.uri.toString();
        case 'valueOf':
          return () => core.uri.toString();
        case 'constructor':
          return Object;
      }
      let m = members.get(prop);
      if (m === undefined) {
        m = makeMember(core, prop, callOptions);
        members.set(prop, m);
      }
      return m;
    },
    set(_target, prop) {
      throw new TypeError(
        `cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`,
      );
    },
    has(_target, prop) {
      if (typeof prop !== 'string') return false;
      const meta = core.metadata;
      return (
        prop in controls ||
        (meta !== undefined &&
          (meta.methods.includes(prop) || meta.attrs.includes(prop) || meta.oneway.includes(prop)))
      );
    },
    ownKeys() {
      const meta = core.metadata;
      return meta ? [...new Set([...meta.methods, ...meta.oneway, ...meta.attrs])] : [];
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (typeof prop !== 'string') return undefined;
      const meta = core.metadata;
      if (meta && (meta.methods.includes(prop) || meta.attrs.includes(prop) || meta.oneway.includes(prop))) {
        return {
          configurable: true,
          enumerable: true,
          writable: false,
          value: handler.get!(_target, prop, undefined),
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
  const target = new RemoteProxyTarget();
  // util.inspect reads a proxy's target directly, never through the handler
  Object.defineProperty(target, inspectCustom, { value: describe, configurable: true });
  const proxy = new Proxy(target, handler) as Remote<T>;
  cores.set(proxy, core);
  return proxy;
}
