// The WebSocket uri helpers live in @cinder/transport (the daemon names its WebSocket listeners
// with them too); the proxy re-exports them as part of its surface.
export { isWebSocketUri, parseWebSocketUri, type WebSocketTarget, webSocketUri } from '@cinder/transport';
