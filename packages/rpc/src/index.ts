// Public surface of @cinder/rpc: what applications meet of the call engine, re-exported by
// @cinder/daemon, @cinder/proxy and the @cinder/cinder facade — the exposure rules of served objects
// (decorators and their functional forms), the call context inside a served call, what a
// handshake validator is shown, the streams a call may resolve with, and a proxy's description.
// The engine itself (session, handshakes, callbacks, capabilities, dispatch, the proxy-factory
// hook) is on `@cinder/rpc/internal`, for @cinder/proxy and @cinder/daemon only.
export {
  type CallContext,
  currentContext,
  currentCorrelationId,
  type Resource,
} from './context.js';
export {
  type BehaviorOptions,
  behavior,
  behaviorOf,
  type ExposedAttribute,
  type ExposedMethod,
  type ExposeOptions,
  type Exposure,
  expose,
  exposeAll,
  exposureOf,
  type InstanceMode,
  isExposed,
  oneway,
  params,
  setParams,
} from './expose.js';
export type { HandshakeContext } from './handshake-shared.js';
export type { ProxyDescriptor } from './proxy-ref.js';
export { PullStream } from './pull-stream.js';
export { PushStream } from './push-stream.js';
export type { RemoteStream } from './remote-stream.js';
