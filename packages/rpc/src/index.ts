// Public surface of @cinder/rpc: the call engine both ends of a connection run (the session,
// streams, callbacks, capabilities, call context), the exposure rules and dispatch of served
// objects, and proxies as values. Applications use it through @cinder/proxy, @cinder/daemon or
// @cinder/cinder; these exports are for those packages.
export {
  CALLBACK_CLASS,
  type CallbackReference,
  CallbackTable,
  callbackFunction,
  parseCallbackReference,
} from './callbacks.js';
export * from './capabilities.js';
export {
  type CallContext,
  currentContext,
  currentCorrelationId,
  type Resource,
} from './context.js';
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
  type ClientHandshakeOptions,
  type ClientHandshakeResult,
  clientHandshake,
} from './handshake-client.js';
export {
  type AcceptedHandshake,
  ServerHandshake,
  type ServerHandshakeHost,
} from './handshake-server.js';
export {
  type ConnectData,
  DEFAULT_HANDSHAKE,
  failureText,
  type HandshakeContext,
  offeredCapabilities,
  parseMetadata,
} from './handshake-shared.js';
export { startHeartbeat } from './heartbeat.js';
export { wasNotSent } from './outgoing-calls.js';
export {
  installProxyFactory,
  type ProxyFactory,
  proxies,
  type RevivedProxyOptions,
} from './proxy-factory.js';
export {
  isProxyClassName,
  type ProxyDescriptor,
  PYRO4_PROXY_CLASS,
  PYRO5_PROXY_CLASS,
  parseProxyDict,
  proxyDict,
  proxyHooks,
} from './proxy-ref.js';
export { PullStream, StreamStart } from './pull-stream.js';
export { PushStream, PushStreamReply } from './push-stream.js';
export type { RemoteStream } from './remote-stream.js';
export { SpecialReply } from './served-replies.js';
export { Session } from './session.js';
export type {
  CallReply,
  CallServer,
  IncomingCall,
  OutgoingCall,
  SerializerLookup,
  SessionInit,
} from './session-types.js';
export { newCorrelationId, pongFor } from './wire-messages.js';
