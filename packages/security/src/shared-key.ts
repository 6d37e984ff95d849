// The shared secret of shared-key authentication: parsed once from configuration or the
// environment, kept out of logs, and handed to both the Cinder handshake (as a KeyObject) and the
// Pyro4 HMAC of the framing layer (as bytes).
import { createSecretKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '@cinder/core';
import { constantTimeEqual } from './constant-time.js';

/** Longest key accepted: anything longer is almost certainly a misconfiguration (a whole file…). */
export const MAX_KEY_LENGTH = 4096;
/** Keys shorter than this get a warning from `sharedKeyWarning`. */
export const RECOMMENDED_KEY_LENGTH = 16;
/** The environment variable read by `keyFromConfig` when the configuration holds no key. */
export const HMAC_KEY_ENV = 'CINDER_HMAC_KEY';

const REDACTED = 'SharedKey(<redacted>)';

/**
 * A shared secret. Its bytes never appear in `String()`, `JSON.stringify` or `util.inspect`, so a
 * logged config or error cannot leak it.
 */
export class SharedKey {
  readonly #bytes: Uint8Array;
  readonly #secret: KeyObject;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#secret = createSecretKey(bytes);
  }

  /** Parses a key: strings are UTF-8 encoded (as Pyro4 does); bytes are copied. */
  static from(input: string | Uint8Array): SharedKey {
    let bytes: Uint8Array;
    if (typeof input === 'string') bytes = Buffer.from(input, 'utf8');
    else if (input instanceof Uint8Array) bytes = Buffer.from(input);
    else throw new ConfigError(`a shared key must be a string or bytes, not ${typeof input}`);
    if (bytes.length === 0) throw new ConfigError('the shared key is empty');
    if (bytes.length > MAX_KEY_LENGTH) {
      throw new ConfigError(`the shared key is ${bytes.length} bytes long (max ${MAX_KEY_LENGTH})`);
    }
    return new SharedKey(bytes);
  }

  /** Length in bytes (not secret). */
  get length(): number {
    return this.#bytes.length;
  }

  /**
   * The raw key, for the Pyro4 HMAC of protocol 48 (`FramingOptions.hmacKey`). The same buffer is
   * returned every time so per-frame use costs nothing; callers must not modify it.
   */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The key as a KeyObject, for HMAC and HKDF. */
  get secret(): KeyObject {
    return this.#secret;
  }

  /** Constant-time comparison with another key. */
  equals(other: SharedKey): boolean {
    return constantTimeEqual(this.#bytes, other.#bytes);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** Parses a key from a string (UTF-8) or bytes. Empty or oversized keys are a ConfigError. */
export function parseKey(input: string | Uint8Array): SharedKey {
  return SharedKey.from(input);
}

/** The configuration items `keyFromConfig` reads (a subset of `CinderConfig`). */
export interface KeyConfig {
  hmacKey?: string | Uint8Array | SharedKey | null | undefined;
}

/**
 * The shared key from the configuration, else from `CINDER_HMAC_KEY` in `env`, else null (no
 * key). An empty string means "no key", as in Pyro4, so `CINDER_HMAC_KEY=` cannot enable a
 * zero-length key by accident.
 */
export function keyFromConfig(
  config: KeyConfig,
  env: Readonly<Record<string, string | undefined>> = {},
): SharedKey | null {
  const configured = config.hmacKey;
  if (configured instanceof SharedKey) return configured;
  if (configured !== null && configured !== undefined && configured.length > 0) return parseKey(configured);
  const fromEnv = env[HMAC_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.length > 0) return parseKey(fromEnv);
  return null;
}

/**
 * A warning for keys short enough to be guessed: anyone who records one handshake can test
 * candidate keys offline against its MACs. Null when the key is long enough.
 */
export function sharedKeyWarning(key: SharedKey): string | null {
  if (key.length >= RECOMMENDED_KEY_LENGTH) return null;
  return (
    `the shared key is only ${key.length} bytes long: a recorded handshake lets an attacker test ` +
    `guesses offline. Use at least ${RECOMMENDED_KEY_LENGTH} random bytes (e.g. \`openssl rand -base64 32\`).`
  );
}
