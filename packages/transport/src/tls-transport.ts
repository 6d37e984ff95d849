// TLS over TCP (or over a Unix socket): server and client certificates, mutual TLS, hostname
// verification on by default (IP SANs for 127.0.0.1 and ::1), TLS 1.2 as the floor. The handshake is
// part of connecting; certificate and handshake failures become SecurityError.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type * as NodeTls from 'node:tls';
import type {
  ConnectionOptions,
  PeerCertificate as NodePeerCertificate,
  SecureContext,
  SecureContextOptions,
  TlsOptions,
} from 'node:tls';
import { type CinderError, ConfigError, type Logger, SecurityError } from '@cinder/core';
import { formatHostPort } from './address.js';
import { connectError } from './socket-errors.js';
import { netServerOptions, type SocketTuning, streamTransport } from './stream-transport.js';
import type { ConnectOptions, Endpoint, Transport } from './transport.js';

let tlsModule: typeof NodeTls | undefined;

/** node:tls, loaded when a TLS transport first needs it: a process without TLS does not pay its heap. */
function tls(): typeof NodeTls {
  tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof NodeTls;
  return tlsModule;
}

type Pem = string | Buffer | Array<string | Buffer>;
type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

interface TlsCommonOptions {
  /** Certificate chain (PEM). */
  cert?: Pem;
  /** Private key (PEM), encrypted keys need `passphrase`. */
  key?: Pem;
  passphrase?: string;
  /** Trusted CA certificates (PEM). Default: Node's bundled root CAs. */
  ca?: Pem;
  /** Lowest protocol version accepted (default TLSv1.2). */
  minVersion?: TlsVersion;
  /** OpenSSL cipher list, for TLS 1.2 (Node's default otherwise). */
  ciphers?: string;
}

export interface TlsServerOptions extends TlsCommonOptions {
  cert: Pem;
  key: Pem;
  /** Ask clients for a certificate (mutual TLS). Default false. */
  requestCert?: boolean;
  /**
   * With `requestCert`: refuse clients without a valid certificate (default true). False lets
   * them in; `Connection.peerCertificate()` then says what they sent, for a handshake hook to judge.
   */
  rejectUnauthorized?: boolean;
  /** Abort handshakes that take longer than this (default 10 s). */
  handshakeTimeoutMs?: number;
  /** A handshake failed (unknown CA, missing client certificate, timeout…): for logs and metrics. */
  onHandshakeError?: (error: CinderError, remoteAddress: string) => void;
}

export interface TlsClientOptions extends TlsCommonOptions {
  /**
   * Name sent as SNI and checked against the server certificate. Default: the endpoint host when it
   * is a name; for IP addresses the address itself is checked against the certificate's IP SANs.
   */
  servername?: string;
  /** Refuse servers whose certificate does not verify (default true). */
  rejectUnauthorized?: boolean;
  /** Replaces the hostname check (e.g. for certificate pinning); return an Error to refuse. */
  checkServerIdentity?: (hostname: string, cert: NodePeerCertificate) => Error | undefined;
}

export interface TlsTransportInit extends SocketTuning {
  /** Needed to listen. */
  server?: TlsServerOptions;
  /** Client settings; without them the server is verified against Node's bundled root CAs. */
  client?: TlsClientOptions;
}

export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function contextOptions(options: TlsCommonOptions): SecureContextOptions {
  const out: SecureContextOptions = { minVersion: options.minVersion ?? 'TLSv1.2' };
  if (options.cert !== undefined) out.cert = options.cert;
  if (options.key !== undefined) out.key = options.key;
  if (options.passphrase !== undefined) out.passphrase = options.passphrase;
  if (options.ca !== undefined) out.ca = options.ca;
  if (options.ciphers !== undefined) out.ciphers = options.ciphers;
  return out;
}

function configError(what: string, err: unknown): ConfigError {
  return new ConfigError(`invalid TLS ${what} settings: ${(err as Error).message}`, { cause: err });
}

export function tlsTransport(init: TlsTransportInit): Transport {
  // One context for every client connection: parsing certificates and CAs per connect is costly.
  let clientContext: SecureContext | undefined;
  const client = init.client ?? {};

  function createSocket(endpoint: Endpoint, _options: ConnectOptions) {
    if (!clientContext) {
      try {
        clientContext = tls().createSecureContext(contextOptions(client));
      } catch (err) {
        throw configError('client', err);
      }
    }
    const options: ConnectionOptions = {
      secureContext: clientContext,
      rejectUnauthorized: client.rejectUnauthorized ?? true,
    };
    if (client.checkServerIdentity) options.checkServerIdentity = client.checkServerIdentity;
    if (endpoint.kind === 'tcp') {
      options.host = endpoint.host;
      options.port = endpoint.port;
      // SNI must be a name (RFC 6066); for an IP, Node checks the IP against the IP SANs.
      const name = client.servername ?? (isIP(endpoint.host) ? undefined : endpoint.host);
      if (name !== undefined) options.servername = name;
    } else {
      options.path = endpoint.path;
      if (client.servername !== undefined) options.servername = client.servername;
    }
    return tls().connect(options);
  }

  function createTlsServer(_listen: unknown, logger: Logger) {
    const server = init.server;
    if (!server) throw new ConfigError('tlsTransport needs `server` options (certificate and key) to listen');
    const options: TlsOptions = {
      ...netServerOptions(init),
      ...contextOptions(server),
      requestCert: server.requestCert ?? false,
      rejectUnauthorized: server.rejectUnauthorized ?? true,
      handshakeTimeout: server.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
    };
    let tlsServer: ReturnType<typeof NodeTls.createServer>;
    try {
      tlsServer = tls().createServer(options);
    } catch (err) {
      throw configError('server', err);
    }
    tlsServer.on('tlsClientError', (err, socket) => {
      const address = formatHostPort(socket.remoteAddress, socket.remotePort);
      // Node checks the client certificate only after OpenSSL's handshake and then just destroys
      // the socket, so the error says "socket hang up"; the real reason is authorizationError.
      const refused = socket.authorizationError;
      const error = refused
        ? new SecurityError(
            `TLS handshake with ${address} failed: client certificate refused (${String(refused)})`,
            {
              cause: err,
            },
          )
        : connectError(err, address);
      // Node leaves the socket open after a handshake timeout.
      socket.destroy();
      logger.debug({ err: error }, 'TLS handshake failed');
      try {
        server.onHandshakeError?.(error, address);
      } catch (hookError) {
        logger.error({ err: hookError }, 'onHandshakeError threw');
      }
    });
    return tlsServer;
  }

  return streamTransport({
    kind: 'tls',
    endpointKinds: ['tcp', 'unix'],
    tuning: init,
    acceptEvent: 'secureConnection',
    readyEvent: 'secureConnect',
    createServer: createTlsServer,
    createSocket,
    directReads: false,
  });
}
