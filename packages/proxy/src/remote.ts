// Types of the client side: `Remote<T>` maps a served class to what its proxy offers (every public
// method returns a promise; attributes are read through promises; generators become streams), plus
// the proxy's own `$` controls, which can never collide with remote names.
import type { CallOptions, ObjectMetadata, URI } from '@cinder/core';
import type { Annotations } from '@cinder/protocol';
import type { RemoteStream } from '@cinder/rpc';

export type { RemoteStream };

type AnyFunction = (...args: any[]) => any;

/** What a remote method's result becomes on the client. */
export type RemoteResult<R> =
  Awaited<R> extends Iterator<infer I> | AsyncIterator<infer I>
    ? RemoteStream<I>
    : Awaited<R> extends object
      ? Awaited<R> // plain data, arrays, proxies returned by autoproxy
      : Awaited<R>;

/** One remote method: same parameters, always asynchronous. */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => Promise<RemoteResult<R>>
  : never;

/** Options of one call made through `$call` or `$with`. */
export interface RemoteCallOptions extends CallOptions {
  /** Keyword arguments (for Python peers and methods declared with `@params`). */
  kwargs?: Record<string, unknown>;
  /** Annotations sent with this call (4-character ids). */
  annotations?: Annotations;
  /** Receives the reply's annotations. */
  onReplyAnnotations?: (annotations: Annotations) => void;
  /** 16-byte correlation id for this call (default: the one of the call being served, if any). */
  correlationId?: Uint8Array;
}

/** A batch: queue calls on it, then send them as one message. */
export type RemoteBatch<T> = {
  readonly [K in keyof T as K extends string
    ? K extends `_${string}` | `$${string}`
      ? never
      : K
    : never]: T[K] extends AnyFunction ? (...args: Parameters<T[K]>) => void : never;
} & BatchControls;

/** The controls of a batch proxy (`$`-prefixed so no remote name can hide them). */
export interface BatchControls {
  /** Queues a call by name (for names that are not identifiers). */
  $queue(method: string, args?: unknown[], kwargs?: Record<string, unknown> | null): void;
  /** Number of calls queued. */
  readonly $size: number;
  /** Sends the batch; resolves with every result in order, or rejects with the first remote error. */
  $run(options?: CallOptions): Promise<unknown[]>;
  /** Sends the batch and yields results in order; throws the first remote error when it is reached. */
  $results(options?: CallOptions): AsyncGenerator<unknown, void, undefined>;
  /** Sends the batch as a oneway call: resolves once it is written. */
  $oneway(options?: CallOptions): Promise<void>;
}

/** The proxy's own controls. */
export interface ProxyControls<T> {
  /** The URI this proxy was made for. */
  readonly $uri: URI;
  /** The resolved `PYRO:` URI once connected (PYRONAME/PYROMETA are resolved on each connect). */
  readonly $resolvedUri: URI | undefined;
  /** The object's metadata, once connected. */
  readonly $metadata: ObjectMetadata | undefined;
  /** The daemon's handshake response, once connected. */
  readonly $handshakeResponse: unknown;
  /** Whether calls are pipelined on the connection (both ends Cinder). */
  readonly $multiplexed: boolean;
  /** Whether the proxy holds an open connection now. */
  readonly $connected: boolean;
  /** Connects now (resolving the URI) instead of on the first call. */
  $bind(options?: CallOptions): Promise<void>;
  /** Closes the connection; the proxy stays usable and reconnects on the next call. */
  $release(): Promise<void>;
  /** Releases, then connects again (retrying with backoff when reconnection is enabled). */
  $reconnect(options?: CallOptions): Promise<void>;
  /**
   * Lets the connection go without cutting calls in flight: the next call connects again, resolving
   * a PYRONAME uri again (its name moved); the old connection closes once its calls are answered.
   */
  $rebind(): void;
  /** Calls a method by name with call options (keyword arguments, signal, timeout, annotations). */
  $call(method: string, args?: unknown[], options?: RemoteCallOptions): Promise<unknown>;
  /** Reads a remote attribute (an exposed getter). */
  $get(attribute: string, options?: CallOptions): Promise<unknown>;
  /** Writes a remote attribute (an exposed setter). */
  $set(attribute: string, value: unknown, options?: CallOptions): Promise<void>;
  /** A view of this proxy whose calls all use these options (same connection). */
  $with(options: RemoteCallOptions): Remote<T>;
  /** A batch proxy for this object (reusable after each run). */
  $batch(): RemoteBatch<T>;
  /** Sends a protocol-level PING and waits for the answer. */
  $ping(options?: CallOptions): Promise<void>;
  /** `$release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The proxy of a remote object of type T. */
export type Remote<T> = {
  readonly [K in keyof T as K extends string
    ? K extends `_${string}` | `$${string}`
      ? never
      : K
    : never]: T[K] extends AnyFunction ? RemoteMethod<T[K]> : Promise<T[K]>;
} & ProxyControls<T>;
