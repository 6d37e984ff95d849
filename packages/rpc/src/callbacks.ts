// Callbacks over the same connection (Cinder peers only, capability CALLBACKS): a local function or
// exposed object passed as an argument travels as a `cinder.Callback` reference; the other side gets
// a function or proxy that calls back over the connection the argument came on — no second server,
// and it works through NAT. The references live as long as the connection.
import { DaemonError, type ObjectMetadata, SerializeError } from '@cinder/core';
import type { Serializer } from '@cinder/serializers';
import { checkArgCount, invokeExposed, notCallable } from './dispatch.js';
import { exposureOf, isExposed } from './expose.js';
import type { Session } from './session.js';
import type { IncomingCall } from './session-types.js';

export const CALLBACK_CLASS = 'cinder.Callback';

/**
 * The objects one end lent to its peer, by callback id. Made when the first one is lent: every
 * proxy has a table, few lend anything.
 */
export class CallbackTable {
  private byId: Map<string, object> | undefined;
  private ids: WeakMap<object, string> | undefined;
  private next = 0;

  /** The reference to send for `value`, or undefined when it cannot be a callback. */
  reference(value: object): Record<string, unknown> | undefined {
    const isFunction = typeof value === 'function';
    if (!isFunction && !isExposed(value)) return undefined;
    const ids = (this.ids ??= new WeakMap());
    let id = ids.get(value);
    if (id === undefined) {
      id = `cb.${++this.next}`;
      ids.set(value, id);
      (this.byId ??= new Map()).set(id, value);
    }
    return isFunction
      ? { __class__: CALLBACK_CLASS, id, kind: 'function' }
      : { __class__: CALLBACK_CLASS, id, kind: 'object', meta: exposureOf(value).metadata };
  }

  /** Serves a call the peer made on a lent object. */
  dispatch(incoming: IncomingCall): unknown {
    const { call } = incoming;
    const target = this.byId?.get(call.object);
    if (target === undefined) throw new DaemonError('unknown object');
    if (typeof target === 'function') {
      if (call.method !== '__call__') throw notCallable(target, call.method);
      checkArgCount(call.method, call.params);
      return (target as (...args: unknown[]) => unknown)(...call.params);
    }
    return invokeExposed(target, exposureOf(target), call.method, call.params, call.kwargs);
  }

  /** Forgets every lent object (its connection is gone): lent again, each gets a new id. */
  clear(): void {
    this.byId = undefined;
    this.ids = undefined;
  }
}

export interface CallbackReference {
  id: string;
  kind: 'function' | 'object';
  meta: ObjectMetadata | undefined;
}

export function parseCallbackReference(dict: Record<string, unknown>): CallbackReference {
  const { id, kind, meta } = dict;
  if (typeof id !== 'string' || (kind !== 'function' && kind !== 'object')) {
    throw new SerializeError('invalid callback reference');
  }
  let metadata: ObjectMetadata | undefined;
  if (kind === 'object') {
    const m = meta as Record<string, unknown> | undefined;
    const list = (v: unknown) =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
    const methods = list(m?.methods);
    const oneway = list(m?.oneway);
    const attrs = list(m?.attrs);
    if (!methods || !oneway || !attrs) throw new SerializeError('invalid callback reference metadata');
    metadata = { methods, oneway, attrs };
  }
  return { id, kind, meta: metadata };
}

/** A function that calls back the peer's function `id` over `session`. */
export function callbackFunction(
  session: Session,
  id: string,
  serializer: Serializer,
): (...args: unknown[]) => Promise<unknown> {
  return (...args: unknown[]) =>
    session.invoke({ object: id, method: '__call__', params: args, kwargs: {} }, { serializer });
}
