// @cinder/transport as the browser build sees it: the WebSocket transport on the platform's
// WebSocket; the socket transports cannot exist in a page.
import { ConfigError } from '@cinder/core';
import { browserWebSocketTransport, type Transport } from '@cinder/transport/browser';

export * from '@cinder/transport/browser';

function socketsUnavailable(kind: string): Transport {
  const refuse = () =>
    Promise.reject(new ConfigError(`no ${kind} connections in a browser: use a ws:// uri`));
  return { kind: kind as Transport['kind'], listen: refuse, connect: refuse };
}

export const tcpTransport = (): Transport => socketsUnavailable('tcp');
export const unixTransport = (): Transport => socketsUnavailable('unix');
export const tlsTransport = (): Transport => socketsUnavailable('tls');

/** What the proxy asks for on a `ws://`/`wss://` uri. */
export function webSocketTransport(init: { path?: string; client?: unknown } = {}): Transport {
  return browserWebSocketTransport({
    ...(init.path !== undefined ? { path: init.path } : {}),
    secure: init.client !== undefined,
  });
}
