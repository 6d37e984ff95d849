// @cinder/security as the browser build sees it. A page has no TLS options to load (wss: is the
// platform's), and no shared keys: the key exchange and per-message MACs are synchronous HMACs,
// which WebCrypto only offers asynchronously. Asking for either is a ConfigError that says so;
// the node:crypto-based modules stay out of the bundle.
import { ConfigError } from '@cinder/core';

export { NOT_SYMMETRIC_MESSAGE } from '../../security/src/key-exchange.js';

function refuse(what: string): never {
  throw new ConfigError(
    `${what} is not available in the browser build (synchronous HMAC; WebCrypto's is asynchronous)`,
  );
}

/** Stands for @cinder/security's SharedKey: `SharedKey.from(key)` refuses. */
export class SharedKey {
  readonly bytes = new Uint8Array(0);
  static from(_key: string | Uint8Array): SharedKey {
    return refuse('a shared key (hmacKey)');
  }
}

/** Never made: SharedKey.from refuses first. */
export class SharedKeyClient {
  constructor() {
    refuse('the shared-key handshake');
  }
}

export function loadTlsOptions(): never {
  throw new ConfigError('TLS options are not available in the browser build: use a wss:// uri');
}

// The serving side of the handshake is in the engine the page's bundle is made from, but a page
// never listens: these only satisfy its imports.
export class SharedKeyServer {
  constructor() {
    refuse('the shared-key handshake');
  }
}
export const isKeyExchangeHello = (): boolean => false;
