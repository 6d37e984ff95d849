// The Transport interface: listen/connect, and framed connections that carry protocol Messages.
// TCP, Unix domain sockets, TLS, WebSocket and the in-process memory transport implement it and
// run one compliance suite.
import type { CallOptions, Deadline, Logger } from '@cinder/core';
import type { Message, ProtocolVersion } from '@cinder/protocol';

/** Where to listen or connect. A Unix path starting with `\0` is in the Linux abstract namespace. */
export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Framing settings of one connection. */
export interface FramingOptions {
  /** Largest annotations + payload accepted or sent, checked from the header before allocating. */
  maxMessageSize: number;
  /**
   * Largest payload a received compressed frame may inflate to; inflating stops there (default:
   * what maxMessageSize allows).
   */
  maxInflatedSize?: number | undefined;
  /**
   * Protocol versions accepted. A client names exactly one; a server may accept both and then
   * detects the version from the first frame of each connection.
   */
  versions: readonly ProtocolVersion[];
  /** Pyro4 (protocol 48) HMAC key: sign every frame sent, verify every frame received. */
  hmacKey?: Uint8Array | undefined;
  /** zlib-compress payloads larger than this many bytes (0 or absent: never compress). */
  compressAbove?: number | undefined;
  /**
   * Bytes queued for a peer beyond which its progress is watched: while more than this waits, the
   * queue must shrink every `drainTimeoutMs` or the connection is destroyed. (The RPC session
   * serves no more of the peer's calls past the same bound.) Default 8 MiB.
   */
  maxBufferedOutput?: number | undefined;
  /** A peer whose output, queued past `maxBufferedOutput`, makes no progress for this long is dropped. Default 30 s (0 = never). */
  drainTimeoutMs?: number | undefined;
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
/** How a connection closes (see Connection.close). */
export interface CloseOptions extends CallOptions {
  /**
   * `false`: once everything queued has been handed to the operating system, a TCP or Unix socket
   * is closed at once instead of half-closed while the peer's end is awaited (Pyro's release: a
   * plain socket close; the peer still reads everything sent, then the end). Output still queued,
   * TLS (its close_notify) and WebSocket connections close as with the default. Default `true`.
   */
  waitForPeer?: boolean;
}

export interface Connection {
  /** Unique per process, for logs and per-connection bookkeeping. */
  readonly id: number;
  readonly transport: 'tcp' | 'unix' | 'tls' | 'ws' | 'wss' | 'memory';
  /**
   * `host:port` (IPv6 in brackets, IPv4-mapped IPv6 shown as IPv4) or the Unix socket path
   * (`@name` for abstract names; on the server side, the listening path).
   */
  readonly remoteAddress: string;
  /**
   * A TCP or TLS connection a listener accepted: the peer's IP address (IPv4-mapped IPv6 as IPv4),
   * without `remoteAddress`'s port and brackets. Undefined otherwise, or when the peer was gone
   * before it could be read.
   */
  readonly remoteHost?: string | undefined;
  readonly localAddress: string;
  /** Protocol version of this connection: fixed for clients, detected from the first frame for servers. */
  readonly protocolVersion: ProtocolVersion | undefined;
  /** The TLS peer certificate, if any. */
  peerCertificate(): PeerCertificate | null;
  /**
   * Installs (or replaces) the handler. Reading starts with the first call: until then incoming
   * bytes wait in the socket, so nothing is lost between accept/connect and this call. If the
   * connection has already closed, `onClose` is called at once.
   */
  setHandler(handler: ConnectionHandler): void;
  /**
   * Queues a message. Messages queued in the same tick leave in one write (cork/writev); those
   * sent while a read is being delivered (replies of calls served synchronously) leave in one write
   * when the delivery ends. `alone` says the caller expects nothing else to be sent in this tick (a
   * call with no other call in flight): it is written at once, unless others already wait to go.
   * Returns false when the socket's buffer is above its high-water mark: wait for `drained()`.
   * Throws ConnectionClosedError when the connection is closed and MessageTooLargeError when the
   * message exceeds the limit. Large payloads are handed to the socket without a copy: the caller
   * must not modify `message.payload` after sending it.
   */
  send(message: Message, alone?: boolean): boolean;
  /** Bytes queued by `send()` and not yet handed to the kernel (what the high-water mark limits). */
  readonly bufferedBytes: number;
  /**
   * Resolves when the write buffer has drained (immediately if it is not full). Rejects with
   * ConnectionClosedError if the connection closes first, or on the options' timeout/abort.
   */
  drained(options?: CallOptions): Promise<void>;
  /**
   * Stops delivering messages (flow control: too many calls in progress) and stops reading the
   * socket; messages already read from the current chunk are held until `resume()`.
   */
  pause(): void;
  resume(): void;
  /**
   * Flushes what is queued, ends the stream and resolves once the socket is closed. No message is
   * delivered after close() is called. If the peer does not finish closing within `timeoutMs`
   * (default 10 s; 0 = wait forever) or `signal` aborts, the socket is destroyed and the promise
   * rejects with TimeoutError/AbortedError. With `waitForPeer: false` see CloseOptions.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes at once, dropping what is queued. `error` (if any) is what `onClose` receives. */
  destroy(error?: Error): void;
  /** True once close() or destroy() was called or the peer ended the connection. */
  readonly closed: boolean;
  /** `await using connection = …` closes it. */
  [Symbol.asyncDispose](): Promise<void>;
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

/**
 * `timeoutMs` bounds the whole connect, TLS handshake included (default 30 s; 0 = no limit), and
 * `signal` aborts it.
 */
export interface ConnectOptions extends CallOptions {
  endpoint: Endpoint;
  framing: FramingOptions;
  /**
   * TCP, Unix and TLS transports: bounds the connect instead of `timeoutMs` and `signal` (watched
   * through the deadline's own timer — no AbortSignal per connection), and watched until `onConnect`
   * has run: a caller that waits on it from there on (a handshake) keeps its timer armed, never
   * cleared and armed again in between. Other transports ignore it.
   */
  deadline?: Deadline | undefined;
  idleTimeoutMs?: number;
  logger?: Logger;
  /**
   * TCP, Unix and TLS transports: called with the connection as soon as it is made, inside the
   * socket's connect event and before `connect()` resolves, so that what it sends (a client's
   * CONNECT) is written in the same turn of the event loop instead of after the promise's
   * continuations. Other transports ignore it: the caller sends once `connect()` resolves.
   */
  onConnect?: ((connection: Connection) => void) | undefined;
}

export interface Listener {
  /** The bound endpoint (with the real port when 0 was asked for). */
  readonly endpoint: Endpoint;
  /** Open connections accepted by this listener. */
  readonly connections: ReadonlySet<Connection>;
  /** Stops accepting; existing connections stay open. */
  stopAccepting(): Promise<void>;
  /** Stops accepting and destroys every connection; resolves once all of them have closed. */
  close(): Promise<void>;
  /** `await using listener = …` closes it. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Transport {
  readonly kind: 'tcp' | 'unix' | 'tls' | 'ws' | 'wss' | 'memory';
  listen(options: ListenOptions, onConnection: (connection: Connection) => void): Promise<Listener>;
  connect(options: ConnectOptions): Promise<Connection>;
}
