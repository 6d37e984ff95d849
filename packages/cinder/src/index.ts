/**
 * The facade most programs install: the public API of every Cinder package (client, server, name
 * server, errors, configuration, URIs) and `serve()`.
 *
 * @module @cinder/cinder
 */
// Cinder: remote objects for TypeScript on Node.js, wire-compatible with Python Pyro. This facade
// re-exports the public API of every package so most users install only `@cinder/cinder`.
export * from '@cinder/core';
export {
  type BehaviorOptions,
  behavior,
  behaviorOf,
  type CallContext,
  currentContext,
  currentCorrelationId,
  Daemon,
  type DaemonListener,
  type DaemonListenOptions,
  DaemonObject,
  type DaemonOptions,
  type ExposedAttribute,
  type ExposedMethod,
  type ExposeOptions,
  type Exposure,
  expose,
  exposeAll,
  exposureOf,
  type HandshakeContext,
  type InstanceMode,
  isExposed,
  oneway,
  params,
  type RegisterOptions,
  type Resource,
  setParams,
} from '@cinder/daemon';
export * from '@cinder/naming';
export { Flags, MsgType, type ProtocolVersion, SerializerId } from '@cinder/protocol';
export * from '@cinder/proxy';
// The security pieces applications use directly; the key exchange and MACs stay internal.
export {
  allOf,
  type CertificateExpectation,
  type CertificateInfo,
  ConnectionLimitError,
  certificateMatches,
  certificateMismatch,
  type DropPrivilegesOptions,
  dropPrivileges,
  type HandshakeValidator,
  loadCaCertificates,
  loadTlsOptions,
  parseKey,
  requireCertificate,
  requirePeerCertificate,
  requireToken,
  SharedKey,
  type TlsOptionsSet,
} from '@cinder/security';
export {
  type CallEnvelope,
  ClassRegistry,
  type CodecHooks,
  Complex,
  createSerializers,
  ExceptionWrapper,
  type Serializer,
  type SerializerSet,
  Tuple,
} from '@cinder/serializers';
export { type WebSocketTransportInit, webSocketTransport } from '@cinder/transport';
export { type Served, type ServeOptions, serve } from './serve.js';
