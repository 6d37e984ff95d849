// @cinder/transport/browser: what a browser build may import (no Node built-ins): the client
// WebSocket transport on the platform's WebSocket, its connection class, and the interfaces.
export {
  type BrowserWebSocketInit,
  browserWebSocketTransport,
  type WebSocketConstructor,
  type WebSocketLike,
} from './browser-websocket.js';
export { FramedConnection, type FramedConnectionInit } from './framed-connection.js';
export {
  type ChannelEvents,
  type MessageChannel,
  MessageConnection,
  type MessageConnectionInit,
} from './message-connection.js';
export * from './transport.js';
export { isWebSocketUri, parseWebSocketUri, type WebSocketTarget, webSocketUri } from './websocket-uri.js';
