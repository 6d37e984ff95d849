// Name resolution for PYRONAME and PYROMETA URIs, and locating a name server: a direct connection
// to the given (or configured) host and port, UDP broadcast discovery (`GET_NSURI`, Pyro's format),
// in Pyro's order. A proxy resolves its uri on every (re)connect, so an object that moved is found
// again. Name servers are Cinder or Python Pyro: when no protocol is configured, a name server that
// answers in Pyro4's protocol (48) is detected and talked to in it. The name server is reached with
// a proxy made by the `connect` passed in (resolving is part of connecting, so this file cannot
// import it); the public `resolveUri` and `locateNameServer` pass `connect()` (connect.ts).
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  type CinderConfig,
  CommunicationError,
  ConnectionClosedError,
  type Logger,
  NAMESERVER_NAME,
  NamingError,
  ProtocolError,
  sleep,
  URI,
} from '@cinder/core';
import type { ProxyOptions } from './proxy-options.js';
import type { Remote } from './remote.js';

/** How `PYRONAME:`/`PYROMETA:` URIs are resolved through a name server. */
export interface ResolveOptions {
  /** The configuration (name server address, broadcast settings, timeouts). */
  config: CinderConfig;
  /** Where to log (default: silent). */
  logger?: Logger;
  /** Aborts the lookup. */
  signal?: AbortSignal;
  /**
   * Proxy options for talking to the name server (serializer, protocol, TLS…). Without a
   * `protocol`, Pyro5's (502) is tried first and Pyro4's (48, serpent) when the server speaks that.
   */
  proxyOptions?: ProxyOptions;
}

/** Where and how to look for a name server. */
export interface LocateOptions extends ResolveOptions {
  /** Name server host (or `./u:path` for a Unix socket); absent: the configured nsHost, then broadcast. */
  host?: string | null;
  /** Name server port (default `config.nsPort`); with no host given, Pyro uses it as the broadcast port. */
  port?: number | null;
  /** Try broadcast discovery when no direct connection works (default true). */
  broadcast?: boolean;
  /** How long one broadcast attempt waits for a reply (Pyro: 700 ms, 3 attempts). */
  broadcastTimeoutMs?: number;
}

interface NameServerLike {
  lookup(name: string): Promise<unknown>;
}

type NameServerProxy = Remote<NameServerLike>;

/** How a name server is reached: `connect()`, passed in by its callers. */
export type ConnectProxy = <T>(uri: URI, options: ProxyOptions) => Remote<T>;

const LOCATE_CONNECT_TIMEOUT_MS = 3000;
// Serializers a stock Pyro4 name server accepts (its SERIALIZERS_ACCEPTED default).
const PYRO4_DEFAULT_SERIALIZERS = new Set(['serpent', 'json', 'marshal']);

function toUri(value: unknown, what: string): URI {
  if (value instanceof URI) return value;
  if (typeof value === 'string') return URI.parse(value);
  throw new NamingError(`name server returned an invalid uri for ${what}`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

/** True when the failure says the server speaks Pyro4's protocol 48. */
function speaksPyro4(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (/protocol version:? 48\b/.test(e.message)) return true;
  }
  return false;
}

/** The name server URI at a host/port or `./u:` socket. */
function nameServerUri(host: string, port: number): URI {
  if (host.startsWith('./u:')) return URI.forObject(NAMESERVER_NAME, { path: host.slice(4) });
  return URI.forObject(NAMESERVER_NAME, { host: host.replace(/^\[(.*)\]$/, '$1'), port });
}

/**
 * The name server URIs a host setting names: one host, or a comma-separated list of replicas, each
 * `host`, `host:port`, `[v6]:port` or `./u:path` (`port` when an entry has none). A bare IPv6
 * address takes no port (write `[::1]:9090`).
 */
export function nameServerUris(hosts: string, port: number): URI[] {
  const out: URI[] = [];
  for (const raw of hosts.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry.startsWith('./u:')) {
      out.push(nameServerUri(entry, port));
      continue;
    }
    const m = /^(\[[^\]]+\]|[^:]+):([0-9]{1,5})$/.exec(entry);
    if (m && Number(m[2]) <= 65535) out.push(nameServerUri(m[1]!, Number(m[2])));
    else out.push(nameServerUri(entry, port));
  }
  if (out.length === 0) throw new NamingError(`no name server address in ${JSON.stringify(hosts)}`);
  return out;
}

/** The uri as the place it names, for messages: `host:port` or `./u:path`. */
function where(uri: URI): string {
  return uri.location ?? uri.toString();
}

/**
 * Connects to the name server at `uri` and completes the handshake. Without a configured protocol
 * a server that closes the Pyro5 handshake because it speaks protocol 48 is tried again with
 * Pyro4's protocol (serpent unless a serializer Pyro4 accepts by default was chosen).
 */
async function bindNameServer(
  connect: ConnectProxy,
  uri: URI,
  options: ResolveOptions,
  connectTimeoutMs?: number,
): Promise<NameServerProxy> {
  const base: ProxyOptions = {
    ...options.proxyOptions,
    config: options.config,
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
  };
  const bindOptions = options.signal ? { signal: options.signal } : {};
  const first = connect<NameServerLike>(uri, base);
  try {
    await first.$bind(bindOptions);
    return first;
  } catch (err) {
    await first.$release();
    if (options.proxyOptions?.protocol !== undefined) throw err;
    if (!(err instanceof ConnectionClosedError || err instanceof ProtocolError) || !speaksPyro4(err))
      throw err;
    const serializer = base.serializer ?? options.config.serializer;
    const retry = connect<NameServerLike>(uri, {
      ...base,
      protocol: 48,
      serializer: PYRO4_DEFAULT_SERIALIZERS.has(serializer) ? serializer : 'serpent',
    });
    try {
      await retry.$bind(bindOptions);
      options.logger?.debug({ uri: uri.toString() }, 'name server speaks Pyro4 (protocol 48)');
      return retry;
    } catch (again) {
      await retry.$release();
      throw again;
    }
  }
}

/** Sends `GET_NSURI` datagrams and resolves with the first name server URI that answers. */
export async function broadcastLocate(options: {
  port: number;
  addresses: readonly string[];
  timeoutMs?: number;
  attempts?: number;
  signal?: AbortSignal;
}): Promise<URI | undefined> {
  const addresses = options.addresses.map((a) => (a === '<broadcast>' ? '255.255.255.255' : a));
  if (addresses.length === 0) return undefined;
  const v6 = addresses.every((a) => isIPv6(a));
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Unreachable addresses and refused sends surface as socket errors: they must not crash anyone.
    socket.on('error', () => {});
    if (!v6) socket.setBroadcast(true);
    const attempts = options.attempts ?? 3;
    for (let i = 0; i < attempts && !options.signal?.aborted; i++) {
      const reply = new Promise<URI | undefined>((resolve) => {
        const finish = (uri: URI | undefined) => {
          clearTimeout(timer);
          socket.off('message', onMessage);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(uri);
        };
        const onAbort = () => finish(undefined);
        const timer = setTimeout(() => finish(undefined), options.timeoutMs ?? 700);
        const onMessage = (data: Buffer) => {
          try {
            // Pyro reads at most 100 bytes of the answer.
            const uri = URI.parse(data.subarray(0, 100).toString('latin1'));
            if (uri.protocol === 'PYRO') finish(uri);
          } catch {
            // not a name server answer: keep waiting
          }
        };
        socket.on('message', onMessage);
        options.signal?.addEventListener('abort', onAbort, { once: true });
      });
      for (const address of addresses) socket.send('GET_NSURI', options.port, address, () => {});
      const uri = await reply;
      if (uri) return uri;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    socket.close();
  }
}

/**
 * Finds a name server and returns a proxy bound to it. With a host: only there. Without: like Pyro,
 * a configured loopback nsHost is tried directly first, then broadcast discovery, then nsHost
 * directly when it is not loopback.
 */
async function locateBound(connect: ConnectProxy, options: LocateOptions): Promise<NameServerProxy> {
  const { config } = options;
  const direct = async (uri: URI): Promise<NameServerProxy | undefined> => {
    try {
      return await bindNameServer(connect, uri, options, LOCATE_CONNECT_TIMEOUT_MS);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      options.logger?.debug({ err, uri: uri.toString() }, 'no name server at the direct address');
      return undefined;
    }
  };
  // Replicas are tried in order; a dead one costs at most the connect timeout.
  const firstOf = async (uris: URI[]): Promise<NameServerProxy | undefined> => {
    for (const uri of uris) {
      const found = await direct(uri);
      if (found) return found;
    }
    return undefined;
  };
  if (options.host) {
    const uris = nameServerUris(options.host, options.port ?? config.nsPort);
    const found = await firstOf(uris);
    if (found) return found;
    throw new NamingError(`failed to locate the nameserver at ${uris.map(where).join(', ')}`);
  }
  const configured = nameServerUris(config.nsHost, config.nsPort);
  const loopback = configured.every((u) => u.host === null || isLoopback(u.host));
  if (loopback) {
    const found = await firstOf(configured);
    if (found) return found;
  }
  if (options.broadcast !== false && config.preferIpVersion !== 6) {
    const viaBroadcast = await broadcastLocate({
      port: options.port ?? config.nsBcPort,
      addresses: config.broadcastAddrs,
      ...(options.broadcastTimeoutMs ? { timeoutMs: options.broadcastTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (viaBroadcast) {
      const found = await direct(viaBroadcast);
      if (found) return found;
    }
  }
  if (!loopback) {
    const found = await firstOf(configured);
    if (found) return found;
  }
  throw new NamingError('failed to locate the nameserver');
}

/** `locateNameServer` with the name server reached through `connect`. */
export async function locateThrough(connect: ConnectProxy, options: LocateOptions): Promise<URI> {
  const ns = await locateBound(connect, options);
  try {
    return ns.$resolvedUri ?? ns.$uri;
  } finally {
    await ns.$release();
  }
}

/** `resolveUri` with the name server reached through `connect`. */
export async function resolveThrough(connect: ConnectProxy, uri: URI, options: ResolveOptions): Promise<URI> {
  if (uri.protocol === 'PYRO') return uri;
  const { config } = options;
  // The name server named in the uri (`PYRONAME:x@host:port`, `PYRONAME:x@./u:sock`) or located.
  const host = uri.sockname !== null ? `./u:${uri.sockname}` : uri.host;
  const ns = await locateBound(connect, { ...options, host, port: uri.port });
  const pyro4 = ns.$metadata !== undefined && !ns.$metadata.methods.includes('yplookup');
  // the lookups stop too when the signal aborts (a proxy's: every call waiting for it gave up)
  const calls = options.signal ? ns.$with({ signal: options.signal }) : ns;
  const deadline = Date.now() + config.nsLookupDelayMs;
  try {
    for (;;) {
      try {
        if (uri.protocol === 'PYRONAME') return toUri(await calls.lookup(uri.object), uri.object);
        const tags = [...uri.tags];
        // Pyro4 name servers have no yplookup; their list() takes the metadata filter.
        const found = pyro4
          ? await calls.$call('list', [], { kwargs: { metadata_all: tags, return_metadata: false } })
          : await calls.$call('yplookup', [], { kwargs: { meta_all: tags, return_metadata: false } });
        const entries =
          found instanceof Map
            ? [...found.values()]
            : Object.values((found ?? {}) as Record<string, unknown>);
        if (entries.length === 0) {
          throw new NamingError(
            `no registrations available with desired metadata properties ${JSON.stringify(tags)}`,
          );
        }
        return toUri(entries[Math.floor(Math.random() * entries.length)], uri.toString());
      } catch (err) {
        if (!(err instanceof NamingError) || Date.now() >= deadline) {
          if (err instanceof CommunicationError || err instanceof NamingError) throw err;
          throw new NamingError(`cannot resolve ${uri}: ${(err as Error).message}`, { cause: err });
        }
        await sleep(Math.min(250, Math.max(10, deadline - Date.now())), options.signal);
      }
    }
  } finally {
    await ns.$release();
  }
}
