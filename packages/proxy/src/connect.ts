// `connect<T>(uri)`: a typed proxy whose method calls become remote calls (connecting lazily,
// resolving PYRONAME/PYROMETA uris on every (re)connect), the proxies for callbacks a peer lends
// over a connection, and the factory through which the engine's serving end makes both. Also the
// public name-server lookups, which reach the name server with a proxy made here.
import { type CinderConfig, type ObjectMetadata, URI } from '@cinder/core';
import { installProxyFactory, type Session } from '@cinder/rpc/internal';
import { webSocketTransport } from '@cinder/transport';
import { ProxyCore, type ProxyObjects } from './proxy-core.js';
import { describeProxy, makeProxy } from './proxy-object.js';
import type { ProxyOptions } from './proxy-options.js';
import type { Remote } from './remote.js';
import { type LocateOptions, locateThrough, type ResolveOptions, resolveThrough } from './resolve.js';
import { isWebSocketUri, parseWebSocketUri } from './websocket-uri.js';

/** What the proxies' codecs use to recognise proxy objects and revive the ones they receive. */
const objects: ProxyObjects = {
  connect: (uri, options) => connect(uri, options),
  describe: describeProxy,
};

/**
 * Resolves a URI to a `PYRO:` URI: PYRO is returned as is; PYRONAME is looked up by name; PYROMETA
 * picks a random registration that has all its tags. A lookup that fails with a NamingError is
 * retried until the configured `nsLookupDelayMs` has passed (Pyro5's NS_LOOKUP_DELAY). The name
 * server is reached with `options.proxyOptions` (a proxy passes its transport, TLS and key).
 */
export function resolveUri(uri: URI, options: ResolveOptions): Promise<URI> {
  return resolveThrough(connect, uri, options);
}

/**
 * Finds the name server and returns its `PYRO:` URI; throws NamingError when none answers. With a
 * host: only there. Without: like Pyro, a configured loopback nsHost is tried directly first, then
 * broadcast discovery, then nsHost directly when it is not loopback.
 */
export function locateNameServer(options: LocateOptions): Promise<URI> {
  return locateThrough(connect, options);
}

/**
 * A proxy for object `objectId` of the peer at the other end of `session` (a callback the peer
 * lent us): calls go over that connection and fail once it is closed.
 */
export function boundProxy<T>(
  session: Session,
  objectId: string,
  metadata: ObjectMetadata,
  config: CinderConfig,
): Remote<T> {
  const serializer = session.defaultSerializer;
  const uri = URI.forObject(objectId, { path: `cinder-connection-${session.connection.id}` });
  return makeProxy<T>(
    new ProxyCore(
      uri,
      {
        config,
        boundSession: session,
        metadata,
        ...(serializer ? { serializer: serializer.name } : {}),
        protocol: session.connection.protocolVersion ?? 502,
      },
      objects,
    ),
    undefined,
  );
}

/**
 * A proxy for the remote object at `uri` (`PYRO:`, `PYRONAME:` or `PYROMETA:`). Connects lazily on
 * the first call; `await proxy.$bind()` connects now. `await using p = connect(uri)` releases the
 * connection at the end of the scope.
 */
export function connect<T = Record<string, (...args: any[]) => any>>(
  uri: string | URI,
  options: ProxyOptions = {},
): Remote<T> {
  if (typeof uri === 'string' && isWebSocketUri(uri)) {
    // `ws://host:port/path#object`: the object behind a WebSocket endpoint (see websocket-uri.ts).
    const target = parseWebSocketUri(uri);
    const tls = options.tls;
    const transport =
      options.transport ??
      webSocketTransport({
        path: target.path,
        ...(target.secure ? { client: typeof tls === 'object' ? tls : true } : {}),
      });
    return makeProxy<T>(new ProxyCore(target.uri, { ...options, transport }, objects), undefined);
  }
  return makeProxy<T>(new ProxyCore(uri, options, objects), undefined);
}

// The serving end (a daemon, or this client serving callbacks) makes its proxies through the engine.
installProxyFactory({
  connect: (uri, options) => connect(uri, options),
  bound: (session, objectId, metadata, config) => boundProxy(session, objectId, metadata, config),
  describe: describeProxy,
});
