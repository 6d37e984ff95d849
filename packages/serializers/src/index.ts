// Public surface of @cinder/serializers.
export { TAG_COMPLEX } from './binary/cbor-codec.js';
export { EXT_BIGINT, EXT_COMPLEX, EXT_DATE, EXT_DATETIME } from './binary/msgpack-codec.js';
export {
  decodeError,
  type ErrorCodecOptions,
  encodeError,
  JS_CLASS_ATTRIBUTE,
  TRACEBACK_ATTRIBUTE,
} from './error-codec.js';
export * from './pyvalues.js';
export { QueuedCalls } from './queued-calls.js';
export {
  type AnyConstructor,
  type ClassContext,
  type ClassConverter,
  type ClassName,
  ClassRegistry,
  ExceptionWrapper,
} from './registry.js';
export * from './serializer.js';
export { createSerializers, type SerializerOptions, type SerializerSet } from './serializer-set.js';
export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, MAX_DEPTH_LIMIT } from './value-mapper.js';
