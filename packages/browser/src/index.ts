// @cinder/browser: the Cinder client in a web page. `connect<T>('ws://host:port/path#object')`
// gives the same typed proxy as in Node (calls, oneway, batches, streams, callbacks into the page,
// cancellation, timeouts), over the platform's WebSocket. No shared keys or compression here.
export {
  AbortedError,
  CinderError,
  CommunicationError,
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
  SecurityError,
  SerializeError,
  TimeoutError,
} from '@cinder/core';
export { connect, isProxy, type ProxyOptions, type Remote, webSocketUri } from '@cinder/proxy';
