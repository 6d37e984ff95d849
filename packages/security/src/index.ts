// Public surface of @cinder/security.
export { constantTimeEqual, secretEqual } from './constant-time.js';
export {
  AUTH_FAILED_MESSAGE,
  isKeyExchangeHello,
  KEY_REQUIRED_MESSAGE,
  NONCE_ANNOTATION,
  NONCE_LENGTH,
  NOT_SYMMETRIC_MESSAGE,
  SHARED_KEY_VERSION,
  SharedKeyClient,
  type SharedKeyClientState,
  SharedKeyServer,
  type SharedKeyServerState,
} from './key-exchange.js';
export {
  deriveSessionKeys,
  MAC_ANNOTATION,
  MAC_LENGTH,
  MessageAuthenticator,
  type SessionKeys,
} from './message-auth.js';
export {
  HMAC_KEY_ENV,
  type KeyConfig,
  keyFromConfig,
  MAX_KEY_LENGTH,
  parseKey,
  RECOMMENDED_KEY_LENGTH,
  SharedKey,
  sharedKeyWarning,
} from './shared-key.js';
