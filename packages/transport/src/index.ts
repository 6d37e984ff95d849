// Public surface of @cinder/transport.
export { formatEndpoint } from './address.js';
export {
  type BrowserWebSocketInit,
  browserWebSocketTransport,
  type WebSocketConstructor,
  type WebSocketLike,
} from './browser-websocket.js';
export { FramedConnection, type FramedConnectionInit } from './framed-connection.js';
export {
  MemoryNetwork,
  type MemoryTransportInit,
  memoryTransport,
} from './memory-transport.js';
export {
  type ChannelEvents,
  type MessageChannel,
  MessageConnection,
  type MessageConnectionInit,
} from './message-connection.js';
export { DEFAULT_CLOSE_TIMEOUT_MS } from './socket-connection.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, type SocketTuning } from './stream-transport.js';
export { type TcpTransportInit, tcpTransport } from './tcp-transport.js';
export {
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  type TlsClientOptions,
  type TlsServerOptions,
  type TlsTransportInit,
  tlsTransport,
} from './tls-transport.js';
export * from './transport.js';
export { type UnixTransportInit, unixTransport } from './unix-transport.js';
export { type WebSocketTransportInit, webSocketTransport } from './websocket-transport.js';
export { isWebSocketUri, parseWebSocketUri, type WebSocketTarget, webSocketUri } from './websocket-uri.js';
