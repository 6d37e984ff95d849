// Every resource limit of Cinder in one typed table — default, unit, who enforces it and what the
// peer or caller sees when it is hit — plus the connection limiter the daemon uses. The names and
// defaults are those of the configuration schema in @cinder/core.
import { isIP } from 'node:net';
import { type CinderErrorOptions, ConfigError, defaultConfig, SecurityError } from '@cinder/core';

const defaults = defaultConfig();

export type LimitName =
  | 'maxMessageSize'
  | 'maxConnections'
  | 'maxConnectionsPerClient'
  | 'maxHalfOpenConnections'
  | 'handshakeTimeoutMs'
  | 'maxBatchSize'
  | 'maxDepth'
  | 'maxDecodeItems'
  | 'maxInflatedSize'
  | 'maxConcurrentCalls'
  | 'maxBufferedOutput'
  | 'drainTimeoutMs'
  | 'idleTimeoutMs';

export interface LimitSpec {
  readonly name: LimitName;
  /** Default value, taken from the configuration schema of @cinder/core. */
  readonly default: number;
  readonly unit: 'bytes' | 'connections' | 'milliseconds' | 'calls' | 'levels' | 'values';
  /** What 0 means, when 0 is allowed. */
  readonly zero: 'no limit' | 'not allowed';
  /** The package that enforces it. */
  readonly enforcedBy: string;
  /** What happens when the limit is hit: the error and who sees it. */
  readonly onExceeded: string;
  readonly description: string;
}

/** Every limit, with its default and its effect. */
export const securityLimits = {
  maxMessageSize: {
    name: 'maxMessageSize',
    default: defaults.maxMessageSize,
    unit: 'bytes',
    zero: 'not allowed',
    enforcedBy: '@cinder/protocol (FrameReader, encodeMessage)',
    onExceeded:
      'MessageTooLargeError, raised from the frame header before anything is allocated; the receiver closes the connection',
    description: 'largest annotations + payload of one message, sent or received, and of an inflated payload',
  },
  maxConnections: {
    name: 'maxConnections',
    default: defaults.maxConnections,
    unit: 'connections',
    zero: 'not allowed',
    enforcedBy: '@cinder/daemon (ConnectionLimiter)',
    onExceeded:
      "first a slot is reclaimed: a half-open connection, else the oldest idle connection of the address holding the most (more than the newcomer's). If none can be: ConnectionLimitError (a SecurityError), logged at most once a second; the client gets it as CONNECTFAIL if it sends CONNECT within 1 s, else the connection is closed (at once while 64 refused ones wait)",
    description: 'open connections of one daemon',
  },
  maxConnectionsPerClient: {
    name: 'maxConnectionsPerClient',
    default: defaults.maxConnectionsPerClient,
    unit: 'connections',
    zero: 'not allowed',
    enforcedBy: '@cinder/daemon (ConnectionLimiter)',
    onExceeded: 'as maxConnections. Unix-socket peers count only towards maxConnections',
    description:
      'open connections of one daemon from one client IP address (IPv4-mapped IPv6 counts as IPv4)',
  },
  maxHalfOpenConnections: {
    name: 'maxHalfOpenConnections',
    default: defaults.maxHalfOpenConnections,
    unit: 'connections',
    zero: 'not allowed',
    enforcedBy: '@cinder/daemon',
    onExceeded:
      'the oldest half-open connection of the address holding the most is closed to admit the new one (its client sees ConnectionClosedError)',
    description: 'connections accepted whose handshake is not done yet (they hold a maxConnections slot too)',
  },
  handshakeTimeoutMs: {
    name: 'handshakeTimeoutMs',
    default: defaults.handshakeTimeoutMs,
    unit: 'milliseconds',
    zero: 'no limit',
    enforcedBy: '@cinder/daemon',
    onExceeded:
      'the daemon closes the connection without CONNECTOK, so the client sees ConnectionClosedError; a TLS handshake gets the same time of its own before that',
    description:
      'time from accept (after TLS) to a completed CONNECT (key exchange, validateHandshake); also the TLS handshake deadline',
  },
  maxBatchSize: {
    name: 'maxBatchSize',
    default: defaults.maxBatchSize,
    unit: 'calls',
    zero: 'not allowed',
    enforcedBy: '@cinder/daemon',
    onExceeded: 'DaemonError returned as the RESULT of the batch; no call of the batch runs',
    description: 'calls in one batch INVOKE',
  },
  maxDepth: {
    name: 'maxDepth',
    default: defaults.maxDepth,
    unit: 'levels',
    zero: 'not allowed',
    enforcedBy: '@cinder/serializers',
    onExceeded: 'SerializeError: the request is answered with it as an exception RESULT',
    description: 'nesting depth of decoded values (arrays, maps, objects)',
  },
  maxDecodeItems: {
    name: 'maxDecodeItems',
    default: defaults.maxDecodeItems,
    unit: 'values',
    zero: 'not allowed',
    enforcedBy: '@cinder/serializers',
    onExceeded:
      'SerializeError before the values are built (counts announced by cbor/msgpack/marshal headers are checked before allocating); a request is answered with it as an exception RESULT',
    description: 'values (dict keys included) one received payload may decode to, in every serializer',
  },
  maxInflatedSize: {
    name: 'maxInflatedSize',
    default: defaults.maxInflatedSize,
    unit: 'bytes',
    zero: 'not allowed',
    enforcedBy: '@cinder/protocol (FrameReader)',
    onExceeded: 'ProtocolError while inflating (zlib stops at the limit); the receiver closes the connection',
    description: 'size a compressed payload may inflate to (the smaller of this and maxMessageSize applies)',
  },
  maxConcurrentCalls: {
    name: 'maxConcurrentCalls',
    default: defaults.maxConcurrentCalls,
    unit: 'calls',
    zero: 'not allowed',
    enforcedBy: '@cinder/daemon',
    onExceeded:
      'no error: further calls wait; when 4x the limit (at least 256) wait, the daemon stops reading the connection and TCP pushes back on the client; while it awaits replies from that client (callbacks) it cannot pause, and drops the connection at 16 times that',
    description:
      'calls of one connection running at once (pipelined calls, and oneway calls on any connection)',
  },
  maxBufferedOutput: {
    name: 'maxBufferedOutput',
    default: defaults.maxBufferedOutput,
    unit: 'bytes',
    zero: 'not allowed',
    enforcedBy: '@cinder/rpc (session), @cinder/transport',
    onExceeded:
      'no error: past this much output queued for a peer none of its calls starts and reading pauses until it drains (replies to our own calls are still read); past this many payload bytes of its calls waiting to run reading pauses too. One connection holds at most this plus the replies of the calls running when it filled',
    description: 'bytes per connection, each way: output queued for the peer, and calls waiting to run',
  },
  drainTimeoutMs: {
    name: 'drainTimeoutMs',
    default: defaults.drainTimeoutMs,
    unit: 'milliseconds',
    zero: 'no limit',
    enforcedBy: '@cinder/transport',
    onExceeded:
      'the connection is destroyed with TimeoutError (its pending calls fail with ConnectionClosedError)',
    description: 'time the output queued past maxBufferedOutput may go without shrinking',
  },
  idleTimeoutMs: {
    name: 'idleTimeoutMs',
    default: defaults.idleTimeoutMs,
    unit: 'milliseconds',
    zero: 'no limit',
    enforcedBy: '@cinder/transport',
    onExceeded:
      'the connection is closed; a later call on the proxy reconnects or fails with ConnectionClosedError',
    description: 'time a connection may read and write nothing',
  },
} as const satisfies { readonly [K in LimitName]: LimitSpec & { readonly name: K } };

export type Limits = { readonly [K in LimitName]: number };

/** The effective limits: the defaults overridden by whatever `config` sets. */
export function limitsFromConfig(
  config: Partial<Readonly<Record<LimitName, number | undefined>>> = {},
): Limits {
  const limits = {} as Record<LimitName, number>;
  for (const spec of Object.values(securityLimits)) limits[spec.name] = config[spec.name] ?? spec.default;
  return Object.freeze(limits);
}

/** A connection was refused because a connection limit is reached. */
export class ConnectionLimitError extends SecurityError {
  override readonly name: string = 'ConnectionLimitError';
  readonly limit: 'maxConnections' | 'maxConnectionsPerClient';
  readonly max: number;

  constructor(
    limit: 'maxConnections' | 'maxConnectionsPerClient',
    max: number,
    message: string,
    options?: CinderErrorOptions,
  ) {
    super(message, options);
    this.limit = limit;
    this.max = max;
  }
}

const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/;

/**
 * The client identity used for per-client counting: the IP address of a `host:port`,
 * `[v6]:port` or bare address, with IPv4-mapped IPv6 addresses folded to IPv4 (a dual-stack
 * listener sees both forms for one client). Null for anything else, such as a Unix socket path.
 */
export function clientAddressKey(remoteAddress: string): string | null {
  let host: string;
  if (remoteAddress.startsWith('[')) {
    const end = remoteAddress.indexOf(']');
    if (end < 0) return null;
    host = remoteAddress.slice(1, end);
  } else {
    const m = IPV4_WITH_PORT.exec(remoteAddress);
    host = m ? m[1]! : remoteAddress;
  }
  return clientHostKey(host);
}

/**
 * The client identity of an IP address without a port (`Connection.remoteHost`): as
 * `clientAddressKey`, without reading it out of `host:port` first. Null if it is not an IP address.
 */
export function clientHostKey(host: string): string | null {
  // the key is a function of the host alone: a client connecting again (the usual case) is not parsed again
  if (host === lastKeyed.host) return lastKeyed.key;
  const key = hostKey(host);
  lastKeyed = { host, key };
  return key;
}

/** The last host `clientAddressKey` keyed, and its key. */
let lastKeyed: { readonly host: string; readonly key: string | null } = { host: '', key: null };

function hostKey(address: string): string | null {
  let host = address;
  const zone = host.indexOf('%');
  if (isIP(zone < 0 ? host : host.slice(0, zone)) === 0) return null;
  host = host.toLowerCase();
  if (host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) host = host.slice(7);
  return host;
}

/** Gives back a connection slot; calling it more than once has no further effect. */
export type ConnectionRelease = () => void;

export interface ConnectionLimiterOptions {
  /** A positive integer, or Infinity for no limit. */
  maxConnections: number;
  /** A positive integer, or Infinity for no limit. */
  maxConnectionsPerClient: number;
}

/**
 * Counts a daemon's open connections, in total and per client address. `tryAcquire` on accept;
 * call the release it returns when the connection closes. Per-address entries are dropped when
 * their count reaches zero, so the bookkeeping is bounded by the open connections.
 */
export class ConnectionLimiter {
  readonly #max: number;
  readonly #maxPerClient: number;
  readonly #perClient = new Map<string, number>();
  #active = 0;

  constructor(options: ConnectionLimiterOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1))) {
        throw new ConfigError(`${name} must be a positive integer or Infinity, not ${String(value)}`);
      }
    }
    this.#max = options.maxConnections;
    this.#maxPerClient = options.maxConnectionsPerClient;
  }

  /** Open connections counted. */
  get active(): number {
    return this.#active;
  }

  /** Open connections counted for the client of `remoteAddress`. */
  activeFor(remoteAddress: string): number {
    const key = clientAddressKey(remoteAddress);
    return key === null ? 0 : (this.#perClient.get(key) ?? 0);
  }

  /**
   * Takes a slot for a new connection from `remoteAddress`. Returns the release function, or the
   * ConnectionLimitError (returned, not thrown: refusing is the normal outcome under load).
   */
  tryAcquire(remoteAddress: string): ConnectionRelease | ConnectionLimitError {
    if (this.#active >= this.#max) {
      return new ConnectionLimitError(
        'maxConnections',
        this.#max,
        `connection from ${remoteAddress} refused: ${this.#active} connections open (maxConnections=${this.#max})`,
      );
    }
    const key = clientAddressKey(remoteAddress);
    if (key !== null) {
      const count = this.#perClient.get(key) ?? 0;
      if (count >= this.#maxPerClient) {
        return new ConnectionLimitError(
          'maxConnectionsPerClient',
          this.#maxPerClient,
          `connection from ${remoteAddress} refused: ${count} connections open from ${key} (maxConnectionsPerClient=${this.#maxPerClient})`,
        );
      }
      this.#perClient.set(key, count + 1);
    }
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      if (key !== null) {
        const left = (this.#perClient.get(key) ?? 1) - 1;
        if (left <= 0) this.#perClient.delete(key);
        else this.#perClient.set(key, left);
      }
    };
  }
}
