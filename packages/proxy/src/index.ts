// Public surface of @cinder/proxy: the client, and the engine both ends of a connection share.
export {
  CALLBACK_CLASS,
  type CallbackReference,
  CallbackTable,
  callbackFunction,
  parseCallbackReference,
} from './callbacks.js';
export * from './capabilities.js';
export { type CallContext, currentContext, currentCorrelationId, type Resource } from './context.js';
export { attributeError, buildArguments, invokeExposed, notCallable } from './dispatch.js';
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
  isPrivateName,
  oneway,
  params,
  setParams,
} from './expose.js';
export {
  boundProxy,
  connect,
  describeProxy,
  isProxy,
  type ProxyCore,
  type ProxyOptions,
  proxyCore,
  type ReconnectOptions,
} from './proxy.js';
export {
  isProxyClassName,
  type ProxyDescriptor,
  PYRO4_PROXY_CLASS,
  PYRO5_PROXY_CLASS,
  parseProxyDict,
  proxyDict,
  proxyHooks,
} from './proxy-ref.js';
export { PushStream, PushStreamReply } from './push-stream.js';
export type * from './remote.js';
export {
  broadcastLocate,
  type LocateOptions,
  locateNameServer,
  type ResolveOptions,
  resolveUri,
} from './resolve.js';
export {
  type CallReply,
  type CallServer,
  type IncomingCall,
  newCorrelationId,
  type OutgoingCall,
  pongFor,
  type SerializerLookup,
  Session,
  type SessionInit,
  SpecialReply,
} from './session.js';
export { PullStream, StreamStart } from './streams.js';
export { isWebSocketUri, parseWebSocketUri, type WebSocketTarget, webSocketUri } from './websocket-uri.js';
