// cinder-gateway: Pyro's HTTP gateway (pyro5-httpgateway) on node:http. `GET|POST /pyro/<name>/<method>`
// looks `<name>` up in the name server and calls `<method>(**params)` with the json serializer;
// the reply body is the daemon's own json payload, exceptions come back as Pyro's exception dict
// with status 500. Only names matching the exposure pattern are reachable (default: none), an
// optional key guards every request, and every request is bounded in size and time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CinderConfig,
  CommunicationError,
  componentLogger,
  type Logger,
  type ObjectMetadata,
  ProtocolError,
  RemoteError,
  resolveConfig,
  URI,
} from '@cinder/core';
import { locateNS, type NameServerClient, translatePythonRegex } from '@cinder/naming';
import { Flags, type Message } from '@cinder/protocol';
import { connect, type Remote } from '@cinder/proxy';
import { proxyCore } from '@cinder/proxy/internal';
import { secretEqual } from '@cinder/security';
import { createSerializers } from '@cinder/serializers';
import { pyJsonDumps } from './py-json.js';

export interface GatewayOptions {
  /** Address to bind (default 127.0.0.1; Pyro's gateway binds localhost). */
  host?: string;
  /** TCP port (default 8080 like Pyro's; 0 picks a free port). */
  port?: number;
  /** Where the name server is (default: the config's nsHost/nsPort, then broadcast, like Pyro's locate_ns). */
  nameServer?: { host?: string; port?: number; unixSocket?: string };
  /**
   * Settings; the gateway's own are `gatewayExpose`, `gatewayKey`, `gatewayCors`,
   * `gatewayMaxBodySize` and `gatewayRequestTimeoutMs` (also `CINDER_GATEWAY_*`).
   */
  config?: Partial<CinderConfig> | CinderConfig;
  /** Time limit of one call to an object (Pyro's `-t`); default `config.commTimeoutMs`, or 30 s when that is 0. */
  callTimeoutMs?: number;
  /** Most object proxies (connections) kept open for reuse (default 64). */
  maxProxies?: number;
  /**
   * Wire protocol to the objects: 502 (Pyro5 and Cinder daemons), 48 (Pyro4 daemons), or `auto`
   * (default): 502, and 48 for a daemon that answers a 502 handshake in protocol 48 (a Pyro4
   * daemon registered in the name server), remembered per daemon address.
   */
  protocol?: 502 | 48 | 'auto';
  logger?: Logger;
}

export interface RunningGateway extends AsyncDisposable {
  /** `http://host:port/` */
  readonly url: string;
  readonly address: AddressInfo;
  readonly config: CinderConfig;
  /** Stops accepting requests, ends open connections and closes the proxies. */
  close(): Promise<void>;
}

/** A reply that ends request processing early (refused, malformed…). */
class HttpReply extends Error {
  override readonly name = 'HttpReply';
  constructor(
    readonly status: number,
    readonly text: string,
    readonly closeConnection = false,
  ) {
    super(text);
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  302: 'Found',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  500: 'Internal Server Error',
};

const JSON_TYPE = 'application/json; charset=utf-8';
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const INDEX_LIMIT = 100;

/** Pyro's `uuid.UUID(text)`: hex digits with optional hyphens, braces and `urn:uuid:` prefix. */
export function parseUuid(text: string): Uint8Array | undefined {
  const hex = text
    .trim()
    .replace(/^urn:uuid:/i, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function formatUuid(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function randomUuid(): Uint8Array {
  const id = crypto.getRandomValues(new Uint8Array(16));
  id[6] = (id[6]! & 0x0f) | 0x40;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}

/** Query-string parameters as Pyro's `singlyfy_parameters(parse_qs(...))` has them. */
function addParameters(into: Record<string, unknown>, search: URLSearchParams): void {
  for (const key of new Set(search.keys())) {
    // parse_qs drops blank values by default.
    const values = search.getAll(key).filter((v) => v !== '');
    if (values.length === 0) continue;
    into[key] = values.length === 1 ? values[0] : values;
  }
}

function htmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A Python-side error for things Pyro's gateway raises itself (AttributeError, ValueError…). */
function pythonError(type: string, message: string): RemoteError {
  return new RemoteError({ remoteType: `builtins.${type}`, remoteMessage: message, args: [message] });
}

/** The gateway as a request handler plus its resources (name server client, proxy cache). */
export class Gateway {
  readonly config: CinderConfig;
  private readonly logger: Logger;
  private readonly expose: RegExp | null;
  private readonly key: string | null;
  private readonly cors: string | null;
  private readonly callTimeoutMs: number;
  private readonly maxProxies: number;
  private readonly nameServerAt: GatewayOptions['nameServer'];
  private readonly errors = createSerializers({ dialect: 5 });
  private ns: Promise<NameServerClient> | undefined;
  /** Open proxies by URI, least recently used first. */
  private readonly proxies = new Map<string, Remote<Record<string, never>>>();
  private readonly protocol: 502 | 48 | 'auto';
  /** Daemon addresses found to speak only Pyro4's protocol 48 (auto), oldest first, bounded. */
  private readonly pyro4Daemons = new Set<string>();
  private closed = false;

  constructor(options: GatewayOptions = {}) {
    this.config = resolveConfig(options.config);
    this.logger = componentLogger(options.logger, 'gateway');
    this.expose = this.config.gatewayExpose === null ? null : translatePythonRegex(this.config.gatewayExpose);
    this.key = this.config.gatewayKey;
    this.cors = this.config.gatewayCors;
    this.callTimeoutMs = options.callTimeoutMs ?? (this.config.commTimeoutMs || DEFAULT_CALL_TIMEOUT_MS);
    this.maxProxies = options.maxProxies ?? 64;
    this.protocol = options.protocol ?? 'auto';
    this.nameServerAt = options.nameServer;
  }

  /** The node:http request listener. Never rejects: every failure becomes a reply. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new CommunicationError('the HTTP client went away'));
    });
    this.route(req, res, abort.signal).catch((err: unknown) => {
      if (err instanceof HttpReply) {
        if (err.closeConnection) res.setHeader('Connection', 'close');
        this.send(res, err.status, 'text/plain', err.text);
        if (err.closeConnection) req.pause();
        return;
      }
      this.logger.debug({ err, url: req.url }, 'request failed');
      this.sendError(res, err);
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(q < 0 ? raw : raw.slice(0, q));
    } catch {
      throw new HttpReply(400, 'Error 400: Bad Request - malformed path');
    }
    path = path.replace(/^\/+/, '');
    if (path === '') {
      res.setHeader('Location', '/pyro/');
      this.send(res, 302, undefined, '');
      return;
    }
    if (!path.startsWith('pyro/')) throw new HttpReply(404, 'Error 404: Not Found');
    if (req.method === 'OPTIONS') {
      this.send(res, 200, 'text/plain', '200 OK');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw new HttpReply(405, 'Error 405: Method Not Allowed');
    }
    const params: Record<string, unknown> = {};
    addParameters(params, new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)));
    if (req.method === 'POST') await this.readBody(req, params);
    await this.process(req, res, path.slice(5), params, signal);
  }

  /** Adds a POST body's parameters: a JSON object (typed values) or a urlencoded form. */
  private async readBody(req: IncomingMessage, params: Record<string, unknown>): Promise<void> {
    const limit = this.config.gatewayMaxBodySize;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      throw new HttpReply(413, `Error 413: request body larger than ${limit} bytes`, true);
    }
    // Events rather than for-await: leaving a for-await loop would destroy the socket before the 413.
    const chunks: Buffer[] = [];
    const size = await new Promise<number>((resolve, reject) => {
      let total = 0;
      const onData = (chunk: Buffer) => {
        total += chunk.length;
        if (total > limit) {
          cleanup();
          req.pause();
          reject(new HttpReply(413, `Error 413: request body larger than ${limit} bytes`, true));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => {
        cleanup();
        resolve(total);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
      };
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
    });
    if (size === 0) return;
    const text = Buffer.concat(chunks).toString('utf8');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new HttpReply(400, `Error 400: Bad Request - malformed JSON body: ${(err as Error).message}`);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpReply(400, 'Error 400: Bad Request - the JSON body must be an object of parameters');
      }
      Object.assign(params, body);
    } else if (type === 'application/x-www-form-urlencoded') {
      addParameters(params, new URLSearchParams(text));
    } else {
      throw new HttpReply(400, 'Error 400: Bad Request - body must be application/json or a urlencoded form');
    }
  }

  private async process(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const options = String(req.headers['x-pyro-options'] ?? '').split(',');
    if (path === '') {
      this.checkKey(req, params);
      await this.indexPage(res, signal);
      return;
    }
    // Pyro's re.match(r"(.+)/(.+)", path): greedy, so the method is after the last slash.
    const match = /^([^\n]+)\/([^\n]+)/.exec(path);
    if (!match) throw new HttpReply(404, 'Error 404: Not Found');
    const [, name, method] = match as unknown as [string, string, string];
    this.checkKey(req, params);
    if (this.expose === null || !this.expose.test(name)) {
      throw new HttpReply(403, '403 Forbidden - access to the requested object has been denied');
    }
    const header = String(req.headers['x-pyro-correlation-id'] ?? '');
    let correlationId: Uint8Array;
    if (header !== '') {
      const parsed = parseUuid(header);
      if (!parsed) throw pythonError('ValueError', 'badly formed hexadecimal UUID string');
      correlationId = parsed;
    } else {
      correlationId = randomUuid();
    }
    const call = { signal, timeoutMs: this.callTimeoutMs };
    const uri = await this.lookup(name, call);
    let core = proxyCore(this.proxyFor(uri))!;
    let session: Awaited<ReturnType<typeof core.ensure>>;
    try {
      session = await core.ensure(call);
    } catch (err) {
      this.forget(uri);
      if (!(this.protocol === 'auto' && answeredInProtocol48(err) && uri.location !== null)) throw err;
      // A Pyro4 daemon: it answered our 502 CONNECT in its own protocol. Talk 48 to it from now on.
      this.rememberPyro4(uri.location);
      core = proxyCore(this.proxyFor(uri))!;
      try {
        session = await core.ensure(call);
      } catch (again) {
        this.forget(uri);
        throw again;
      }
    }
    const meta = core.metadata as ObjectMetadata;
    const ok = { 'Content-Type': JSON_TYPE, 'X-Pyro-Correlation-Id': formatUuid(correlationId) };
    if (method === '$meta') {
      this.send(res, 200, undefined, pyJsonDumps({ methods: meta.methods, attributes: meta.attrs }), ok);
      return;
    }
    const oneway = options.includes('oneway') || meta.oneway.includes(method);
    let envelope: {
      object: string;
      method: string;
      params: unknown[];
      kwargs: Record<string, unknown> | null;
    };
    if (meta.attrs.includes(method)) {
      if (Object.keys(params).length > 0) {
        throw pythonError('AssertionError', "attribute lookup can't have query parameters");
      }
      envelope = { object: core.objectId, method: '__getattr__', params: [method], kwargs: null };
    } else if (meta.methods.includes(method) || meta.oneway.includes(method)) {
      envelope = { object: core.objectId, method, params: [], kwargs: params };
    } else {
      throw pythonError(
        'AttributeError',
        `remote object '${core.uri}' has no exposed attribute or method '${method}'`,
      );
    }
    let reply: Message | undefined;
    try {
      reply = (await session.invoke(envelope, {
        serializer: core.serializer,
        flags: oneway ? Flags.ONEWAY : 0,
        raw: true,
        correlationId,
        annotations: null,
        ...call,
      })) as Message | undefined;
    } catch (err) {
      if (err instanceof CommunicationError && !(err instanceof RemoteError)) this.forget(uri);
      throw err;
    }
    if (reply === undefined || oneway) {
      this.send(res, 200, undefined, '', ok);
    } else if ((reply.flags & Flags.EXCEPTION) !== 0) {
      this.send(res, 500, JSON_TYPE, reply.payload);
    } else {
      this.send(res, 200, undefined, reply.payload, ok);
    }
  }

  private checkKey(req: IncomingMessage, params: Record<string, unknown>): void {
    if (this.key === null) return;
    const given = String(req.headers['x-pyro-gateway-key'] ?? '') || String(params.$key ?? '');
    delete params.$key;
    if (!secretEqual(given, this.key)) {
      throw new HttpReply(403, '403 Forbidden - incorrect gateway api key');
    }
  }

  private async indexPage(res: ServerResponse, signal: AbortSignal): Promise<void> {
    let names: string[] = [];
    let nsText: string;
    try {
      const ns = await this.nameServer(signal);
      const at = ns.uri;
      nsText = at.sockname !== null ? `./u:${at.sockname}` : `${at.host}:${at.port}`;
      if (this.config.gatewayExpose !== null) {
        const listed = await ns.list(
          { regex: this.config.gatewayExpose },
          { withMetadata: false, signal, timeoutMs: this.callTimeoutMs },
        );
        names = listed.map((r) => r.name).sort();
      }
    } catch (err) {
      this.logger.warn({ err }, 'name server unavailable for the index page');
      throw new HttpReply(
        500,
        'Cannot connect to the Pyro name server. Is it running? Refresh page to retry.',
      );
    }
    const shown = names.slice(0, INDEX_LIMIT);
    const items = shown
      .map((n) => {
        const href = `${encodeURIComponent(n)}/$meta`;
        return `<li><a href="${htmlEscape(href)}">${htmlEscape(n)}</a></li>`;
      })
      .join('\n');
    const pattern = this.config.gatewayExpose;
    const html = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Cinder HTTP gateway</title></head>
<body>
<h1>Cinder HTTP gateway</h1>
<p>Call objects with <code>GET</code> or <code>POST /pyro/&lt;name&gt;/&lt;method&gt;?param=value</code>;
<code>/pyro/&lt;name&gt;/$meta</code> lists an object's methods and attributes.</p>
<h2>Exposed names in the name server at ${htmlEscape(nsText)}</h2>
<p>${pattern === null ? 'No names are exposed (start the gateway with an exposure pattern, -e REGEX).' : `Exposed name pattern: <code>${htmlEscape(pattern)}</code>; ${names.length} name(s)${names.length > shown.length ? `, the first ${shown.length} shown` : ''}.`}</p>
<ul>
${items}
</ul>
</body>
</html>
`;
    this.send(res, 200, 'text/html; charset=utf-8', html);
  }

  private nameServer(signal: AbortSignal): Promise<NameServerClient> {
    if (this.closed) return Promise.reject(new CommunicationError('the gateway is closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    let ns = this.ns;
    if (ns === undefined) {
      const at = this.nameServerAt ?? {};
      const attempt = locateNS({
        config: this.config,
        logger: this.logger,
        timeoutMs: this.callTimeoutMs,
        ...(at.host !== undefined ? { host: at.host } : {}),
        ...(at.port !== undefined ? { port: at.port } : {}),
        ...(at.unixSocket !== undefined ? { unixSocket: at.unixSocket } : {}),
        proxyOptions: { serializer: 'json', timeoutMs: this.callTimeoutMs },
      });
      this.ns = ns = attempt;
      // A failed attempt is forgotten so the next request tries again.
      attempt.catch(() => {
        if (this.ns === attempt) this.ns = undefined;
      });
    }
    return ns;
  }

  private async lookup(name: string, call: { signal: AbortSignal; timeoutMs: number }): Promise<URI> {
    const ns = await this.nameServer(call.signal);
    try {
      return await ns.lookup(name, call);
    } catch (err) {
      if (err instanceof CommunicationError && !(err instanceof RemoteError) && this.ns !== undefined) {
        // The connection to the name server broke: the next request connects again.
        const stale = this.ns;
        this.ns = undefined;
        stale.then((c) => c.close()).catch(() => {});
      }
      throw err;
    }
  }

  private proxyFor(uri: URI): Remote<Record<string, never>> {
    const key = uri.toString();
    let proxy = this.proxies.get(key);
    if (proxy !== undefined) {
      this.proxies.delete(key);
      this.proxies.set(key, proxy);
      return proxy;
    }
    const pyro4 =
      this.protocol === 48 ||
      (this.protocol === 'auto' && uri.location !== null && this.pyro4Daemons.has(uri.location));
    proxy = connect<Record<string, never>>(uri, {
      config: this.config,
      serializer: 'json',
      ...(pyro4 ? { protocol: 48 as const } : {}),
      timeoutMs: this.callTimeoutMs,
      logger: this.logger,
    });
    this.proxies.set(key, proxy);
    while (this.proxies.size > this.maxProxies) {
      const oldest = this.proxies.keys().next().value as string;
      this.forget(URI.parse(oldest));
    }
    return proxy;
  }

  private rememberPyro4(location: string): void {
    this.pyro4Daemons.delete(location);
    this.pyro4Daemons.add(location);
    if (this.pyro4Daemons.size > MAX_PYRO4_DAEMONS) {
      this.pyro4Daemons.delete(this.pyro4Daemons.values().next().value as string);
    }
  }

  private forget(uri: URI): void {
    const key = uri.toString();
    const proxy = this.proxies.get(key);
    if (proxy === undefined) return;
    this.proxies.delete(key);
    proxy.$release().catch(() => {});
  }

  private headers(res: ServerResponse): void {
    if (this.cors === null) return;
    res.setHeader('Access-Control-Allow-Origin', this.cors);
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader(
      'Access-Control-Allow-Headers',
      'Content-Type, X-Pyro-Options, X-Pyro-Gateway-Key, X-Pyro-Correlation-Id',
    );
    res.setHeader('Access-Control-Expose-Headers', 'X-Pyro-Correlation-Id');
  }

  private send(
    res: ServerResponse,
    status: number,
    contentType: string | undefined,
    body: string | Uint8Array,
    extra: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    this.headers(res);
    if (contentType !== undefined) res.setHeader('Content-Type', contentType);
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    res.statusCode = status;
    res.statusMessage = STATUS_TEXT[status] ?? '';
    res.end(body);
  }

  /** Pyro's reply to an exception it raised itself: 500 with the exception dict, no traceback. */
  private sendError(res: ServerResponse, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const dict = this.errors.encodeError(error);
    const body = pyJsonDumps({
      __class__: dict.__class__,
      __exception__: true,
      args: [...(dict.args as Iterable<unknown>)],
      attributes: {},
    });
    this.send(res, 500, JSON_TYPE, body);
  }

  /** Closes the name server connection and every cached proxy. */
  async close(): Promise<void> {
    this.closed = true;
    const ns = this.ns;
    this.ns = undefined;
    const proxies = [...this.proxies.values()];
    this.proxies.clear();
    await Promise.allSettled([
      ...proxies.map((p) => p.$release()),
      ns?.then((c) => c.close()) ?? Promise.resolve(),
    ]);
  }
}

/** Starts a gateway and resolves once it listens. */
export async function startGateway(options: GatewayOptions = {}): Promise<RunningGateway> {
  const gateway = new Gateway(options);
  const config = gateway.config;
  const requestTimeout = config.gatewayRequestTimeoutMs;
  const server: Server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 60_000),
      // How often node checks the two timeouts above (default 30 s: a slow client would hold on longer).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeout / 4))),
      keepAliveTimeout: 5000,
      maxHeaderSize: 16 * 1024,
    },
    gateway.handle,
  );
  server.maxConnections = config.maxConnections;
  server.maxRequestsPerSocket = 0;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await gateway.close();
  };
  return {
    url: `http://${shown}:${address.port}/`,
    address,
    config,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Pyro4 daemon addresses remembered (auto protocol); beyond that the oldest is tried with 502 again. */
const MAX_PYRO4_DAEMONS = 1024;

/**
 * True when a handshake failed because the daemon answered in protocol 48: a Pyro4 daemon answers
 * a 502 CONNECT with a protocol 48 error frame, which our frame reader refuses by its version.
 */
function answeredInProtocol48(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof ProtocolError && /invalid protocol version: 48\b/.test(e.message)) return true;
  }
  return false;
}
