// The one error hierarchy of Cinder. It mirrors Pyro's (PyroError ← CommunicationError ← …) so
// errors map one to one onto the wire, and every class carries a stable `name` and `code` that
// survive bundling and minification.

/** Every error code Cinder uses. */
export type ErrorCode =
  | 'CINDER_ERROR'
  | 'COMMUNICATION'
  | 'CONNECTION_CLOSED'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'PROTOCOL'
  | 'MESSAGE_TOO_LARGE'
  | 'SERIALIZE'
  | 'NAMING'
  | 'DAEMON'
  | 'SECURITY'
  | 'CONFIG'
  | 'INVALID_URI'
  | 'NOT_EXPOSED'
  | 'REMOTE';

export interface CinderErrorOptions {
  cause?: unknown;
}

/** Base class of every error Cinder raises (Pyro's `PyroError`). */
export class CinderError extends Error {
  static readonly code: ErrorCode = 'CINDER_ERROR';
  override readonly name: string = 'CinderError';
  readonly code: ErrorCode;

  constructor(message: string, options?: CinderErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = (new.target as typeof CinderError).code;
  }

  /**
   * Normalises anything thrown into a CinderError: CinderErrors pass through, abort and timeout
   * reasons become AbortedError/TimeoutError, anything else is wrapped with the original as cause.
   */
  static from(err: unknown): CinderError {
    if (err instanceof CinderError) return err;
    if (err instanceof Error) {
      if (err.name === 'TimeoutError') return new TimeoutError(err.message, { cause: err });
      if (err.name === 'AbortError') return new AbortedError(err.message, { cause: err });
      return new CinderError(err.message, { cause: err });
    }
    return new CinderError(String(err), { cause: err });
  }
}

/** Anything that went wrong talking to the other side (Pyro's `CommunicationError`). */
export class CommunicationError extends CinderError {
  static override readonly code: ErrorCode = 'COMMUNICATION';
  override readonly name: string = 'CommunicationError';
}

/** The connection closed, or was closed, while something still needed it. */
export class ConnectionClosedError extends CommunicationError {
  static override readonly code: ErrorCode = 'CONNECTION_CLOSED';
  override readonly name: string = 'ConnectionClosedError';
}

/** An operation did not complete within its time limit. */
export class TimeoutError extends CommunicationError {
  static override readonly code: ErrorCode = 'TIMEOUT';
  override readonly name: string = 'TimeoutError';
}

/**
 * An operation was cancelled through its AbortSignal. Its `name` is `'AbortError'`, like the
 * DOMException `fetch()` and Node's own APIs reject with, so `err.name === 'AbortError'` holds;
 * `err instanceof AbortedError` and `err.code === 'ABORTED'` work too. A signal that aborts with a
 * `TimeoutError` reason (`AbortSignal.timeout()`) gives a `TimeoutError` instead.
 */
export class AbortedError extends CommunicationError {
  static override readonly code: ErrorCode = 'ABORTED';
  override readonly name: string = 'AbortError';
}

/** The bytes on the wire are not a valid message (bad tag, version, magic, checksum, lengths…). */
export class ProtocolError extends CommunicationError {
  static override readonly code: ErrorCode = 'PROTOCOL';
  override readonly name: string = 'ProtocolError';
}

/** A message is larger than the configured maximum. Detected from the header, before allocation. */
export class MessageTooLargeError extends ProtocolError {
  static override readonly code: ErrorCode = 'MESSAGE_TOO_LARGE';
  override readonly name: string = 'MessageTooLargeError';
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, options?: CinderErrorOptions) {
    super(`message too large (${size}, max=${limit})`, options);
    this.size = size;
    this.limit = limit;
  }
}

/** A value could not be serialized or deserialized. */
export class SerializeError extends ProtocolError {
  static override readonly code: ErrorCode = 'SERIALIZE';
  override readonly name: string = 'SerializeError';
}

/** A name server operation failed (unknown name, invalid registration…). */
export class NamingError extends CinderError {
  static override readonly code: ErrorCode = 'NAMING';
  override readonly name: string = 'NamingError';
}

/** The daemon refused an operation (unknown object, duplicate registration…). */
export class DaemonError extends CinderError {
  static override readonly code: ErrorCode = 'DAEMON';
  override readonly name: string = 'DaemonError';
}

/** Authentication or authorisation failed, or a payload tried something forbidden. */
export class SecurityError extends CinderError {
  static override readonly code: ErrorCode = 'SECURITY';
  override readonly name: string = 'SecurityError';
}

/** Invalid configuration (unknown `CINDER_*` variable, bad value…). */
export class ConfigError extends CinderError {
  static override readonly code: ErrorCode = 'CONFIG';
  override readonly name: string = 'ConfigError';
}

/** A string is not a valid Pyro/Cinder URI; the message says which part is wrong. */
export class InvalidUriError extends CinderError {
  static override readonly code: ErrorCode = 'INVALID_URI';
  override readonly name: string = 'InvalidUriError';
}

/**
 * The proxy refused a call locally: the object's metadata (from the handshake) says the method or
 * attribute is not exposed, so nothing was sent. Pyro raises `AttributeError` here; to a Python peer
 * this error travels as `builtins.AttributeError`, with Pyro's message.
 */
export class NotExposedError extends CinderError {
  static override readonly code: ErrorCode = 'NOT_EXPOSED';
  override readonly name: string = 'NotExposedError';
}

export interface RemoteErrorInit {
  /** Fully qualified remote type, e.g. `builtins.ValueError` or `cinder.TypeError`. */
  remoteType: string;
  /** The remote error's message (Python: `str(args[0])`, or all args joined). */
  remoteMessage: string;
  /** Python exception `args`, or `[message]` for JavaScript errors. */
  args?: readonly unknown[];
  /** Remote traceback/stack as text lines (Pyro's `_pyroTraceback`). */
  remoteTraceback?: readonly string[];
  /** Extra attributes of the remote exception (Python `vars(exc)`, JS own properties). */
  attributes?: Readonly<Record<string, unknown>>;
}

/**
 * An exception raised by the remote method and re-thrown locally. Carries the remote type name,
 * message, arguments, attributes and the remote stack or traceback.
 */
export class RemoteError extends CinderError {
  static override readonly code: ErrorCode = 'REMOTE';
  override readonly name: string = 'RemoteError';
  readonly remoteType: string;
  readonly remoteMessage: string;
  readonly args: readonly unknown[];
  readonly remoteTraceback: readonly string[];
  readonly attributes: Readonly<Record<string, unknown>>;

  constructor(init: RemoteErrorInit, options?: CinderErrorOptions) {
    super(init.remoteMessage ? `${init.remoteType}: ${init.remoteMessage}` : init.remoteType, options);
    this.remoteType = init.remoteType;
    this.remoteMessage = init.remoteMessage;
    this.args = init.args ?? [init.remoteMessage];
    this.remoteTraceback = init.remoteTraceback ?? [];
    this.attributes = init.attributes ?? {};
  }

  /** The remote traceback as one string (what Pyro's `get_pyro_traceback` prints). */
  get remoteStack(): string {
    return this.remoteTraceback.join('');
  }
}

/** Every concrete error class by name, for decoding errors from the wire. */
export const errorClasses = {
  CinderError,
  CommunicationError,
  ConnectionClosedError,
  TimeoutError,
  AbortedError,
  ProtocolError,
  MessageTooLargeError,
  SerializeError,
  NamingError,
  DaemonError,
  SecurityError,
  ConfigError,
  InvalidUriError,
  NotExposedError,
} as const;

export function isCinderError(err: unknown): err is CinderError {
  return err instanceof CinderError;
}
