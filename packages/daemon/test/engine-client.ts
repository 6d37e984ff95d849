// A client made of the engine alone (@cinder/rpc: the client half of the handshake and a Session)
// over the ordinary transports: what the daemon's own tests call a daemon with, so the daemon needs
// no client package (the proxy is a package beside this one, and its tests run against a server
// made of the engine alone the same way: packages/proxy/test/engine-server.ts). It does what the
// wire needs and nothing a proxy adds: no lazy connect, reconnect, retries, local refusal of names
// the metadata does not list, or proxies as values. A call is `client.call('method', [args])`.
import { type CallOptions, Deadline, type ObjectMetadata, silentLogger, URI } from '@cinder/core';
import { type Annotations, Flags } from '@cinder/protocol';
import { clientHandshake, type Session } from '@cinder/rpc/internal';
import { createSerializers } from '@cinder/serializers';
import {
  type Endpoint,
  type PeerCertificate,
  type TlsClientOptions,
  type Transport,
  tcpTransport,
  tlsTransport,
  unixTransport,
} from '@cinder/transport';

export interface EngineClientOptions {
  /** The transport to dial with (default: TCP or Unix by the URI; TLS when `tls` is given). */
  transport?: Transport;
  /** Dial with TLS and these client options. */
  tls?: TlsClientOptions;
  /** Serializer of the CONNECT and of every call (default cbor, the proxy's default). */
  serializer?: 'cbor' | 'json' | 'msgpack' | 'serpent' | 'marshal';
  /** Handshake data (default "hello"). */
  handshake?: unknown;
  /** Annotations sent with CONNECT and with every call. */
  annotations?: Annotations;
  /** Offer pipelining (default true). */
  multiplex?: boolean;
  /** Bound of the dial and the handshake together (default 5 s). */
  connectTimeoutMs?: number;
  /** Checks the daemon's handshake response; throw to refuse the connection. */
  validate?: (
    response: unknown,
    peer: { peerCertificate: PeerCertificate | null; address: string },
  ) => void | Promise<void>;
}

export interface EngineCallOptions extends CallOptions {
  kwargs?: Record<string, unknown> | null;
  /** Instead of the client's annotations. */
  annotations?: Annotations;
  correlationId?: Uint8Array;
  onReplyAnnotations?: (annotations: Annotations) => void;
}

export interface EngineClient extends AsyncDisposable {
  readonly session: Session;
  /** The daemon's handshake response. */
  readonly response: unknown;
  /** The object's metadata from the CONNECTOK. */
  readonly metadata: ObjectMetadata | undefined;
  /** Whether the daemon agreed to pipelining. */
  readonly multiplexed: boolean;
  /** False once the connection has closed, from either end. */
  readonly connected: boolean;
  /**
   * Calls `method` of the object connected to (or of `object`). Sent oneway when the metadata
   * lists the method as oneway, as a Pyro proxy does: then it resolves once written.
   */
  call(method: string, params?: unknown[], options?: EngineCallOptions, object?: string): Promise<unknown>;
  /** Reads a remote attribute (`__getattr__`). */
  get(name: string): Promise<unknown>;
  /** Writes a remote attribute (`__setattr__`). */
  set(name: string, value: unknown): Promise<void>;
  ping(): Promise<void>;
  /** Flushes what was sent and ends the connection. */
  close(): Promise<void>;
}

const serializers = createSerializers({ dialect: 5 });
const defaultTransports: { tcp?: Transport; unix?: Transport } = {};
const EMPTY_KWARGS: Record<string, unknown> = {};

function transportFor(endpoint: Endpoint, options: EngineClientOptions): Transport {
  if (options.transport) return options.transport;
  if (options.tls) return tlsTransport({ client: options.tls });
  if (endpoint.kind === 'unix') return (defaultTransports.unix ??= unixTransport());
  return (defaultTransports.tcp ??= tcpTransport());
}

/** Dials `uri` (a PYRO uri) and completes the handshake; rejects as the handshake does. */
export async function openClient(
  uri: URI | string,
  options: EngineClientOptions = {},
): Promise<EngineClient> {
  const target = typeof uri === 'string' ? URI.parse(uri) : uri;
  const endpoint = target.endpoint() as Endpoint;
  const serializer = serializers.byName(options.serializer ?? 'cbor')!;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const connection = await transportFor(endpoint, options).connect({
    endpoint,
    framing: { maxMessageSize: 1 << 26, versions: [502] },
    timeoutMs: connectTimeoutMs,
  });
  let handshake: Awaited<ReturnType<typeof clientHandshake>>;
  try {
    handshake = await clientHandshake(
      {
        serializers,
        serializer,
        hooks: {},
        protocol: 502,
        uriText: target.toString(),
        handshake: options.handshake,
        annotations: options.annotations,
        multiplex: options.multiplex ?? true,
        streamCredit: 64,
        heartbeatMs: 0,
        validate: options.validate,
        session: { logger: silentLogger },
      },
      connection,
      target.object,
      0,
      Deadline.after(connectTimeoutMs),
    );
  } catch (err) {
    connection.destroy();
    throw err;
  }
  const { session, response, metadata } = handshake;
  const oneway = new Set(metadata?.oneway ?? []);
  const invoke = (
    object: string,
    method: string,
    params: unknown[],
    kwargs: Record<string, unknown> | null,
    options2?: EngineCallOptions,
  ) =>
    session.invoke(
      { object, method, params, kwargs },
      {
        serializer,
        flags: object === target.object && oneway.has(method) ? Flags.ONEWAY : 0,
        annotations: options2?.annotations ?? options.annotations ?? null,
        ...(options2?.timeoutMs !== undefined ? { timeoutMs: options2.timeoutMs } : {}),
        ...(options2?.signal ? { signal: options2.signal } : {}),
        ...(options2?.correlationId ? { correlationId: options2.correlationId } : {}),
        ...(options2?.onReplyAnnotations ? { onReplyAnnotations: options2.onReplyAnnotations } : {}),
      },
    );
  const close = () => session.close();
  return {
    session,
    response,
    metadata,
    multiplexed: session.multiplexed,
    get connected() {
      return !session.isClosed;
    },
    call: (method, params = [], callOptions, object = target.object) =>
      invoke(object, method, params, callOptions?.kwargs ?? EMPTY_KWARGS, callOptions),
    get: (name) => invoke(target.object, '__getattr__', [name], null),
    set: async (name, value) => {
      await invoke(target.object, '__setattr__', [name, value], null);
    },
    ping: () => session.ping(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
