// The client half of the WebSocket transport on the platform's own `WebSocket` (browsers, Deno,
// Node with a WebSocket class passed in): no Node built-ins, so a browser build of the client can
// use it. Same frames and the same MessageConnection as the Node transport; a browser cannot pause
// a WebSocket, so messages that arrive while the connection is paused are kept as the bytes received,
// not decoded (bounded by what the peer may send unasked: replies, stream items within their credit,
// callbacks within the call limit).
import { abortError, CommunicationError, ConfigError, componentLogger, TimeoutError } from '@cinder/core';
import { type MessageChannel, MessageConnection } from './message-connection.js';
import type { Connection, ConnectOptions, Endpoint, Listener, Transport } from './transport.js';

/** The part of the WHATWG WebSocket API the transport uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
  removeEventListener(type: string, listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface BrowserWebSocketInit {
  /** Path of the endpoint (default `/`). */
  path?: string;
  /** `wss:` (TLS, checked by the platform) instead of `ws:`. */
  secure?: boolean;
  /** The WebSocket class (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function checkFramingOptions(options: ConnectOptions): void {
  const { versions, maxMessageSize } = options.framing;
  if (!Array.isArray(versions) || versions.length !== 1 || (versions[0] !== 502 && versions[0] !== 48)) {
    throw new ConfigError('a client connection speaks exactly one protocol version (502 or 48)');
  }
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize <= 0) {
    throw new ConfigError(`framing.maxMessageSize must be a positive integer, not ${String(maxMessageSize)}`);
  }
}

/** A connect-only WebSocket transport on the platform's WebSocket. */
export function browserWebSocketTransport(init: BrowserWebSocketInit = {}): Transport {
  const path = init.path ?? '/';
  const kind = init.secure ? 'wss' : 'ws';
  return {
    kind,
    listen(): Promise<Listener> {
      return Promise.reject(new ConfigError('a browser cannot listen for connections'));
    },
    async connect(options: ConnectOptions): Promise<Connection> {
      const endpoint: Endpoint = options.endpoint;
      if (endpoint?.kind !== 'tcp') {
        throw new ConfigError(`the ${kind} transport cannot use a ${String(endpoint?.kind)} endpoint`);
      }
      checkFramingOptions(options);
      const Ctor =
        init.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
      if (Ctor === undefined) throw new ConfigError('no WebSocket class on this platform: pass one');
      const address = hostPort(endpoint.host, endpoint.port);
      const url = `${kind}://${address}${path}`;
      const what = `connecting to ${url}`;
      const signal = options.signal;
      if (signal?.aborted) throw abortError(signal, what);
      const logger = componentLogger(options.logger, `transport-${kind}`);
      const ws = new Ctor(url);
      ws.binaryType = 'arraybuffer';
      const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      await new Promise<void>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settle = (err: Error | null) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          ws.removeEventListener('open', onOpen);
          ws.removeEventListener('error', onError);
          ws.removeEventListener('close', onError);
          if (err) {
            try {
              ws.close();
            } catch {
              // already closing
            }
            reject(err);
          } else {
            resolve();
          }
        };
        const onOpen = () => settle(null);
        // Browsers say nothing about why (on purpose): refused, TLS, 403 and 404 look alike.
        const onError = () => settle(new CommunicationError(`${what} failed`));
        const onAbort = () => settle(abortError(signal as AbortSignal, what));
        ws.addEventListener('open', onOpen);
        ws.addEventListener('error', onError);
        ws.addEventListener('close', onError);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (timeoutMs > 0) {
          timer = setTimeout(
            () => settle(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }
      });
      const connection = new MessageConnection({
        transport: kind,
        framing: options.framing,
        server: false,
        remoteAddress: address,
        localAddress: 'browser',
        idleTimeoutMs: options.idleTimeoutMs,
        logger,
      });
      const channel: MessageChannel = {
        send: (data) => ws.send(data),
        bufferedAmount: () => ws.bufferedAmount,
        close: () => ws.close(1000),
        terminate: () => ws.close(),
      };
      connection.channel = channel;
      ws.addEventListener('message', (event: { data: unknown }) => {
        const data = event.data;
        if (data instanceof ArrayBuffer) connection.events.data(new Uint8Array(data));
        else if (ArrayBuffer.isView(data)) {
          connection.events.data(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        } else connection.destroy(new CommunicationError('text message on a Cinder WebSocket connection'));
      });
      ws.addEventListener('close', (event: { code?: number; wasClean?: boolean }) => {
        const clean = event.code === 1000 || event.code === 1005;
        connection.events.closed(
          clean
            ? undefined
            : new CommunicationError(`connection to ${address} closed with code ${event.code}`),
        );
      });
      return connection;
    },
  };
}
