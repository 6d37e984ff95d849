// The Transport interface: listen/connect, and framed connections that carry protocol Messages.
// TCP, Unix domain sockets and TLS implement it and run one compliance suite on real sockets.
import type { CallOptions, Logger } from '@cinder/core';
import type { Message, ProtocolVersion } from '@cinder/protocol';

/** Where to listen or connect. A Unix path starting with `\0` is in the Linux abstract namespace. */
export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Framing settings of one connection. */
export interface FramingOptions {
  /** Largest annotations + payload accepted or sent, checked from the header before allocating. */
  maxMessageSize: number;
  /**
   * Protocol versions accepted. A client names exactly one; a server may accept both and then
   * detects the version from the first frame of each connection.
   */
  versions: readonly ProtocolVersion[];
  /** Pyro4 (protocol 48) HMAC key: sign every frame sent, verify every frame received. */
  hmacKey?: Uint8Array | undefined;
  /** zlib-compress payloads larger than this many bytes (0 or absent: never compress). */
  compressAbove?: number | undefined;
}

/** Receives what a connection reads. Called synchronously from the socket's data handler. */
export interface ConnectionHandler {
  /** One complete, validated message. */
  onMessage(message: Message): void;
  /**
   * The byte stream is not valid framing (ProtocolError / MessageTooLargeError / SecurityError).
   * Reading has stopped; the connection stays open so the handler can answer (e.g. CONNECTFAIL)
   * and must then close or destroy it.
   */
  onError(error: Error): void;
  /** The connection is closed (by either side). `error` says why, when it was not a clean close. */
  onClose(error?: Error): void;
}

/** A peer certificate as the handshake hooks see it (node:tls `PeerCertificate` subset). */
export interface PeerCertificate {
  subject: Record<string, string | string[] | undefined>;
  issuer: Record<string, string | string[] | undefined>;
  serialNumber: string;
  fingerprint256: string;
  validFrom: string;
  validTo: string;
  raw: Uint8Array;
}

/** One framed connection. */
export interface Connection {
  /** Unique per process, for logs and per-connection bookkeeping. */
  readonly id: number;
  readonly transport: 'tcp' | 'unix' | 'tls';
  /** `host:port` (IPv6 in brackets) or the Unix socket path. */
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Protocol version of this connection: fixed for clients, detected from the first frame for servers. */
  readonly protocolVersion: ProtocolVersion | undefined;
  /** The TLS peer certificate, if any. */
  peerCertificate(): PeerCertificate | null;
  setHandler(handler: ConnectionHandler): void;
  /**
   * Queues a message. Messages queued in the same tick leave in one write (cork/writev).
   * Returns false when the socket's buffer is above its high-water mark: wait for `drained()`.
   * Throws ConnectionClosedError when the connection is closed and MessageTooLargeError when the
   * message exceeds the limit.
   */
  send(message: Message): boolean;
  /** Resolves when the write buffer has drained (immediately if it is not full). */
  drained(): Promise<void>;
  /** Stops reading (flow control: too many calls in progress); `resume()` restarts. */
  pause(): void;
  resume(): void;
  /** Flushes what is queued, ends the stream and resolves once the socket is closed. */
  close(): Promise<void>;
  /** Closes at once, dropping what is queued. */
  destroy(error?: Error): void;
  readonly closed: boolean;
}

export interface ListenOptions {
  endpoint: Endpoint;
  framing: FramingOptions;
  /** Unix sockets: file mode for the socket file (e.g. 0o600). */
  socketMode?: number;
  /** TCP: also accept IPv4 on an IPv6 wildcard address (dual stack). Default true for `::`. */
  dualStack?: boolean;
  /** Close connections that read and write nothing for this long (0 = never). */
  idleTimeoutMs?: number;
  backlog?: number;
  logger?: Logger;
}

export interface ConnectOptions extends CallOptions {
  endpoint: Endpoint;
  framing: FramingOptions;
  idleTimeoutMs?: number;
  logger?: Logger;
}

export interface Listener {
  /** The bound endpoint (with the real port when 0 was asked for). */
  readonly endpoint: Endpoint;
  /** Open connections accepted by this listener. */
  readonly connections: ReadonlySet<Connection>;
  /** Stops accepting; existing connections stay open. */
  stopAccepting(): Promise<void>;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}

export interface Transport {
  readonly kind: 'tcp' | 'unix' | 'tls';
  listen(options: ListenOptions, onConnection: (connection: Connection) => void): Promise<Listener>;
  connect(options: ConnectOptions): Promise<Connection>;
}
