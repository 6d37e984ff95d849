// The client side: `locateNS()` finds a name server (Cinder, or Python Pyro4/Pyro5) and returns a
// NameServerClient — typed methods with keyword arguments, so the same calls work whatever the
// server's parameter order, and results normalised across serializers (tuples, sets, URI objects).
// The raw proxy stays available for anything else.
import {
  AbortedError,
  type CallOptions,
  type CinderConfig,
  CommunicationError,
  ConnectionClosedError,
  type Logger,
  NAMESERVER_NAME,
  NamingError,
  ProtocolError,
  resolveConfig,
  URI,
} from '@cinder/core';
import { connect, locateNameServer, nameServerUris, type ProxyOptions, type Remote } from '@cinder/proxy';

/** The remote name server's methods, with Pyro5's positional order (what a Cinder NS serves). */
export interface NameServerApi {
  register(name: string, uri: string | URI, safe?: boolean, metadata?: readonly string[] | null): null;
  lookup(name: string, return_metadata?: boolean): unknown;
  list(prefix?: string | null, regex?: string | null, return_metadata?: boolean): unknown;
  yplookup(
    meta_all?: readonly string[] | null,
    meta_any?: readonly string[] | null,
    return_metadata?: boolean,
  ): unknown;
  set_metadata(name: string, metadata: readonly string[] | null): null;
  remove(name?: string | null, prefix?: string | null, regex?: string | null): number;
  count(): number;
  ping(): null;
  register_ttl(
    name: string,
    uri: string,
    ttl_ms: number,
    safe?: boolean,
    metadata?: readonly string[] | null,
    lease?: string | null,
  ): string;
  renew(lease: string): boolean;
  revoke(lease: string): null;
  watch(name: string): AsyncIterable<string | null>;
}

/** A typed proxy of a name server. */
export type NameServerProxy = Remote<NameServerApi>;

/** One registration as a client sees it. */
export interface Registration {
  readonly name: string;
  readonly uri: string;
  /** Tags; empty when the listing was made without metadata. */
  readonly metadata: string[];
}

/** Which registrations a listing selects (at most one filter). */
export type ListFilter =
  | { prefix: string }
  | { regex: string }
  | { metadataAll: readonly string[] }
  | { metadataAny: readonly string[] };

export interface LocateNSOptions extends CallOptions {
  /**
   * Name server host, or a comma-separated list of replicas (`host:port,host:port`, a shared etcd
   * registry): the first that answers is used, and a call that fails on a lost connection is sent
   * again to the next one. Absent: the configured nsHost (which may be a list too), then broadcast
   * discovery (Pyro's order).
   */
  host?: string | null;
  /** Name server port (default `config.nsPort`); without a host, the broadcast port (like Pyro). */
  port?: number | null;
  /** The name server's Unix socket (instead of host and port). */
  unixSocket?: string | null;
  /** Try broadcast discovery (default true). */
  broadcast?: boolean;
  /**
   * How to talk to the name server (serializer, protocol, TLS, HMAC key). Without a protocol,
   * Pyro5's is tried first and Pyro4's (protocol 48, serpent) when the server speaks only that.
   */
  proxyOptions?: ProxyOptions;
  config?: Partial<CinderConfig> | CinderConfig;
  logger?: Logger;
}

// Serializers a stock Pyro4 name server accepts.
const PYRO4_SERIALIZERS = new Set(['serpent', 'json', 'marshal']);

function speaksPyro4(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (/protocol version:? 48\b/.test(e.message)) return true;
  }
  return false;
}

function tagList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value) || value instanceof Set) return [...(value as Iterable<unknown>)].map(String);
  return [];
}

function uriText(value: unknown): string {
  return value instanceof URI ? value.toString() : String(value);
}

function entriesOf(value: unknown): [string, unknown][] {
  if (value instanceof Map) return [...value].map(([k, v]) => [String(k), v]);
  if (typeof value === 'object' && value !== null) return Object.entries(value as Record<string, unknown>);
  throw new NamingError('name server returned an invalid listing');
}

/** A name server, through a proxy; works with Cinder's and Python Pyro4/Pyro5 name servers. */
export class NameServerClient implements AsyncDisposable {
  #proxy: NameServerProxy;
  readonly #failover: Failover | undefined;
  #closed = false;

  constructor(proxy: NameServerProxy, failover?: Failover) {
    this.#proxy = proxy;
    this.#failover = failover;
  }

  /** The proxy of the name server in use (another replica's after a failover). */
  get proxy(): NameServerProxy {
    return this.#proxy;
  }

  /** The name server's URI. */
  get uri(): URI {
    return this.proxy.$resolvedUri ?? this.proxy.$uri;
  }

  /** True when the server is a Pyro4 name server (no yplookup; metadata filters on list). */
  get isPyro4(): boolean {
    const meta = this.proxy.$metadata;
    return meta !== undefined && !meta.methods.includes('yplookup');
  }

  /** Registers `name` → `uri`; `safe` refuses to replace an existing registration. */
  async register(
    name: string,
    uri: string | URI,
    options: CallOptions & { safe?: boolean; metadata?: Iterable<string> | null } = {},
  ): Promise<void> {
    const kwargs: Record<string, unknown> = {};
    if (options.safe) kwargs.safe = true;
    if (options.metadata) kwargs.metadata = [...options.metadata];
    await this.#invoke('register', [name, typeof uri === 'string' ? uri : uri.toString()], {
      ...this.#call(options),
      kwargs,
    });
  }

  /** The URI registered for `name`; NamingError `unknown name: …` when there is none. */
  async lookup(name: string, options: CallOptions = {}): Promise<URI> {
    const value = await this.#invoke('lookup', [name], this.#call(options));
    return value instanceof URI ? value : URI.parse(String(value));
  }

  /** The URI and tags registered for `name`. */
  async lookupWithMetadata(
    name: string,
    options: CallOptions = {},
  ): Promise<{ uri: URI; metadata: string[] }> {
    const value = await this.#invoke('lookup', [name], {
      ...this.#call(options),
      kwargs: { return_metadata: true },
    });
    if (!Array.isArray(value) || value.length !== 2)
      throw new NamingError('name server returned an invalid lookup result');
    const [uri, metadata] = value as [unknown, unknown];
    return { uri: uri instanceof URI ? uri : URI.parse(String(uri)), metadata: tagList(metadata) };
  }

  /** Registrations, all or filtered, with their tags unless `withMetadata` is false. */
  async list(
    filter?: ListFilter,
    options: CallOptions & { withMetadata?: boolean } = {},
  ): Promise<Registration[]> {
    const withMetadata = options.withMetadata ?? true;
    const kwargs: Record<string, unknown> = { return_metadata: withMetadata };
    let method = 'list';
    if (filter && 'prefix' in filter) kwargs.prefix = filter.prefix;
    else if (filter && 'regex' in filter) kwargs.regex = filter.regex;
    else if (filter && ('metadataAll' in filter || 'metadataAny' in filter)) {
      const all = 'metadataAll' in filter;
      const tags = [...(all ? filter.metadataAll : filter.metadataAny)];
      if (this.isPyro4) kwargs[all ? 'metadata_all' : 'metadata_any'] = tags;
      else {
        method = 'yplookup';
        kwargs[all ? 'meta_all' : 'meta_any'] = tags;
      }
    }
    const value = await this.#invoke(method, [], { ...this.#call(options), kwargs });
    return entriesOf(value).map(([name, v]) => {
      if (withMetadata && Array.isArray(v) && v.length === 2) {
        return { name, uri: uriText(v[0]), metadata: tagList(v[1]) };
      }
      return { name, uri: uriText(v), metadata: [] };
    });
  }

  /** Replaces the tags of a registration (empty clears them). */
  async setMetadata(name: string, metadata: Iterable<string>, options: CallOptions = {}): Promise<void> {
    await this.#invoke('set_metadata', [name, [...metadata]], this.#call(options));
  }

  /** Removes one name, or all with a prefix, or all matching a regex; resolves with the count. */
  async remove(
    what: { name: string } | { prefix: string } | { regex: string },
    options: CallOptions = {},
  ): Promise<number> {
    const value = await this.#invoke('remove', [], { ...this.#call(options), kwargs: { ...what } });
    return Number(value);
  }

  async count(options: CallOptions = {}): Promise<number> {
    return Number(await this.#invoke('count', [], this.#call(options)));
  }

  async ping(options: CallOptions = {}): Promise<void> {
    await this.#invoke('ping', [], this.#call(options));
  }

  /**
   * Registers `name` → `uri` with a time to live (a name server on etcd storage): it disappears
   * `ttlMs` (whole seconds) after the returned lease stops being renewed. The lease renews itself
   * every third of `ttlMs` through this client (so through any replica) until stop(); if it ended
   * meanwhile (the renewals could not get through in time), the name is registered again.
   */
  async registerTtl(
    name: string,
    uri: string | URI,
    options: CallOptions & { ttlMs: number; safe?: boolean; metadata?: Iterable<string> | null },
  ): Promise<TtlRegistration> {
    const text = typeof uri === 'string' ? uri : uri.toString();
    const tags = options.metadata ? [...options.metadata] : null;
    const register = async (safe: boolean) =>
      String(
        await this.#invoke('register_ttl', [name, text, options.ttlMs], {
          ...this.#call(options),
          kwargs: { safe, metadata: tags },
        }),
      );
    let lease = await register(options.safe === true);
    let stopped = false;
    let renewing: Promise<void> | undefined;
    const renew = async () => {
      try {
        if (await this.#invoke('renew', [lease], { timeoutMs: Math.max(500, options.ttlMs / 3) })) return;
        lease = await register(false);
      } catch {
        // Every replica unreachable for now: the next tick tries again (the lease may survive).
      }
    };
    const timer = setInterval(
      () => {
        if (!stopped && !this.#closed && !renewing) {
          renewing = renew().finally(() => {
            renewing = undefined;
          });
        }
      },
      Math.max(200, Math.floor(options.ttlMs / 3)),
    );
    timer.unref();
    return {
      get lease() {
        return lease;
      },
      stop: async (revoke = true) => {
        if (stopped) return;
        stopped = true;
        clearInterval(timer);
        await renewing;
        if (revoke) await this.#invoke('revoke', [lease], {}).catch(() => {});
      },
    };
  }

  /**
   * Watches `name` (a Cinder name server on memory or etcd storage): yields its uri now (null when
   * unregistered), then its new uri each time it is registered again, through any replica, and null
   * when it is removed. Stop with `break`, the signal, or close().
   */
  async watch(name: string, options: CallOptions = {}): Promise<AsyncGenerator<URI | null>> {
    // Resolves once the name server watches: no change after this is missed.
    const stream = (await this.#invoke('watch', [name], this.#call(options))) as AsyncIterable<unknown>;
    return (async function* () {
      for await (const value of stream) {
        if (options.signal?.aborted) return;
        yield value === null || value === undefined
          ? null
          : value instanceof URI
            ? value
            : URI.parse(String(value));
      }
    })();
  }

  /** Closes the connection. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#proxy.$release();
  }

  /**
   * One call; with replicas, a call that fails because the connection is lost or refused (not a
   * name server's answer) goes to the next replica that answers, each tried at most once.
   */
  async #invoke(
    method: string,
    args: unknown[],
    options: CallOptions & { kwargs?: Record<string, unknown> },
  ) {
    const failover = this.#failover;
    let tries = failover ? failover.uris.length : 1;
    for (;;) {
      const proxy = this.#proxy;
      try {
        return await proxy.$call(method, args, options);
      } catch (err) {
        if (!failover || this.#closed || --tries <= 0 || !isConnectionFailure(err) || options.signal?.aborted)
          throw err;
        // Another call may have failed over already; otherwise move to the next replica.
        if (this.#proxy === proxy) {
          const next = await failover.next(err);
          if (this.#closed) {
            await next.$release();
            throw err;
          }
          this.#proxy = next;
          await proxy.$release().catch(() => {});
        }
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #call(options: CallOptions): CallOptions {
    return {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    };
  }
}

/**
 * Makes a `PYRONAME:` proxy follow its name: when the name is registered again elsewhere (a daemon
 * moved), the proxy lets its connection go, so its next call resolves the name again and goes to the
 * new daemon — instead of waiting for the old one to fail. The watch goes to the name server the uri
 * names, else the configured one(s). Resolves once watching; stop() ends it.
 */
export async function followName(
  proxy: Remote<object>,
  options: LocateNSOptions = {},
): Promise<{ stop(): Promise<void> }> {
  const uri = proxy.$uri;
  if (uri.protocol !== 'PYRONAME')
    throw new NamingError(`only a PYRONAME proxy can follow its name, not ${uri}`);
  const where =
    uri.sockname !== null ? { unixSocket: uri.sockname } : uri.host ? { host: uri.location! } : {};
  const ns = await locateNS({ ...options, ...where });
  const abort = new AbortController();
  let stream: AsyncGenerator<URI | null>;
  try {
    stream = await ns.watch(uri.object, { signal: abort.signal });
  } catch (err) {
    await ns.close();
    throw err;
  }
  const loop = (async () => {
    try {
      for (let r = await stream.next(); !r.done; r = await stream.next()) {
        const current = proxy.$resolvedUri?.toString();
        if (r.value !== null && r.value.toString() !== current) proxy.$rebind();
      }
    } catch {
      // The name server went away: the proxy still rebinds on its next connection failure.
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      // Closing the connection ends the stream on both sides (a pending read fails, the loop ends).
      await ns.close();
      await loop;
    },
  };
}

/** A name server registration with a lease that renews itself; see NameServerClient.registerTtl. */
export interface TtlRegistration {
  /** The current lease id (a new one after the registration had to be made again). */
  readonly lease: string;
  /** Stops renewing; revokes the lease (removing the registration now) unless `revoke` is false. */
  stop(revoke?: boolean): Promise<void>;
}

/** How a client over several replicas finds the next one. */
interface Failover {
  readonly uris: readonly URI[];
  next(cause: unknown): Promise<NameServerProxy>;
}

function isConnectionFailure(err: unknown): boolean {
  return err instanceof CommunicationError && !(err instanceof AbortedError);
}

// A replica that does not answer the connect within this is skipped.
const REPLICA_CONNECT_TIMEOUT_MS = 3000;

/**
 * Connects to the first replica of `uris` that answers, and returns a client that moves to the
 * next one (round robin) when a call finds its connection lost.
 */
async function connectReplicas(uris: readonly URI[], options: LocateNSOptions): Promise<NameServerClient> {
  let current = -1;
  const attempt = async (cause: unknown): Promise<NameServerProxy> => {
    const errors: string[] = [];
    for (let i = 1; i <= uris.length; i++) {
      const index = (current + i) % uris.length;
      const uri = uris[index]!;
      try {
        const client = await connectNameServer(uri, {
          ...options,
          timeoutMs: options.timeoutMs
            ? Math.min(options.timeoutMs, REPLICA_CONNECT_TIMEOUT_MS)
            : REPLICA_CONNECT_TIMEOUT_MS,
        });
        current = index;
        return client.proxy;
      } catch (err) {
        if (options.signal?.aborted) throw err;
        errors.push(`${uri.location}: ${(err as Error).message}`);
      }
    }
    throw new NamingError(`failed to locate the nameserver at any of ${errors.join('; ')}`, { cause });
  };
  const first = await attempt(undefined);
  return new NameServerClient(first, { uris, next: attempt });
}

/**
 * Connects to the name server at `uri` and completes the handshake; without a configured protocol,
 * a Pyro4 name server is detected and spoken to in protocol 48.
 */
export async function connectNameServer(
  uri: string | URI,
  options: LocateNSOptions = {},
): Promise<NameServerClient> {
  const config = resolveConfig(options.config);
  const base: ProxyOptions = {
    ...options.proxyOptions,
    config,
    ...(options.logger ? { logger: options.logger } : {}),
  };
  const bind = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  };
  const first = connect<NameServerApi>(uri, base);
  try {
    await first.$bind(bind);
    return new NameServerClient(first);
  } catch (err) {
    await first.$release();
    if (options.proxyOptions?.protocol !== undefined) throw err;
    if (!(err instanceof ConnectionClosedError || err instanceof ProtocolError) || !speaksPyro4(err))
      throw err;
  }
  const serializer = base.serializer ?? config.serializer;
  const retry = connect<NameServerApi>(uri, {
    ...base,
    protocol: 48,
    serializer: PYRO4_SERIALIZERS.has(serializer) ? serializer : 'serpent',
  });
  try {
    await retry.$bind(bind);
    return new NameServerClient(retry);
  } catch (err) {
    await retry.$release();
    throw err;
  }
}

/**
 * Finds a name server, like Pyro's `locate_ns()`: at the given host/port or Unix socket; else the
 * configured nsHost (first when it is loopback), then broadcast discovery. Throws NamingError
 * `failed to locate the nameserver` when none answers.
 */
export async function locateNS(options: LocateNSOptions = {}): Promise<NameServerClient> {
  const config = resolveConfig(options.config);
  if (options.unixSocket) {
    return wrapLocateError(
      connectNameServer(URI.forObject(NAMESERVER_NAME, { path: options.unixSocket }), { ...options, config }),
      `./u:${options.unixSocket}`,
    );
  }
  if (options.host) {
    const uris = nameServerUris(options.host, options.port ?? config.nsPort);
    if (uris.length > 1) return connectReplicas(uris, { ...options, config });
    return wrapLocateError(connectNameServer(uris[0]!, { ...options, config }), uris[0]!.location!);
  }
  if (config.nsHost.includes(',')) {
    return connectReplicas(nameServerUris(config.nsHost, options.port ?? config.nsPort), {
      ...options,
      config,
    });
  }
  const found = await locateNameServer({
    config,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.proxyOptions ? { proxyOptions: options.proxyOptions } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.broadcast !== undefined ? { broadcast: options.broadcast } : {}),
  });
  return connectNameServer(found, { ...options, config });
}

async function wrapLocateError(attempt: Promise<NameServerClient>, where: string): Promise<NameServerClient> {
  try {
    return await attempt;
  } catch (err) {
    throw new NamingError(`failed to locate the nameserver at ${where}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
