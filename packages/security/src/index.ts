// Public surface of @cinder/security.
export {
  BATCH_ANNOTATION,
  BATCH_OFFER_ANNOTATION,
  BATCH_SCHEME_VERSION,
  BatchAuthenticator,
  isBatchTrailer,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
} from './batch-auth.js';
export { type BindProtection, bindWarning, isLoopbackHost } from './bind-warning.js';
export {
  type CertificateExpectation,
  type CertificateInfo,
  certificateMatches,
  certificateMismatch,
  requirePeerCertificate,
} from './certificates.js';
export { constantTimeEqual, secretEqual } from './constant-time.js';
export {
  allOf,
  type HandshakeContext,
  type HandshakeValidator,
  requireCertificate,
  requireToken,
  runHandshakeValidator,
  type TokenOptions,
} from './handshake.js';
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
  ConnectionLimitError,
  ConnectionLimiter,
  type ConnectionLimiterOptions,
  type ConnectionRelease,
  clientAddressKey,
  clientHostKey,
  type LimitName,
  type LimitSpec,
  type Limits,
  limitsFromConfig,
  securityLimits,
} from './limits.js';
export {
  deriveSessionKeys,
  MAC_ANNOTATION,
  MAC_LENGTH,
  MessageAuthenticator,
  type SessionKeys,
} from './message-auth.js';
export {
  type DropPrivilegesOptions,
  dropPrivileges,
  type PrivilegeState,
  resolveGroup,
  resolveUser,
} from './privileges.js';
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
export {
  loadCaCertificates,
  loadTlsOptions,
  MAX_CA_DIRECTORY_FILES,
  MAX_PEM_FILE_SIZE,
  type TlsClientOptions,
  type TlsConfig,
  type TlsOptionsSet,
  type TlsServerOptions,
} from './tls-options.js';
