// `@cinder/rpc/internal`: the engine's parts for the two packages built on it, @cinder/proxy (the
// client) and @cinder/daemon (the server) — the Session, both halves of the handshake, callbacks,
// capabilities, dispatch of served calls, special replies, and the hook through which the client
// makes the proxies the serving end revives. Not for applications: nothing here is covered by the
// public API (its report, api/rpc-internal.api.md, exists so a change here shows in review too).
export {
  CALLBACK_CLASS,
  type CallbackReference,
  CallbackTable,
  callbackFunction,
  parseCallbackReference,
} from './callbacks.js';
export { Capability } from './capabilities.js';
export { invokeExposed } from './dispatch.js';
export {
  type ClientHandshakeResult,
  type ClientHandshakeSetup,
  type ConnectCache,
  clientHandshake,
  type FirstCall,
} from './handshake-client.js';
export {
  type AcceptedHandshake,
  ServerHandshake,
  type ServerHandshakeHost,
  type ServerHandshakeSettings,
  type ServerHandshakeState,
} from './handshake-server.js';
export type { ConnectData } from './handshake-shared.js';
export { type Beat, hasHeartbeat, heartbeatStep } from './heartbeat.js';
// Public types the parts above take (the same declarations as on the main entry).
export type {
  CallContext,
  ExposedAttribute,
  ExposedMethod,
  Exposure,
  HandshakeContext,
  Resource,
} from './index.js';
export { wasNotSent } from './outgoing-calls.js';
export {
  installProxyFactory,
  type ProxyFactory,
  proxies,
  type RevivedProxyOptions,
} from './proxy-factory.js';
export { isProxyClassName, parseProxyDict, proxyDict, proxyHooks } from './proxy-ref.js';
export type { StreamCalls, StreamStart } from './pull-stream.js';
export { type PushStreamHost, PushStreamReply } from './push-stream.js';
export { SpecialReply } from './served-replies.js';
export { Session } from './session.js';
export type {
  BatchSigner,
  CallReply,
  CallServer,
  IncomingCall,
  MessageSigner,
  OutgoingCall,
  SerializerLookup,
  SessionInit,
} from './session-types.js';
