// Proxies as values: how a proxy crosses the wire (Pyro's serialized `Proxy`, so Python peers get a
// working proxy and send us theirs), and the codec hooks that turn such dicts back into proxies.
import { type ObjectMetadata, SerializeError, URI } from '@cinder/core';
import type { CodecHooks, PyroDialect } from '@cinder/serializers';

/** The parts of a proxy that travel. */
export interface ProxyDescriptor {
  uri: URI;
  metadata: ObjectMetadata;
  handshake: unknown;
  serializer: string | null;
}

export const PYRO5_PROXY_CLASS = 'Pyro5.client.Proxy';
export const PYRO4_PROXY_CLASS = 'Pyro4.core.Proxy';

/**
 * Pyro's serialized form: Pyro5 `state = [uri, oneway, methods, attrs, handshake, serializer]`;
 * Pyro4 `state = [uri, oneway, methods, attrs, timeout, hmac, handshake, maxretries, serializer]`.
 */
export function proxyDict(p: ProxyDescriptor, dialect: PyroDialect): Record<string, unknown> {
  const { uri, metadata: m } = p;
  if (dialect === 4) {
    return {
      __class__: PYRO4_PROXY_CLASS,
      state: [uri.toString(), m.oneway, m.methods, m.attrs, 0, null, p.handshake, 0, p.serializer],
    };
  }
  return {
    __class__: PYRO5_PROXY_CLASS,
    state: [uri.toString(), m.oneway, m.methods, m.attrs, p.handshake, p.serializer],
  };
}

function names(value: unknown): string[] {
  const items = value instanceof Set ? [...value] : value;
  if (!Array.isArray(items) || !items.every((n) => typeof n === 'string')) {
    throw new SerializeError('invalid serialized proxy: metadata must be lists of names');
  }
  return items as string[];
}

/** Parses a serialized Pyro4/Pyro5 proxy dict; throws SerializeError when malformed. */
export function parseProxyDict(className: string, dict: Record<string, unknown>): ProxyDescriptor {
  const state = dict.state;
  if (!Array.isArray(state)) throw new SerializeError('invalid serialized proxy: no state');
  const pyro4 = className === PYRO4_PROXY_CLASS;
  if (state.length !== (pyro4 ? 9 : 6))
    throw new SerializeError('invalid serialized proxy: wrong state length');
  const uriText = state[0];
  const uri = uriText instanceof URI ? uriText : typeof uriText === 'string' ? URI.parse(uriText) : undefined;
  if (uri?.protocol !== 'PYRO') throw new SerializeError('invalid serialized proxy: bad uri');
  const serializer = pyro4 ? state[8] : state[5];
  return {
    uri,
    metadata: { oneway: names(state[1]), methods: names(state[2]), attrs: names(state[3]) },
    handshake: pyro4 ? state[6] : state[4],
    serializer: typeof serializer === 'string' ? serializer : null,
  };
}

export function isProxyClassName(name: string): boolean {
  return name === PYRO5_PROXY_CLASS || name === PYRO4_PROXY_CLASS;
}

/**
 * Codec hooks for one end: our proxies are written as Pyro proxy dicts (in `dialect`), and proxy
 * dicts received become proxies made by `makeProxy`. `replaceOther` handles anything else first
 * (the daemon's autoproxy of registered objects).
 */
export function proxyHooks(options: {
  dialect: PyroDialect;
  describe: (value: object) => ProxyDescriptor | undefined;
  makeProxy: (descriptor: ProxyDescriptor) => unknown;
  replaceOther?: (value: object) => unknown;
  reviveOther?: (className: string, dict: Record<string, unknown>) => unknown;
}): CodecHooks {
  return {
    replace(value) {
      const other = options.replaceOther?.(value);
      if (other !== undefined) return other;
      const d = options.describe(value);
      return d ? proxyDict(d, options.dialect) : undefined;
    },
    revive(className, dict) {
      if (!isProxyClassName(className)) return options.reviveOther?.(className, dict);
      return options.makeProxy(parseProxyDict(className, dict));
    },
  };
}
