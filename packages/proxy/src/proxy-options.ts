// The options of `connect()` (every one optional, with defaults from the configuration) and of
// reconnecting with backoff.
import type { CinderConfig, Logger, ObjectMetadata } from '@cinder/core';
import type { Annotations, ProtocolVersion } from '@cinder/protocol';
import type { Session } from '@cinder/rpc/internal';
import type { ClassRegistry } from '@cinder/serializers';
import type { PeerCertificate, TlsClientOptions, Transport } from '@cinder/transport';

/** Reconnection with exponential backoff after a lost connection. */
export interface ReconnectOptions {
  /** First delay between attempts (doubles each time, with jitter). Default 100 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 2000 ms (Pyro waits 2 s). */
  maxDelayMs?: number;
  /** Give up after this long. Default 30000 ms. */
  maxWaitMs?: number;
}

/** Options of `connect()`: every one is optional, with defaults from the configuration. */
export interface ProxyOptions {
  /** Settings (the rest come from defaults and `CINDER_*` variables). */
  config?: Partial<CinderConfig> | CinderConfig;
  /** Serializer: cbor (default), json, msgpack, serpent or marshal. Python Pyro peers need one of the last four. */
  serializer?: string;
  /** Wire protocol: 502 (Pyro5, default) or 48 (Pyro4 peers). */
  protocol?: ProtocolVersion;
  /** Default timeout of every call (0 = none). Default `config.commTimeoutMs`. */
  timeoutMs?: number;
  /** Timeout of connecting, including TLS and the handshake. Default `config.connectTimeoutMs`. */
  connectTimeoutMs?: number;
  /** Handshake data sent with CONNECT (Pyro's `_pyroHandshake`, default `"hello"`). */
  handshake?: unknown;
  /** Checks the daemon's handshake response; throw to refuse the connection. */
  validateHandshake?: (
    response: unknown,
    peer: { peerCertificate: PeerCertificate | null; address: string },
  ) => void | Promise<void>;
  /** TLS client options (certificate, key, CA, servername); `true` uses the config's SSL items. */
  tls?: TlsClientOptions | boolean;
  /**
   * Shared key (default `config.hmacKey`, i.e. `CINDER_HMAC_KEY`). With a Cinder daemon: a
   * challenge-response handshake and a MAC on every message (protocol 502); with a Python Pyro4
   * daemon: Pyro4's HMAC annotation (protocol 48).
   */
  hmacKey?: string | Uint8Array;
  /** Reconnect with backoff when the connection drops (calls retried only when provably not delivered). */
  reconnect?: boolean | ReconnectOptions;
  /** Methods safe to retry after a connection loss even if they may have run (idempotent). */
  idempotent?: readonly string[];
  /** Retry any call this many times on connection loss or timeout (Pyro's MAX_RETRIES; beware side effects). */
  maxRetries?: number;
  /** Pipeline calls on one connection when the daemon is Cinder (default `config.multiplex`). */
  multiplex?: boolean;
  /**
   * Send a new proxy's first call right behind its CONNECT instead of waiting for CONNECTOK (one
   * round trip less; Cinder and Python Pyro daemons read in order). Default true; never done with a
   * shared key, a `validateHandshake` (the call must not reach a daemon the validator would refuse)
   * or `reconnect` (a lost attempt must not leave the call's delivery in doubt).
   */
  pipelineFirstCall?: boolean;
  /** Annotations sent with every call and with CONNECT. */
  annotations?: Annotations;
  /** Class registry for custom classes. */
  registry?: ClassRegistry;
  /**
   * A custom transport (default: TCP, Unix socket or TLS from the URI and options). A PYRONAME or
   * PYROMETA uri's name server is reached over it too, as with `tls` and `hmacKey`.
   */
  transport?: Transport;
  logger?: Logger;
  /** Metadata known in advance (e.g. from an autoproxy): skips nothing on the wire but allows calls before binding. */
  metadata?: ObjectMetadata;
  /**
   * A local daemon whose registered objects travel as proxies when passed as arguments (Pyro's way
   * of doing callbacks, needed with Python peers; Cinder peers call back over the same connection).
   */
  autoproxy?: { autoproxy(value: object, dialect: 4 | 5): unknown };
  /** `false` ignores `CINDER_*` environment variables (for untrusted environments). */
  useEnvironment?: boolean;
  /** @internal a session this proxy is bound to (callback proxies): no connecting of its own. */
  boundSession?: Session | undefined;
}
