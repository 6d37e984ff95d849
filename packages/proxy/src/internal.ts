// `@cinder/proxy/internal`: a proxy's internal state, for Cinder's own tools built on the client (the
// HTTP gateway calls through a proxy's session; the interop tests reach its daemon object). Not for
// applications: a proxy's `$uri`, `$resolvedUri`, `$metadata` and `describeProxy()` say what they
// need; nothing here is covered by the public API (its report is api/proxy-internal.api.md).
export type { ProxyCore } from './proxy-core.js';
export { proxyCore } from './proxy-object.js';
// Public types ProxyCore takes (the same declarations as on the main entry).
export type { ProxyOptions, ReconnectOptions } from './proxy-options.js';
export type { RemoteCallOptions } from './remote.js';
