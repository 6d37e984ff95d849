// The pure pieces: how Node socket/TLS errors map onto Cinder's typed errors, and how addresses are
// written. The socket suites reach most branches for real; these pin down the rest.
import {
  CommunicationError,
  ConfigError,
  ConnectionClosedError,
  SecurityError,
  TimeoutError,
} from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { checkEndpoint, formatEndpoint, formatHostPort, unmapIPv4 } from '../src/address.js';
import { connectError, connectionError, isTlsFailure, listenError } from '../src/socket-errors.js';

function nodeError(code: string, message = code, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('socket error mapping', () => {
  it.each([
    ['ECONNREFUSED', CommunicationError, 'connection refused: h:1'],
    ['ENOENT', CommunicationError, 'no socket at h:1'],
    ['ENOTFOUND', CommunicationError, 'cannot resolve host of h:1'],
    ['ETIMEDOUT', TimeoutError, 'connecting to h:1 timed out'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', TimeoutError, 'TLS handshake with h:1 timed out'],
    ['ECONNRESET', ConnectionClosedError, 'connection to h:1 closed during connect'],
    ['EHOSTUNREACH', CommunicationError, 'cannot connect to h:1: EHOSTUNREACH'],
  ] as const)('connect %s → %s', (code, cls, text) => {
    const cause = nodeError(code);
    const err = connectError(cause, 'h:1');
    expect(err).toBeInstanceOf(cls);
    expect(err.message).toBe(text);
    expect(err.cause).toBe(cause);
  });

  it('TLS failures become SecurityError with the reason and the code', () => {
    const alert = nodeError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ssl3 alert', {
      reason: 'tlsv13 alert certificate required',
    });
    expect(isTlsFailure(alert)).toBe(true);
    const during = connectError(alert, 'h:1');
    expect(during).toBeInstanceOf(SecurityError);
    expect(during.message).toBe(
      'TLS handshake with h:1 failed: tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)',
    );
    const after = connectionError(alert, 'h:1');
    expect(after).toBeInstanceOf(SecurityError);
    const expired = connectError(nodeError('CERT_HAS_EXPIRED', 'certificate has expired'), 'h:1');
    expect(expired).toBeInstanceOf(SecurityError);
    expect(expired.message).toContain('certificate has expired (CERT_HAS_EXPIRED)');
    expect(isTlsFailure(nodeError('ECONNRESET'))).toBe(false);
    expect(isTlsFailure('not an error')).toBe(false);
  });

  it.each([
    ['ECONNRESET', ConnectionClosedError, /reset by peer/],
    ['EPIPE', ConnectionClosedError, /closed by peer/],
    ['ETIMEDOUT', TimeoutError, /timed out/],
    ['EIO', CommunicationError, /failed: EIO/],
  ] as const)('established connection %s → %s', (code, cls, text) => {
    const err = connectionError(nodeError(code), 'h:1');
    expect(err).toBeInstanceOf(cls);
    expect(err.message).toMatch(text);
  });

  it.each([
    ['EADDRINUSE', /address already in use: h:1/],
    ['EACCES', /permission denied listening on h:1/],
    ['EADDRNOTAVAIL', /address not available: h:1/],
    ['EINVAL', /cannot listen on h:1/],
  ])('listen %s', (code, text) => {
    const err = listenError(nodeError(code), 'h:1');
    expect(err).toBeInstanceOf(CommunicationError);
    expect(err.message).toMatch(text);
  });

  it('passes Cinder errors through unchanged', () => {
    const original = new TimeoutError('already typed');
    expect(connectError(original, 'x')).toBe(original);
    expect(connectionError(original, 'x')).toBe(original);
    expect(listenError(original, 'x')).toBe(original);
  });
});

describe('addresses', () => {
  it('formats hosts, IPv6 in brackets, mapped IPv4 as IPv4, Unix paths and abstract names', () => {
    expect(formatHostPort('127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(formatHostPort('::1', 80)).toBe('[::1]:80');
    expect(formatHostPort('::ffff:10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(formatHostPort(undefined, undefined)).toBe('?:?');
    expect(unmapIPv4('::ffff:1')).toBe('::ffff:1');
    expect(formatEndpoint({ kind: 'unix', path: '/run/x.sock' })).toBe('/run/x.sock');
    expect(formatEndpoint({ kind: 'unix', path: '\0name' })).toBe('@name');
    expect(formatEndpoint({ kind: 'tcp', host: 'fe80::1', port: 9 })).toBe('[fe80::1]:9');
  });

  it('checks endpoints before any socket is made', () => {
    expect(() => checkEndpoint({ kind: 'tcp', host: '', port: 1 }, false)).toThrow(ConfigError);
    expect(() => checkEndpoint({ kind: 'tcp', host: 'h', port: 0 }, false)).toThrow(/invalid TCP port 0/);
    expect(() => checkEndpoint({ kind: 'tcp', host: 'h', port: 0 }, true)).not.toThrow();
    expect(() => checkEndpoint({ kind: 'tcp', host: 'h', port: 65536 }, true)).toThrow(ConfigError);
    expect(() => checkEndpoint({ kind: 'tcp', host: 'h', port: 1.5 }, true)).toThrow(ConfigError);
    expect(() => checkEndpoint({ kind: 'unix', path: '' }, true)).toThrow(ConfigError);
    expect(() => checkEndpoint({ kind: 'unix', path: `/${'a'.repeat(106)}` }, true)).not.toThrow();
    expect(() => checkEndpoint({ kind: 'unix', path: `/${'a'.repeat(107)}` }, true)).toThrow(/too long/);
    expect(() => checkEndpoint({ kind: 'udp' } as never, true)).toThrow(/unknown endpoint kind/);
  });
});
