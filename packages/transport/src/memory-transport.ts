// The memory transport: listeners and connections inside one process, with no sockets. A connection
// is the same SocketConnection TCP and Unix use (framing, codec limits, write coalescing, bounded
// output, close and destroy), over a MemorySocket pair whose bounded buffers stand in for the
// kernel's, so back-pressure and close behave as on a socket. For tests of everything above the
// transport, and for in-process use; not reachable from another process.
//
// Addresses are the usual endpoints, looked up by name in a MemoryNetwork: `host:port` (port 0
// takes a free one) or a Unix-style path. Like TLS, the memory transport is chosen by the
// `transport` option of a daemon and of a proxy, not by the URI: a daemon started with
// `transport: memoryTransport()` on `localhost:0` serves `PYRO:obj@localhost:<port>`, which a proxy
// given the same transport (and network) reaches.
import type { Socket } from 'node:net';
import { abortError, CommunicationError, ConfigError, componentLogger, type Logger } from '@cinder/core';
import { checkEndpoint, formatEndpoint, formatHostPort } from './address.js';
import { DEFAULT_MEMORY_BUFFER_SIZE, MemorySocket } from './memory-socket.js';
import { checkFraming, SocketConnection } from './socket-connection.js';
import type {
  Connection,
  ConnectOptions,
  Endpoint,
  Listener,
  ListenOptions,
  Transport,
} from './transport.js';

export interface MemoryTransportInit {
  /** Where this transport's listeners and connections meet (default: one network per process). */
  network?: MemoryNetwork;
  /**
   * Unread bytes each end of a connection holds before the writer's data waits in its own queue:
   * the socket buffers of a real connection (default 64 KiB).
   */
  bufferSize?: number;
}

const FIRST_PORT = 1024;

/** Map key of an endpoint (unlike its display form, a path `@x` and the abstract name `\0x` differ). */
function keyOf(endpoint: Endpoint): string {
  return endpoint.kind === 'tcp' ? `tcp ${endpoint.host} ${endpoint.port}` : `unix ${endpoint.path}`;
}

const LAST_PORT = 65535;

/**
 * An address space of memory listeners: transports made with the same network reach each other's
 * listeners (the default network is shared by the whole process). A test that wants addresses of
 * its own makes one.
 */
export class MemoryNetwork {
  readonly #listeners = new Map<string, MemoryListener>();
  #nextPort = FIRST_PORT;
  #nextClientPort = FIRST_PORT;

  /** @internal The listener bound at `endpoint`, if any. */
  lookup(endpoint: Endpoint): MemoryListener | undefined {
    return this.#listeners.get(keyOf(endpoint));
  }

  /** @internal Binds `endpoint` (a free port for port 0) to the listener `listener(bound)` makes. */
  bind(endpoint: Endpoint, listener: (bound: Endpoint) => MemoryListener): MemoryListener {
    let bound = endpoint;
    if (endpoint.kind === 'tcp' && endpoint.port === 0) {
      bound = { kind: 'tcp', host: endpoint.host, port: this.#freePort(endpoint.host) };
    }
    const key = keyOf(bound);
    if (this.#listeners.has(key)) {
      throw new CommunicationError(`address already in use: ${formatEndpoint(bound)}`);
    }
    const made = listener(bound);
    this.#listeners.set(key, made);
    return made;
  }

  /** @internal */
  unbind(listener: MemoryListener): void {
    const key = keyOf(listener.endpoint);
    if (this.#listeners.get(key) === listener) this.#listeners.delete(key);
  }

  /** @internal A port number for the client end of a connection (shown in addresses only). */
  clientPort(): number {
    const port = this.#nextClientPort;
    this.#nextClientPort = port >= LAST_PORT ? FIRST_PORT : port + 1;
    return port;
  }

  #freePort(host: string): number {
    for (let tries = FIRST_PORT; tries <= LAST_PORT; tries++) {
      const port = this.#nextPort;
      this.#nextPort = port >= LAST_PORT ? FIRST_PORT : port + 1;
      if (!this.#listeners.has(keyOf({ kind: 'tcp', host, port }))) return port;
    }
    throw new CommunicationError(`no free memory port on ${host}`);
  }
}

const defaultNetwork = new MemoryNetwork();

export class MemoryListener implements Listener {
  readonly endpoint: Endpoint;
  readonly #network: MemoryNetwork;
  readonly #options: ListenOptions;
  readonly #logger: Logger;
  readonly #onConnection: (connection: Connection) => void;
  readonly #address: string;
  readonly #connections = new Set<SocketConnection>();
  #accepting = true;
  #closing: Promise<void> | null = null;

  constructor(
    endpoint: Endpoint,
    network: MemoryNetwork,
    options: ListenOptions,
    logger: Logger,
    onConnection: (connection: Connection) => void,
  ) {
    this.endpoint = endpoint;
    this.#network = network;
    this.#options = options;
    this.#logger = logger;
    this.#onConnection = onConnection;
    this.#address = formatEndpoint(endpoint);
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  /** The server end of a new connection from `remoteAddress`. */
  accept(socket: MemorySocket, remoteAddress: string): void {
    const connection = new SocketConnection({
      socket: socket as unknown as Socket,
      transport: 'memory',
      framing: this.#options.framing,
      server: true,
      remoteAddress,
      localAddress: this.#address,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      logger: this.#logger,
      onClosed: this.#forget,
    });
    this.#connections.add(connection);
    try {
      this.#onConnection(connection);
    } catch (err) {
      this.#logger.error({ err, conn: connection.id }, 'onConnection threw; closing the connection');
      connection.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  stopAccepting(): Promise<void> {
    if (this.#accepting) {
      this.#accepting = false;
      this.#network.unbind(this);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stopAccepting();
      const closing: Promise<void>[] = [];
      for (const connection of this.#connections) {
        connection.destroy();
        closing.push(connection.whenClosed());
      }
      await Promise.all(closing);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  readonly #forget = (connection: SocketConnection): void => {
    this.#connections.delete(connection);
  };
}

/** Immediately after the current turn of the event loop, as a loopback connect completes. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function memoryTransport(init: MemoryTransportInit = {}): Transport {
  const network = init.network ?? defaultNetwork;
  const bufferSize = init.bufferSize ?? DEFAULT_MEMORY_BUFFER_SIZE;
  if (!Number.isSafeInteger(bufferSize) || bufferSize <= 0) {
    throw new ConfigError(
      `memory transport bufferSize must be a positive integer, not ${String(bufferSize)}`,
    );
  }
  return {
    kind: 'memory',

    async listen(options: ListenOptions, onConnection: (connection: Connection) => void): Promise<Listener> {
      checkEndpoint(options.endpoint, true); // both kinds are names here
      checkFraming(options.framing, false);
      if (options.socketMode !== undefined) {
        throw new ConfigError('socketMode cannot be applied to a memory endpoint (there is no socket file)');
      }
      const logger = componentLogger(options.logger, 'transport-memory');
      return network.bind(
        options.endpoint,
        (bound) => new MemoryListener(bound, network, options, logger, onConnection),
      );
    },

    async connect(options: ConnectOptions): Promise<Connection> {
      const { endpoint, signal } = options;
      checkEndpoint(endpoint, false);
      checkFraming(options.framing, true);
      const address = formatEndpoint(endpoint);
      if (signal?.aborted) throw abortError(signal, `connecting to ${address}`);
      await nextTurn();
      if (signal?.aborted) throw abortError(signal, `connecting to ${address}`);
      const listener = network.lookup(endpoint);
      if (!listener) throw new CommunicationError(`connection refused: ${address}`);
      const [socket, serverSocket] = MemorySocket.pair(bufferSize);
      const localAddress =
        endpoint.kind === 'tcp' ? formatHostPort(endpoint.host, network.clientPort()) : address;
      const connection = new SocketConnection({
        socket: socket as unknown as Socket,
        transport: 'memory',
        framing: options.framing,
        server: false,
        remoteAddress: address,
        localAddress,
        idleTimeoutMs: options.idleTimeoutMs,
        logger: componentLogger(options.logger, 'transport-memory'),
      });
      listener.accept(serverSocket, localAddress);
      return connection;
    },
  };
}
