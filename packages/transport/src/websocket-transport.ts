// WebSocket transport (Node side, with the `ws` package): a daemon listens for WebSocket
// connections on an HTTP(S) server, a Node client connects to one; both carry Pyro frames in binary
// messages (MessageConnection). Browsers use their own WebSocket with the same connection class.
// `wss:` is TLS with the same certificate options as the TLS transport.
// `ws` is an optional peer dependency, loaded on the first listen or connect of this transport, so
// an install that never uses WebSockets (a TCP/Unix/TLS client, say) does not need it.
import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import {
  abortError,
  CommunicationError,
  ConfigError,
  componentLogger,
  type Link,
  LinkedList,
  type Logger,
  SecurityError,
  TimeoutError,
} from '@cinder/core';
import type { ClientOptions, WebSocket, WebSocketServer } from 'ws';
import { checkEndpoint, formatEndpoint, formatHostPort } from './address.js';
import { type MessageChannel, MessageConnection } from './message-connection.js';
import { checkFraming, peerCertificateOf } from './socket-connection.js';
import { listenError } from './socket-errors.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './stream-transport.js';
import type { TlsClientOptions, TlsServerOptions } from './tls-transport.js';
import type { Connection, Endpoint, Listener, ListenOptions, Transport } from './transport.js';

export interface WebSocketTransportInit {
  /** Path of the WebSocket endpoint on the HTTP server (default `/`). */
  path?: string;
  /** Serve `wss:` with these certificates (listen side). */
  server?: TlsServerOptions;
  /** Connect with `wss:`; `true` verifies against Node's bundled CAs (connect side). */
  client?: TlsClientOptions | true;
  /**
   * Decides whether a browser page from `origin` may connect (the `Origin` header; undefined for
   * non-browser clients). Default: every origin. Pages on any site can open WebSockets to any
   * address, so a daemon reachable from browsers should check it (or use a shared key).
   */
  allowOrigin?: (origin: string | undefined) => boolean;
  /** Time a client has to send its HTTP upgrade request (default 10 s). */
  upgradeTimeoutMs?: number;
}

/** node:http / node:https, loaded on the first WebSocket listen (ws loads them then anyway). */
function nodeHttp(): typeof import('node:http') {
  return createRequire(import.meta.url)('node:http') as typeof import('node:http');
}

function nodeHttps(): typeof import('node:https') {
  return createRequire(import.meta.url)('node:https') as typeof import('node:https');
}

type WsModule = typeof import('ws');
let wsModule: Promise<WsModule> | undefined;

/** The `ws` package, imported once, on first use; a ConfigError that says what to install if it is missing. */
function loadWs(): Promise<WsModule> {
  wsModule ??= import('ws').catch((err: unknown) => {
    wsModule = undefined;
    throw new ConfigError('the WebSocket transport needs the optional dependency ws (npm install ws@8)', {
      cause: err,
    });
  });
  return wsModule;
}

/** Room for the WebSocket framing over the largest Pyro frame, and several small frames per message. */
const MESSAGE_SLACK = 1024 * 1024;

/** Wires a `ws` socket to a MessageConnection. Reading waits for the connection's handler. */
function attach(ws: WebSocket, connection: MessageConnection, raw: Socket | undefined): void {
  ws.binaryType = 'nodebuffer';
  const channel: MessageChannel = {
    send: (data) =>
      ws.send(data, { binary: true }, (err) => {
        if (err) connection.destroy(err);
        else connection.events.written();
      }),
    bufferedAmount: () => ws.bufferedAmount,
    close: () => ws.close(1000),
    terminate: () => ws.terminate(),
    pauseReading: () => ws.pause(),
    resumeReading: () => ws.resume(),
    peerCertificate: () => peerCertificateOf(raw),
  };
  connection.channel = channel;
  ws.pause();
  let error: Error | undefined;
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (!isBinary) {
      connection.destroy(new CommunicationError('text message on a Cinder WebSocket connection'));
      return;
    }
    if (Array.isArray(data)) for (const d of data) connection.events.data(d);
    else connection.events.data(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  });
  ws.on('error', (err: Error) => {
    error ??= new CommunicationError(`connection to ${connection.remoteAddress}: ${err.message}`, {
      cause: err,
    });
  });
  ws.on('close', (code: number) => {
    if (!error && code !== 1000 && code !== 1005) {
      error = new CommunicationError(`connection to ${connection.remoteAddress} closed with code ${code}`);
    }
    connection.events.closed(error);
  });
}

function httpsOptions(options: TlsServerOptions) {
  return {
    cert: options.cert,
    key: options.key,
    minVersion: options.minVersion ?? 'TLSv1.2',
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
  };
}

class WebSocketListener implements Listener {
  readonly endpoint: Endpoint;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  /** Open connections and sockets: lists, not Sets (see open-list.ts). */
  readonly #connections = new LinkedList<MessageConnection>();
  readonly #rawSockets = new LinkedList<Socket>();
  readonly #serverClosed: Promise<void>;
  #accepting = true;
  #closing: Promise<void> | null = null;

  constructor(server: Server, wss: WebSocketServer, endpoint: Endpoint) {
    this.#server = server;
    this.#wss = wss;
    this.endpoint = endpoint;
    this.#serverClosed = new Promise((resolve) => server.once('close', () => resolve()));
    server.on('connection', (socket: Socket) => {
      const node = this.#rawSockets.add(socket);
      socket.once('close', () => this.#rawSockets.remove(node));
    });
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** A snapshot of the open connections (made on each call). */
  get connections(): ReadonlySet<Connection> {
    return new Set<Connection>(this.#connections.values());
  }

  /** Lists a new connection; the node is what `forget` takes when it closes. */
  add(connection: MessageConnection): Link<MessageConnection> {
    return this.#connections.add(connection);
  }

  forget(node: Link<MessageConnection>): void {
    this.#connections.remove(node);
  }

  stopAccepting(): Promise<void> {
    if (this.#accepting) {
      this.#accepting = false;
      this.#server.close();
      // Idle HTTP connections that never upgraded are not worth keeping.
      this.#server.closeIdleConnections();
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stopAccepting();
      const closing: Promise<void>[] = [];
      for (const connection of this.#connections.values()) {
        connection.destroy();
        closing.push(connection.whenClosed());
      }
      await Promise.all(closing);
      for (const socket of this.#rawSockets.values()) socket.destroy();
      this.#wss.close();
      await this.#serverClosed;
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The WebSocket transport; `kind` is `wss` when it has TLS options, else `ws`. */
export function webSocketTransport(init: WebSocketTransportInit = {}): Transport & { readonly path: string } {
  const path = init.path ?? '/';
  if (!path.startsWith('/'))
    throw new ConfigError(`WebSocket path must start with "/", got ${JSON.stringify(path)}`);
  const secure = init.server !== undefined || init.client !== undefined;
  const kind = secure ? 'wss' : 'ws';
  const checkTcp = (endpoint: Endpoint) => {
    if (endpoint?.kind !== 'tcp') {
      throw new ConfigError(`the ${kind} transport cannot use a ${String(endpoint?.kind)} endpoint`);
    }
  };
  return {
    kind,
    path,

    async listen(options: ListenOptions, onConnection): Promise<Listener> {
      checkTcp(options.endpoint);
      checkEndpoint(options.endpoint, true);
      checkFraming(options.framing, false);
      const { WebSocketServer } = await loadWs();
      const logger: Logger = componentLogger(options.logger, `transport-${kind}`);
      const upgradeTimeout = init.upgradeTimeoutMs ?? 10_000;
      const serverOptions = {
        headersTimeout: upgradeTimeout,
        requestTimeout: upgradeTimeout,
        connectionsCheckingInterval: Math.min(1000, upgradeTimeout),
        maxHeaderSize: 16 * 1024,
      };
      const server: Server = init.server
        ? nodeHttps().createServer({ ...serverOptions, ...httpsOptions(init.server) })
        : nodeHttp().createServer(serverOptions);
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: options.framing.maxMessageSize + MESSAGE_SLACK,
        perMessageDeflate: false,
        clientTracking: false,
      });
      const endpoint = options.endpoint as Extract<Endpoint, { kind: 'tcp' }>;
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(listenError(err, formatEndpoint(endpoint)));
        server.once('error', onError);
        server.listen(
          {
            host: endpoint.host,
            port: endpoint.port,
            ipv6Only: options.dualStack === false,
            ...(options.backlog ? { backlog: options.backlog } : {}),
          },
          () => {
            server.off('error', onError);
            resolve();
          },
        );
      });
      server.on('error', (err) => logger.error({ err }, 'listener error'));
      const address = server.address();
      const bound: Endpoint = {
        kind: 'tcp',
        host: endpoint.host,
        port: address && typeof address === 'object' ? address.port : endpoint.port,
      };
      const listener = new WebSocketListener(server, wss, bound);
      server.on('request', (_req, res) => {
        res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
        res.end('426 Upgrade Required: a Cinder WebSocket endpoint\n');
      });
      server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
        socket.on('error', () => {});
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const reqPath = q < 0 ? url : url.slice(0, q);
        const origin = req.headers.origin;
        let refusal: string | undefined;
        if (!listener.accepting) refusal = '503 Service Unavailable';
        else if (reqPath !== path) refusal = '404 Not Found';
        else if (init.allowOrigin && !init.allowOrigin(origin)) refusal = '403 Forbidden';
        if (refusal) {
          socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          let node: Link<MessageConnection> | null = null;
          const connection = new MessageConnection({
            transport: kind,
            framing: options.framing,
            server: true,
            remoteAddress: formatHostPort(socket.remoteAddress, socket.remotePort),
            localAddress: formatHostPort(socket.localAddress, socket.localPort),
            idleTimeoutMs: options.idleTimeoutMs,
            logger,
            onClosed: () => {
              if (node !== null) listener.forget(node);
            },
          });
          attach(ws, connection, socket);
          if (!listener.accepting) {
            connection.destroy();
            return;
          }
          node = listener.add(connection);
          try {
            onConnection(connection);
          } catch (err) {
            logger.error({ err, conn: connection.id }, 'onConnection threw; closing the connection');
            connection.destroy(err instanceof Error ? err : new Error(String(err)));
          }
        });
      });
      return listener;
    },

    async connect(options): Promise<Connection> {
      checkTcp(options.endpoint);
      checkEndpoint(options.endpoint, false);
      checkFraming(options.framing, true);
      const logger: Logger = componentLogger(options.logger, `transport-${kind}`);
      const endpoint = options.endpoint as Extract<Endpoint, { kind: 'tcp' }>;
      const address = formatHostPort(endpoint.host, endpoint.port);
      const url = `${kind}://${address}${path}`;
      const what = `connecting to ${url}`;
      const signal = options.signal;
      if (signal?.aborted) throw abortError(signal, what);
      const { WebSocket: WsClient } = await loadWs();
      if (signal?.aborted) throw abortError(signal, what);
      const tls = init.client === true ? {} : (init.client ?? {});
      const wsOptions = {
        perMessageDeflate: false,
        maxPayload: options.framing.maxMessageSize + MESSAGE_SLACK,
        ...(secure
          ? {
              ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
              ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
              ...(tls.key !== undefined ? { key: tls.key } : {}),
              ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
              ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
              ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
              ...(tls.checkServerIdentity !== undefined
                ? { checkServerIdentity: tls.checkServerIdentity }
                : {}),
              minVersion: tls.minVersion ?? 'TLSv1.2',
            }
          : {}),
      } as unknown as ClientOptions;
      const ws = new WsClient(url, wsOptions);
      let raw: Socket | undefined;
      ws.once('upgrade', (res: IncomingMessage) => {
        raw = res.socket as Socket;
      });
      const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      return new Promise<Connection>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settle = (err: Error | null) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          ws.off('open', onOpen);
          ws.off('error', onError);
          if (err) {
            ws.on('error', () => {});
            ws.terminate();
            reject(err);
            return;
          }
          const connection = new MessageConnection({
            transport: kind,
            framing: options.framing,
            server: false,
            remoteAddress: address,
            localAddress: formatHostPort(raw?.localAddress, raw?.localPort),
            idleTimeoutMs: options.idleTimeoutMs,
            logger,
          });
          attach(ws, connection, raw);
          resolve(connection);
        };
        const onOpen = () => settle(null);
        const onError = (err: Error & { code?: string }) => {
          const tlsProblem = /certificate|self.signed|SSL|TLS|ERR_TLS/i.test(
            `${err.code ?? ''} ${err.message}`,
          );
          settle(
            tlsProblem
              ? new SecurityError(`${what}: ${err.message}`, { cause: err })
              : new CommunicationError(`${what} failed: ${err.message}`, { cause: err }),
          );
        };
        const onAbort = () => settle(abortError(signal as AbortSignal, what));
        ws.once('open', onOpen);
        ws.once('error', onError);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (timeoutMs > 0) {
          timer = setTimeout(
            () => settle(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }
      });
    },
  };
}
