// Cinder: remote objects for TypeScript on Node.js, wire-compatible with Python Pyro. This facade
// re-exports the public API of every package so most users install only `@cinder/cinder`.
export * from '@cinder/core';
export {
  Daemon,
  DaemonObject,
  type DaemonOptions,
  type HandshakeContext,
  type RegisterOptions,
} from '@cinder/daemon';
export { Flags, MsgType, type ProtocolVersion, SerializerId } from '@cinder/protocol';
export * from '@cinder/proxy';
export {
  type CallEnvelope,
  type CodecHooks,
  Complex,
  type Serializer,
  Tuple,
} from '@cinder/serializers';
export { type Served, type ServeOptions, serve } from './serve.js';
