// Public surface of @cinder/protocol.

/** A Buffer over part of another buffer's memory (a view, no copy), cheaper than `subarray`. */
export { bufferOver, view as bufferView } from './bytes.js';
export {
  type DecodeOptions,
  decodeMessage,
  type EncodeOptions,
  encodeMessage,
  encodeMessageInto,
} from './codec.js';
export {
  CORR_ANNOTATION,
  CORRELATION_ID_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  HEADER_SIZE_48,
  HEADER_SIZE_502,
  HMAC_ANNOTATION,
  MAGIC,
  MAX_ANNOTATIONS_LENGTH_48,
  MAX_DATA_LENGTH_48,
  PREFIX_SIZE,
} from './constants.js';
export { FrameReader, type FrameReaderOptions } from './frame-reader.js';
export { frameVersion, isPyroFrameStart, pyro4Checksum } from './header.js';
export { pyro4Hmac } from './hmac.js';
export * from './message.js';
export {
  fromPyro4Flags,
  fromPyro4SerializerId,
  PYRO4_ONLY_SERIALIZER_BASE,
  Pyro4Flags,
  Pyro4SerializerId,
  toPyro4Flags,
  toPyro4SerializerId,
} from './pyro4-codec.js';
export { encodeFrame502 } from './pyro5-codec.js';
