// How the engine makes client proxies without depending on the client: `@cinder/proxy` installs
// its factory when it is loaded, and the serving end uses it for the proxies a peer sends (a
// proxy passed as an argument) and lends (a callback over the same connection). A process that
// never loads the client has no proxies to describe and cannot revive one.
import { type CinderConfig, DaemonError, type ObjectMetadata, type URI } from '@cinder/core';
import type { ProtocolVersion } from '@cinder/protocol';
import type { ProxyDescriptor } from './proxy-ref.js';
import type { Session } from './session.js';

/** How a proxy received as a value connects (the serving end fills it in from its own settings). */
export interface RevivedProxyOptions {
  config: CinderConfig;
  metadata: ObjectMetadata;
  protocol: ProtocolVersion;
  serializer: string;
  hmacKey?: Uint8Array;
}

/** What the client package provides to the engine. */
export interface ProxyFactory {
  /** A proxy that connects on its own to `uri` (one a peer passed us as a value). */
  connect(uri: URI, options: RevivedProxyOptions): unknown;
  /** A proxy for an object the peer lends on `session` (a callback): its calls go back over that session. */
  bound(session: Session, objectId: string, metadata: ObjectMetadata, config: CinderConfig): unknown;
  /** The descriptor of one of the factory's proxies, or undefined for anything else. */
  describe(value: object): ProxyDescriptor | undefined;
}

let installed: ProxyFactory | undefined;

/** Called once by the client package when it loads. */
export function installProxyFactory(factory: ProxyFactory): void {
  installed = factory;
}

function requireFactory(): ProxyFactory {
  if (installed === undefined) {
    throw new DaemonError(
      'a proxy arrived but no client is loaded (import @cinder/proxy to receive proxies)',
    );
  }
  return installed;
}

/** The proxies the serving end makes, through the installed client. */
export const proxies = {
  connect: (uri: URI, options: RevivedProxyOptions): unknown => requireFactory().connect(uri, options),
  bound: (session: Session, objectId: string, metadata: ObjectMetadata, config: CinderConfig): unknown =>
    requireFactory().bound(session, objectId, metadata, config),
  describe: (value: object): ProxyDescriptor | undefined => installed?.describe(value),
};
