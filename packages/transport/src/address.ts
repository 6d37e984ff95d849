// How endpoints and socket addresses are written in logs, errors and `Connection.remoteAddress`:
// `host:port`, `[v6]:port`, a Unix socket path, or `@name` for the Linux abstract namespace.
import { ConfigError } from '@cinder/core';
import type { Endpoint } from './transport.js';

/** `host:port`, with IPv6 hosts in brackets and IPv4-mapped IPv6 addresses shown as IPv4. */
export function formatHostPort(host: string | undefined, port: number | undefined): string {
  const h = host === undefined ? '?' : unmapIPv4(host);
  const p = port === undefined ? '?' : String(port);
  return h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`;
}

/**
 * `::ffff:127.0.0.1` → `127.0.0.1`: a dual-stack listener sees IPv4 peers in mapped form, but they
 * are IPv4 peers, and allow-lists and logs should see them as such.
 */
export function unmapIPv4(host: string): string {
  return host.length > 7 && host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

/** A Unix socket path for display: abstract names (leading NUL) are written `@name`. */
export function formatUnixPath(path: string): string {
  return isAbstractPath(path) ? `@${path.slice(1)}` : path;
}

/** True for a Linux abstract-namespace socket name (leading NUL byte). */
export function isAbstractPath(path: string): boolean {
  return path.charCodeAt(0) === 0;
}

export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.kind === 'tcp'
    ? formatHostPort(endpoint.host, endpoint.port)
    : formatUnixPath(endpoint.path);
}

/** Rejects endpoints that cannot be valid before any socket is made. */
export function checkEndpoint(endpoint: Endpoint, forListen: boolean): void {
  if (endpoint.kind === 'tcp') {
    const { host, port } = endpoint;
    if (typeof host !== 'string' || host === '') throw new ConfigError('TCP endpoint needs a host');
    const min = forListen ? 0 : 1;
    if (!Number.isInteger(port) || port < min || port > 65535) {
      throw new ConfigError(`invalid TCP port ${String(port)} (must be ${min}..65535)`);
    }
  } else if (endpoint.kind === 'unix') {
    const { path } = endpoint;
    if (typeof path !== 'string' || path === '' || path === '\0') {
      throw new ConfigError('Unix endpoint needs a socket path');
    }
    // sockaddr_un has 108 bytes: a file path needs its NUL terminator, an abstract name does not.
    // libuv silently truncates longer paths, which would bind or dial a different socket.
    const max = isAbstractPath(path) ? 108 : 107;
    const length = Buffer.byteLength(path);
    if (length > max) {
      throw new ConfigError(
        `Unix socket path too long (${length} bytes, max ${max}): ${formatUnixPath(path)}`,
      );
    }
  } else {
    throw new ConfigError(`unknown endpoint kind ${String((endpoint as { kind: unknown }).kind)}`);
  }
}
