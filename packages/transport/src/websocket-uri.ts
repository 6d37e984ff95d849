// How a URI names an object behind a WebSocket endpoint: the endpoint's URL with the object id as
// its fragment, `ws://host:port/path#objectId` (`wss:` for TLS). Pyro's own URI forms have no room
// for a scheme, and a URL is what browsers and proxies already understand; the fragment never
// travels in the HTTP upgrade request, so the object id stays inside the Pyro protocol.
import { InvalidUriError, URI } from '@cinder/core';

export interface WebSocketTarget {
  /** The object as a PYRO uri at the endpoint's host and port (what the proxy reports and reconnects to). */
  uri: URI;
  secure: boolean;
  /** The HTTP path of the endpoint, with its query if any. */
  path: string;
}

/** True for `ws://` and `wss://` URIs. */
export function isWebSocketUri(text: string): boolean {
  return /^wss?:\/\//i.test(text);
}

/** Parses `ws[s]://host[:port]/path#objectId`; the port defaults to 80 (`ws:`) or 443 (`wss:`). */
export function parseWebSocketUri(text: string): WebSocketTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidUriError(`invalid WebSocket uri ${JSON.stringify(text)}`);
  }
  const secure = url.protocol === 'wss:';
  if (!secure && url.protocol !== 'ws:')
    throw new InvalidUriError(`not a WebSocket uri: ${JSON.stringify(text)}`);
  let object: string;
  try {
    object = decodeURIComponent(url.hash.slice(1));
  } catch {
    throw new InvalidUriError(`invalid object id in ${JSON.stringify(text)}`);
  }
  if (object === '') {
    throw new InvalidUriError(`WebSocket uri ${JSON.stringify(text)} names no object (add #objectId)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidUriError('a WebSocket uri cannot carry credentials (use a shared key)');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { uri: URI.forObject(object, { host, port }), secure, path: `${url.pathname}${url.search}` };
}

/** The WebSocket uri of `objectId` at a WebSocket endpoint. */
export function webSocketUri(
  objectId: string,
  at: { host: string; port: number; secure?: boolean; path?: string },
): string {
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  return `${at.secure ? 'wss' : 'ws'}://${host}:${at.port}${at.path ?? '/'}#${encodeURIComponent(objectId)}`;
}
