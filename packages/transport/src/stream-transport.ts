// What TCP, Unix and TLS transports share: option checks, the connect race (ready event vs error,
// timeout and abort), socket tuning, and building connections and listeners. Each transport only
// says how to make its server and its client socket.
import { isIPv4, type Server, type Socket } from 'node:net';
import {
  abortError,
  type CallOptions,
  ConfigError,
  componentLogger,
  type Deadline,
  type Logger,
  TimeoutError,
} from '@cinder/core';
import { checkEndpoint, formatEndpoint, formatHostPort, formatUnixPath } from './address.js';
import { DirectReads } from './direct-reads.js';
import { defersKeepAlive, KeepAliveLater, keepAliveDelayMs } from './keepalive-later.js';
import { checkFraming, SocketConnection } from './socket-connection.js';
import { connectError } from './socket-errors.js';
import { startListener } from './socket-listener.js';
import type {
  Connection,
  ConnectOptions,
  Endpoint,
  FramingOptions,
  Listener,
  ListenOptions,
  Transport,
} from './transport.js';

/** Connect (TCP connect plus TLS handshake) gives up after this long unless `timeoutMs` says otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** Socket tuning shared by every stream transport. */
export interface SocketTuning {
  /** TCP_NODELAY (default true): RPC frames are small and latency-bound; Nagle only delays them. */
  noDelay?: boolean;
  /**
   * SO_KEEPALIVE (default true), as Pyro always sets it, so dead peers are eventually noticed. A
   * listener sets it once and its accepted sockets inherit it; a client's socket gets it once the
   * connection has lived a second or two (keepalive-later.ts) when the delay is 10 s or more (or
   * the OS default), as a connection closed sooner would never send a probe; shorter delays are
   * set at connect.
   */
  keepAlive?: boolean;
  /** Idle time before the first keepalive probe (default 60 s; 0 = the OS default). */
  keepAliveInitialDelayMs?: number;
}

export interface StreamTransportSpec {
  kind: 'tcp' | 'unix' | 'tls';
  endpointKinds: ReadonlyArray<Endpoint['kind']>;
  tuning: SocketTuning;
  createServer(options: ListenOptions, logger: Logger): Server;
  /** 'secureConnection' for TLS: connections exist only once the handshake is done. */
  acceptEvent: 'connection' | 'secureConnection';
  /**
   * `reads` is for sockets that support Node's `onread` option (net, not tls): pass it as
   * `onreadOption(reads)` and set `directReads`.
   */
  createSocket(endpoint: Endpoint, options: ConnectOptions, reads: DirectReads): Socket;
  /** createSocket's sockets read through `reads`. */
  directReads: boolean;
  /** 'secureConnect' for TLS: the handshake is part of connecting. */
  readyEvent: 'connect' | 'secureConnect';
}

export function netServerOptions(tuning: SocketTuning) {
  return {
    allowHalfOpen: false,
    noDelay: tuning.noDelay ?? true,
    keepAlive: tuning.keepAlive ?? true,
    keepAliveInitialDelay: tuning.keepAliveInitialDelayMs ?? 60_000,
  };
}

export function streamTransport(spec: StreamTransportSpec): Transport {
  const component = `transport-${spec.kind}`;
  // one child logger per logger given, not one per connection (a pino child is not free)
  const children = new WeakMap<Logger, Logger>();
  const loggerFor = (logger: Logger | undefined): Logger => {
    if (logger === undefined) return componentLogger(undefined, component);
    let child = children.get(logger);
    if (child === undefined) {
      child = componentLogger(logger, component);
      children.set(logger, child);
    }
    return child;
  };
  // client sockets waiting for keepalive (TCP, and TLS over TCP; Unix sockets have none)
  const keepAliveLater =
    spec.kind !== 'unix' && defersKeepAlive(spec.tuning)
      ? new KeepAliveLater(keepAliveDelayMs(spec.tuning))
      : null;
  const checkKind = (endpoint: Endpoint) => {
    if (!spec.endpointKinds.includes(endpoint?.kind)) {
      throw new ConfigError(`the ${spec.kind} transport cannot use a ${String(endpoint?.kind)} endpoint`);
    }
  };
  /** The last endpoint dialed (checked, its texts made), when it was a frozen one. */
  let lastDial: DialTarget | undefined;
  return {
    kind: spec.kind,

    async listen(options, onConnection): Promise<Listener> {
      checkKind(options.endpoint);
      checkEndpoint(options.endpoint, true);
      checkFraming(options.framing, false);
      const logger = componentLogger(options.logger, `transport-${spec.kind}`);
      return startListener({
        server: spec.createServer(options, logger),
        transport: spec.kind,
        acceptEvent: spec.acceptEvent,
        options,
        logger,
        onConnection,
      });
    },

    connect(options): Promise<Connection> {
      const { endpoint, framing } = options;
      let dial = lastDial;
      try {
        if (dial === undefined || dial.endpoint !== endpoint) {
          checkKind(endpoint);
          checkEndpoint(endpoint, false);
          dial = dialTarget(endpoint);
          // a frozen endpoint (a uri's) cannot change: the next dial to it is checked already
          if (Object.isFrozen(endpoint)) lastDial = dial;
        }
        // a proxy dials with the same framing object every time: checked once
        if (framing !== lastCheckedFraming) {
          checkFraming(framing, true);
          lastCheckedFraming = framing;
        }
      } catch (err) {
        return Promise.reject(err); // (not an async function: one promise less per connection)
      }
      const logger = loggerFor(options.logger);
      const { address, unix, dialed } = dial;
      const reads = new DirectReads();
      return openSocket(
        () => {
          const s = spec.createSocket(endpoint, options, reads);
          // net sockets take their tuning as connect options (tcp-transport.ts); tls.connect
          // passes no such options on to its socket
          if (spec.kind === 'tls' && endpoint.kind === 'tcp') tune(s, spec.tuning);
          return s;
        },
        spec.readyEvent,
        address,
        options,
        (socket) =>
          new SocketConnection({
            socket,
            transport: spec.kind,
            framing: options.framing,
            server: false,
            remoteAddress:
              unix ??
              dialed ??
              formatHostPort(
                socket.remoteAddress,
                socket.remotePort ?? (endpoint.kind === 'tcp' ? endpoint.port : undefined),
              ),
            // rarely needed on a client: read (getsockname) when first asked
            localAddress: unix ?? (() => formatHostPort(socket.localAddress, socket.localPort)),
            idleTimeoutMs: options.idleTimeoutMs,
            logger,
            directReads: spec.directReads ? reads : null,
            keepAliveLater: endpoint.kind === 'tcp' ? keepAliveLater : null,
          }),
        options.onConnect,
      );
    },
  };
}

/** A checked endpoint to dial, and its texts. */
interface DialTarget {
  readonly endpoint: Endpoint;
  /** For messages. */
  readonly address: string;
  /** A Unix socket's path as the connection shows it, else null. */
  readonly unix: string | null;
  /** Dialed by IPv4 address: the peer's address is known without asking the socket (getpeername). */
  readonly dialed: string | null;
}

function dialTarget(endpoint: Endpoint): DialTarget {
  const address = formatEndpoint(endpoint);
  return {
    endpoint,
    address,
    unix: endpoint.kind === 'unix' ? formatUnixPath(endpoint.path) : null,
    dialed: endpoint.kind === 'tcp' && isIPv4(endpoint.host) ? address : null,
  };
}

function tune(socket: Socket, tuning: SocketTuning): void {
  // Both calls are remembered by net.Socket and applied once the handle exists.
  socket.setNoDelay(tuning.noDelay ?? true);
  if ((tuning.keepAlive ?? true) && !defersKeepAlive(tuning))
    socket.setKeepAlive(true, keepAliveDelayMs(tuning));
}

/**
 * A client socket's tuning as `net.connect` options: net applies them once, when the connection is
 * made (setting them on the socket before that applies them twice: 10 setsockopt calls, not 5).
 */
export function netClientTuning(tuning: SocketTuning) {
  // deferred keepalive is set by the connection (keepalive-later.ts), not at connect
  const keepAlive = (tuning.keepAlive ?? true) && !defersKeepAlive(tuning);
  return {
    noDelay: tuning.noDelay ?? true,
    keepAlive,
    ...(keepAlive ? { keepAliveInitialDelay: keepAliveDelayMs(tuning) } : {}),
  };
}

const ignore = (): void => {};
/**
 * The client framing options checked last (a proxy's own object, the same for all its connections).
 * One reference, not a WeakSet: a weak entry per new proxy would cost the GC more than the check.
 */
let lastCheckedFraming: FramingOptions | undefined;
const noop = (): void => {};

/**
 * Creates a socket and waits for `readyEvent`, an error, the timeout or the abort signal, whichever
 * comes first. A socket that lost the race is destroyed and can no longer raise unhandled errors.
 * The winner is wrapped by `wrap` inside the ready event itself: an error or close queued right
 * behind it (a TLS alert in the same read as the handshake's end) must find its listeners there.
 */
export function openSocket<T>(
  create: () => Socket,
  readyEvent: 'connect' | 'secureConnect',
  address: string,
  options: CallOptions & { deadline?: Deadline | undefined },
  wrap: (socket: Socket) => T,
  ready?: ((value: T) => void) | undefined,
): Promise<T> {
  const what = `connecting to ${address}`;
  const deadline = options.deadline;
  const signal = deadline === undefined ? options.signal : undefined;
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  const timeoutMs = deadline === undefined ? (options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) : 0;
  return new Promise<T>((resolve, reject) => {
    let socket: Socket | undefined; // made once the deadline is watched (below)
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let unwatch = noop;
    const settle = (err: Error | null) => {
      settled = true;
      const s = socket;
      if (s === undefined) {
        reject(err as Error); // the deadline had passed before the dial: no socket was made
        return;
      }
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      s.off(readyEvent, onReady);
      s.off('error', onError);
      if (err) {
        unwatch();
        s.on('error', ignore);
        s.destroy();
        reject(err);
        return;
      }
      try {
        const value = wrap(s);
        ready?.(value); // still inside the connect event (see ConnectOptions.onConnect)
        resolve(value);
      } catch (wrapError) {
        s.on('error', ignore);
        s.destroy();
        reject(wrapError);
      } finally {
        // after `ready`: what it started waiting on the deadline (a handshake) keeps its timer armed
        unwatch();
      }
    };
    const onReady = () => settle(null);
    const onError = (err: Error) => settle(connectError(err, address));
    const onAbort = () => settle(abortError(signal as AbortSignal, what));
    // watched before the socket is made: one that has passed already rejects here, with no socket
    // (its first wait reads the clock, so a check of its own would read it twice per connect)
    if (deadline !== undefined) {
      unwatch = deadline.onExpire((aborted) => settle(deadline.error(what, aborted)));
      if (settled) return;
    }
    try {
      socket = create();
    } catch (err) {
      unwatch();
      reject(connectError(err, address));
      return;
    }
    // (on, not once: settle takes both off before anything else, and once wraps each in a closure)
    socket.on(readyEvent, onReady);
    socket.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(
        () => settle(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
  });
}
