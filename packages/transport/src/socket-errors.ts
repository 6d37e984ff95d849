// Turns Node socket and TLS errors into Cinder's typed errors, with the address in the message and
// the original error as `cause`, so callers can branch on the class and users can read the text.
import {
  CinderError,
  CommunicationError,
  ConnectionClosedError,
  SecurityError,
  TimeoutError,
} from '@cinder/core';

interface NodeError extends Error {
  code?: string;
  /** OpenSSL's reason text on ERR_SSL_* errors (e.g. "tlsv13 alert certificate required"). */
  reason?: string;
}

// Certificate verification results (X509_V_ERR_* names as Node reports them) and Node's own TLS codes.
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'ERR_TLS_INVALID_PROTOCOL_VERSION',
  'ERR_TLS_PROTOCOL_VERSION_CONFLICT',
]);

/** True when `err` is a TLS handshake, alert or certificate verification failure. */
export function isTlsFailure(err: unknown): boolean {
  const code = (err as NodeError | null)?.code;
  if (typeof code !== 'string') return false;
  return code.startsWith('ERR_SSL_') || TLS_VERIFY_CODES.has(code);
}

function tlsReason(err: NodeError): string {
  const text = err.reason ?? err.message;
  return err.code && !text.includes(err.code) ? `${text} (${err.code})` : text;
}

/** The error a failed connect attempt to `address` rejects with. */
export function connectError(err: unknown, address: string): CinderError {
  if (err instanceof CinderError) return err;
  const e = err as NodeError;
  if (isTlsFailure(e)) {
    return new SecurityError(`TLS handshake with ${address} failed: ${tlsReason(e)}`, { cause: err });
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new CommunicationError(`connection refused: ${address}`, { cause: err });
    case 'ENOENT':
      return new CommunicationError(`no socket at ${address}`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CommunicationError(`cannot resolve host of ${address}`, { cause: err });
    case 'ETIMEDOUT':
      return new TimeoutError(`connecting to ${address} timed out`, { cause: err });
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return new TimeoutError(`TLS handshake with ${address} timed out`, { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
      return new ConnectionClosedError(`connection to ${address} closed during connect`, {
        cause: err,
      });
    default:
      return new CommunicationError(`cannot connect to ${address}: ${e.message ?? String(err)}`, {
        cause: err,
      });
  }
}

/** The error an established connection to `address` closes with. */
export function connectionError(err: unknown, address: string): CinderError {
  if (err instanceof CinderError) return err;
  const e = err as NodeError;
  if (isTlsFailure(e)) {
    return new SecurityError(`TLS failure on connection to ${address}: ${tlsReason(e)}`, {
      cause: err,
    });
  }
  switch (e.code) {
    case 'ECONNRESET':
      return new ConnectionClosedError(`connection to ${address} reset by peer`, { cause: err });
    case 'EPIPE':
    case 'ERR_STREAM_WRITE_AFTER_END':
    case 'ERR_STREAM_DESTROYED':
      return new ConnectionClosedError(`connection to ${address} closed by peer`, { cause: err });
    case 'ETIMEDOUT':
      return new TimeoutError(`connection to ${address} timed out`, { cause: err });
    default:
      return new CommunicationError(`connection to ${address} failed: ${e.message ?? String(err)}`, {
        cause: err,
      });
  }
}

/** The error a failed listen on `address` rejects with. */
export function listenError(err: unknown, address: string): CinderError {
  if (err instanceof CinderError) return err;
  const e = err as NodeError;
  switch (e.code) {
    case 'EADDRINUSE':
      return new CommunicationError(`address already in use: ${address}`, { cause: err });
    case 'EACCES':
      return new CommunicationError(`permission denied listening on ${address}`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new CommunicationError(`address not available: ${address}`, { cause: err });
    default:
      return new CommunicationError(`cannot listen on ${address}: ${e.message ?? String(err)}`, {
        cause: err,
      });
  }
}
