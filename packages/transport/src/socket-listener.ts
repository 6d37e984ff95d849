// A listening socket (net.Server or tls.Server) that wraps every accepted socket in a
// SocketConnection, keeps the set of open connections, and owns the Unix socket file if any.
import { isIP, type Server, type Socket } from 'node:net';
import { ConfigError, type Link, LinkedList, type Logger } from '@cinder/core';
import { formatEndpoint, formatHostPort, formatUnixPath, isAbstractPath, unmapIPv4 } from './address.js';
import { SocketConnection } from './socket-connection.js';
import { listenError } from './socket-errors.js';
import type { Connection, Endpoint, Listener, ListenOptions } from './transport.js';
import {
  applySocketMode,
  clearStaleSocket,
  removeSocketFile,
  type SocketFileId,
  socketFileId,
} from './unix-socket-file.js';

export interface StartListenerInit {
  server: Server;
  transport: 'tcp' | 'unix' | 'tls';
  /** The server event that hands over a ready socket ('secureConnection' once TLS is up). */
  acceptEvent: 'connection' | 'secureConnection';
  options: ListenOptions;
  logger: Logger;
  onConnection: (connection: Connection) => void;
}

/** Binds `init.server` to the endpoint and resolves with the listener once it is listening. */
export async function startListener(init: StartListenerInit): Promise<Listener> {
  const { server, options } = init;
  const endpoint = options.endpoint;
  let fileId: SocketFileId | null = null;
  const isFile = endpoint.kind === 'unix' && !isAbstractPath(endpoint.path);
  if (endpoint.kind === 'unix') {
    if (options.socketMode !== undefined && !isFile) {
      throw new ConfigError('socketMode cannot be applied to an abstract-namespace socket');
    }
    if (isFile) await clearStaleSocket(endpoint.path);
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(listenError(err, formatEndpoint(endpoint)));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    const backlog = options.backlog;
    if (endpoint.kind === 'tcp') {
      // `::` accepts IPv4 too unless dual stack is switched off; other hosts are single-family anyway.
      const ipv6Only = options.dualStack === false;
      server.listen({ host: endpoint.host, port: endpoint.port, ipv6Only, ...(backlog ? { backlog } : {}) });
    } else {
      server.listen({ path: endpoint.path, ...(backlog ? { backlog } : {}) });
    }
  });
  if (isFile && endpoint.kind === 'unix') {
    try {
      if (options.socketMode !== undefined) await applySocketMode(endpoint.path, options.socketMode);
      fileId = await socketFileId(endpoint.path);
    } catch (err) {
      server.close();
      await removeSocketFile(endpoint.path, null).catch(() => {});
      throw err;
    }
  }
  let bound: Endpoint = endpoint;
  if (endpoint.kind === 'tcp') {
    setOptionsOnce(server);
    const address = server.address();
    if (address && typeof address === 'object')
      bound = { kind: 'tcp', host: endpoint.host, port: address.port };
  }
  const listener = new SocketListener(init, bound, isFile ? fileId : null);
  server.on('error', (err) => init.logger.error({ err }, 'listener error'));
  return listener;
}

/** Hosts that bind every address: an accepted socket's local address is one of many. */
const WILDCARDS = new Set(['0.0.0.0', '::']);

/** What net.Server keeps of its per-connection socket options, and its listening handle. */
interface TunedServer {
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Seconds. */
  keepAliveInitialDelay?: number;
  _handle?: {
    setNoDelay?: (on: boolean) => void;
    setKeepAlive?: (on: boolean, delaySeconds: number) => void;
  } | null;
}

/**
 * Linux: a socket accept() returns inherits TCP_NODELAY and the keepalive options (SO_KEEPALIVE,
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) from the listening socket. So they are set once there,
 * and net.Server no longer sets them on every accepted socket (5 setsockopt calls per connection).
 * Elsewhere, or when the handle cannot take them, net.Server goes on setting them per connection.
 */
function setOptionsOnce(server: Server): void {
  if (process.platform !== 'linux') return;
  const tuned = server as unknown as TunedServer;
  const handle = tuned._handle;
  if (typeof handle?.setNoDelay !== 'function' || typeof handle.setKeepAlive !== 'function') return;
  if (tuned.noDelay) {
    handle.setNoDelay(true);
    tuned.noDelay = false;
  }
  if (tuned.keepAlive) {
    handle.setKeepAlive(true, tuned.keepAliveInitialDelay ?? 0);
    tuned.keepAlive = false;
  }
}

export class SocketListener implements Listener {
  readonly endpoint: Endpoint;
  readonly #server: Server;
  readonly #init: StartListenerInit;
  /** The open connections, oldest first (a list, not a Set: see open-list.ts). */
  readonly #connections = new LinkedList<SocketConnection>();
  /**
   * TLS only: the raw TCP sockets under the TLS ones, including those still in their handshake
   * (not connections yet, but ours to close, and the server's 'close' event waits for them).
   */
  readonly #rawSockets = new LinkedList<Socket>();
  readonly #fileId: SocketFileId | null;
  readonly #unixAddress: string | null;
  /**
   * A listener bound to one IP address (not a wildcard) accepts every TCP socket on the same local
   * address: it is read from the first one (getsockname) and reused (undefined until then). null:
   * each connection finds its own when first asked.
   */
  #localAddress: string | null | undefined;
  readonly #serverClosed: Promise<void>;
  #accepting = true;
  #closing: Promise<void> | null = null;

  constructor(init: StartListenerInit, endpoint: Endpoint, fileId: SocketFileId | null) {
    this.#init = init;
    this.#server = init.server;
    this.endpoint = endpoint;
    this.#fileId = fileId;
    this.#unixAddress = endpoint.kind === 'unix' ? formatUnixPath(endpoint.path) : null;
    this.#localAddress =
      endpoint.kind === 'tcp' && isIP(endpoint.host) !== 0 && !WILDCARDS.has(unmapIPv4(endpoint.host))
        ? undefined
        : null;
    this.#serverClosed = new Promise((resolve) => this.#server.once('close', () => resolve()));
    this.#server.on(init.acceptEvent, this.#accept);
    if (init.acceptEvent === 'secureConnection') {
      this.#server.on('connection', (socket: Socket) => {
        const node = this.#rawSockets.add(socket);
        socket.once('close', () => this.#rawSockets.remove(node));
      });
    }
  }

  /** A snapshot of the open connections (made on each call). */
  get connections(): ReadonlySet<Connection> {
    return new Set<Connection>(this.#connections.values());
  }

  stopAccepting(): Promise<void> {
    if (this.#accepting) {
      this.#accepting = false;
      // Closes the listening socket now; the server's 'close' event waits for the connections.
      this.#server.close();
      if (this.endpoint.kind === 'unix' && this.#fileId) {
        return removeSocketFile(this.endpoint.path, this.#fileId).catch((err: unknown) => {
          this.#init.logger.warn({ err }, 'cannot remove socket file');
        });
      }
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stopAccepting();
      for (const socket of this.#rawSockets.values()) socket.destroy();
      const closing: Promise<void>[] = [];
      for (const connection of this.#connections.values()) {
        connection.destroy();
        closing.push(connection.whenClosed());
      }
      await Promise.all(closing);
      await this.#serverClosed;
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  readonly #accept = (socket: Socket): void => {
    const { transport, options, logger } = this.#init;
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    const unix = this.#unixAddress;
    // The peer's IP address, read once here (getpeername): a daemon keys its per-client slots by it.
    // Node keeps the answer, so `host:port` can be written after the close too: only when asked.
    const host = unix === null ? socket.remoteAddress : undefined;
    let node: Link<SocketConnection> | null = null;
    const connection = new SocketConnection({
      socket,
      transport,
      framing: options.framing,
      server: true,
      remoteAddress: unix ?? undefined,
      remoteHost: host === undefined ? undefined : unmapIPv4(host),
      localAddress: unix ?? this.#localAddressOf(socket),
      idleTimeoutMs: options.idleTimeoutMs,
      logger,
      onClosed: () => {
        if (node !== null) this.#connections.remove(node);
      },
      adoptReads: transport !== 'tls',
    });
    node = this.#connections.add(connection);
    try {
      this.#init.onConnection(connection);
    } catch (err) {
      logger.error({ err, conn: connection.id }, 'onConnection threw; closing the connection');
      connection.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  };

  #localAddressOf(socket: Socket): string | (() => string) {
    const shared = this.#localAddress;
    if (shared === null) return () => formatHostPort(socket.localAddress, socket.localPort);
    if (shared !== undefined) return shared;
    if (socket.localAddress === undefined) return () => formatHostPort(socket.localAddress, socket.localPort);
    const first = formatHostPort(socket.localAddress, socket.localPort);
    this.#localAddress = first;
    return first;
  }
}
