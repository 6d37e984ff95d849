// The warning a daemon logs when it listens where other machines can reach it without any of the
// protections that would stop them from calling it or reading its traffic.
import { BlockList, isIP } from 'node:net';

export interface BindProtection {
  /** The daemon listens with TLS. */
  tls: boolean;
  /** The daemon requires a shared key. */
  key: boolean;
  /**
   * TLS requires client certificates (sslRequireClientCert). When given as false with TLS and no
   * key, the warning says that anyone can still call.
   */
  clientCertificates?: boolean;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for `localhost`, 127.0.0.0/8, ::1 (any spelling) and IPv4-mapped loopback addresses. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const family = isIP(h);
  // BlockList applies the IPv4 rule to IPv4-mapped IPv6 addresses as well.
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

function isWildcard(host: string): boolean {
  const h = host.trim().replace(/^\[(.*)\]$/, '$1');
  return h === '' || h === '*' || h === '0.0.0.0' || /^[0:]+$/.test(h);
}

/**
 * A warning text when binding `host` exposes the daemon beyond this machine without protection,
 * else null. Loopback hosts and Unix sockets (pass the socket path: it is no IP or host name) never
 * warn. A host name other than localhost counts as non-loopback: it is resolved by the OS later.
 */
export function bindWarning(host: string, protection: BindProtection): string | null {
  if (host.startsWith('/') || host.startsWith('\0') || host.startsWith('./u:')) return null;
  if (isLoopbackHost(host)) return null;
  const where = isWildcard(host)
    ? `all network interfaces (${host === '' ? "''" : host})`
    : `${host}, which is not a loopback address`;
  if (!protection.tls && !protection.key) {
    return (
      `listening on ${where} without TLS or a shared key: anyone who can reach this port can call every ` +
      'exposed method and read all traffic. Bind to 127.0.0.1, or configure ssl and/or hmacKey.'
    );
  }
  if (protection.tls && !protection.key && protection.clientCertificates === false) {
    return (
      `listening on ${where} with TLS but neither client certificates nor a shared key: traffic is ` +
      'encrypted, but anyone who can reach this port can call every exposed method. Set sslRequireClientCert or hmacKey.'
    );
  }
  return null;
}
