// Handshake validation: the functions a daemon runs on each CONNECT (Pyro's validateHandshake) and
// a proxy runs on each CONNECTOK (Pyro's _pyroValidateHandshake), with small combinators for the
// usual checks. A validator accepts by returning (its value becomes the handshake response) and
// rejects by throwing; the daemon turns the error's message into the CONNECTFAIL text.
import { type CallOptions, SecurityError, withDeadline } from '@cinder/core';
import { type CertificateExpectation, type CertificateInfo, requirePeerCertificate } from './certificates.js';
import { secretEqual } from './constant-time.js';

/** What a handshake validator sees. */
export interface HandshakeContext {
  /** The peer's handshake data: the CONNECT's `handshake` on a daemon, the CONNECTOK's on a proxy. */
  data: unknown;
  /** The peer's TLS certificate, or null (no TLS, or the peer sent none). */
  peerCertificate: CertificateInfo | null;
  /** `host:port`, `[v6]:port` or the Unix socket path. */
  remoteAddress: string;
  /** 502 (Pyro5 / Cinder) or 48 (Pyro4). */
  protocolVersion: number;
}

/** Returns (or resolves to) the handshake response to accept; throws (or rejects) to refuse. */
export type HandshakeValidator = (ctx: HandshakeContext) => unknown | Promise<unknown>;

/**
 * Runs validators in order, stopping at the first that rejects. The result is the last result that
 * was not undefined, so checks (which return nothing) can be combined with one validator that
 * builds the response.
 */
export function allOf(...validators: readonly HandshakeValidator[]): HandshakeValidator {
  return async (ctx) => {
    let result: unknown;
    for (const validator of validators) {
      const value = await validator(ctx);
      if (value !== undefined) result = value;
    }
    return result;
  };
}

/** Requires a peer certificate meeting `expected` (see `certificateMatches`). */
export function requireCertificate(expected: CertificateExpectation = {}): HandshakeValidator {
  return (ctx) => {
    requirePeerCertificate(ctx.peerCertificate, expected);
    return undefined;
  };
}

export interface TokenOptions {
  /**
   * Where the token sits when the handshake data is an object (default `token`). A string
   * handshake is compared as a whole.
   */
  field?: string;
}

/**
 * Requires a secret token in the handshake data: the data itself when it is a string, else its
 * `field` property. Accepted tokens are compared in constant time; the error does not say why the
 * token was refused.
 */
export function requireToken(
  tokens: string | readonly string[],
  options: TokenOptions = {},
): HandshakeValidator {
  const accepted = typeof tokens === 'string' ? [tokens] : [...tokens];
  if (accepted.length === 0 || accepted.some((t) => t.length === 0)) {
    throw new SecurityError('requireToken needs at least one non-empty token');
  }
  const field = options.field ?? 'token';
  return (ctx) => {
    const data = ctx.data;
    const given =
      typeof data === 'string'
        ? data
        : typeof data === 'object' && data !== null && !Array.isArray(data)
          ? (data as Record<string, unknown>)[field]
          : undefined;
    if (typeof given !== 'string') throw new SecurityError('invalid handshake token');
    // Compare with every token, not just until the first match, so timing says nothing about which.
    let ok = false;
    for (const token of accepted) ok = secretEqual(given, token) || ok;
    if (!ok) throw new SecurityError('invalid handshake token');
    return undefined;
  };
}

/**
 * Runs a validator within the caller's deadline (the daemon's handshakeTimeoutMs) and signal. The
 * validator cannot be stopped, but the handshake stops waiting for it.
 */
export function runHandshakeValidator(
  validator: HandshakeValidator,
  ctx: HandshakeContext,
  options?: CallOptions,
): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = Promise.resolve(validator(ctx));
  } catch (err) {
    promise = Promise.reject(err);
  }
  return withDeadline(promise, options, 'handshake validation');
}
