/**
 * The client side of Cinder: `connect()` and typed proxies, name-server lookups for
 * `PYRONAME:`/`PYROMETA:` URIs, and the streams a call may resolve with. A client-only program
 * needs only this package.
 *
 * @module @cinder/proxy
 */
// Public surface of @cinder/proxy: the client (the engine it runs on is @cinder/rpc).

// The streams a call may resolve with (pulled from a Pyro daemon, pushed by a Cinder one).
export { PullStream, PushStream } from '@cinder/rpc';
export { connect, locateNameServer, resolveUri } from './connect.js';
export { describeProxy, isProxy } from './proxy-object.js';
export type { ProxyOptions, ReconnectOptions } from './proxy-options.js';
export type * from './remote.js';
export { broadcastLocate, type LocateOptions, nameServerUris, type ResolveOptions } from './resolve.js';
export { isWebSocketUri, parseWebSocketUri, type WebSocketTarget, webSocketUri } from './websocket-uri.js';
