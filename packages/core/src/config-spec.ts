// The configuration's items: each one's rule, default, environment kind, Pyro name and description.
// A rule has two forms built from the same parameters, so they cannot drift apart: a plain predicate
// that takes the common, valid values without loading anything, and the zod schema that is the
// validator of record (it decides every value the predicate does not take, and words the errors).
// A test holds each predicate to taking only what its schema accepts, unchanged. zod is imported
// here for its types only.
import type { z } from 'zod';
import { MAX_TIMER_MS } from './types.js';

/** Serializer names, in Cinder's order of preference. */
export const serializerNames = ['cbor', 'json', 'msgpack', 'serpent', 'marshal'] as const;
export type SerializerName = (typeof serializerNames)[number];

/** pino's levels, plus `silent`. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** zod's namespace object, handed in by whoever loaded zod. */
export type Zod = typeof z;

/** How an environment variable's text becomes a value (Pyro's rules, chosen by the item's type). */
export type EnvKind = 'string' | 'nullable' | 'int' | 'bool' | 'list';

/** What `Rule.take` returns for a value it does not vouch for: the schema must decide. */
export const UNDECIDED: unique symbol = Symbol('undecided');

/** One item's rule: a predicate for the common case, a zod schema for every case. */
export interface Rule<S extends z.ZodType> {
  /** The value as the schema would output it (lists copied) when the predicate alone can tell it is valid, else UNDECIDED. */
  readonly take: (value: unknown) => unknown;
  /** The same rule as a zod schema, built with the zod given. */
  readonly schema: (zod: Zod) => S;
}

function rule<S extends z.ZodType>(accepts: (value: unknown) => boolean, schema: (zod: Zod) => S): Rule<S> {
  return { take: (value) => (accepts(value) ? value : UNDECIDED), schema };
}

function takes(r: Rule<z.ZodType>, value: unknown): boolean {
  return r.take(value) !== UNDECIDED;
}

/** A safe integer in [min, max]: `z.number().int().min(min).max(max)`. */
function int(min: number, max?: number): Rule<z.ZodNumber> {
  return rule(
    (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && (max === undefined || v <= max),
    (zod) => (max === undefined ? zod.number().int().min(min) : zod.number().int().min(min).max(max)),
  );
}

/** `r` with one more lower bound (`.min(min)` appended). */
function atLeast(r: Rule<z.ZodNumber>, min: number): Rule<z.ZodNumber> {
  return rule(
    (v) => takes(r, v) && (v as number) >= min,
    (zod) => r.schema(zod).min(min),
  );
}

/** `r` refined by `ok`, with its message. */
function refine(r: Rule<z.ZodNumber>, ok: (v: number) => boolean, message: string): Rule<z.ZodNumber> {
  return rule(
    (v) => takes(r, v) && ok(v as number),
    (zod) => r.schema(zod).refine(ok, { message }),
  );
}

/** A string of at least `min` characters. */
function str(min: number): Rule<z.ZodString> {
  return rule(
    (v) => typeof v === 'string' && v.length >= min,
    (zod) => (min === 0 ? zod.string() : zod.string().min(min)),
  );
}

function nullable<S extends z.ZodType>(r: Rule<S>): Rule<z.ZodNullable<S>> {
  return rule(
    (v) => v === null || takes(r, v),
    (zod) => r.schema(zod).nullable(),
  );
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return rule(
    (v) => typeof v === 'string' && (values as readonly string[]).includes(v),
    (zod) => zod.enum(values),
  );
}

/** An array of `r`, at least `min` long, taken as a copy (zod outputs a new array too). */
function list<S extends z.ZodType>(r: Rule<S>, min = 0): Rule<z.ZodArray<S>> {
  return {
    take: (value) => {
      if (!Array.isArray(value)) return UNDECIDED;
      // Copied first, element by element, so what is checked is what is kept.
      const copy: unknown[] = [];
      for (let i = 0; i < value.length; i++) copy.push(value[i]);
      if (copy.length < min) return UNDECIDED;
      for (const element of copy) if (!takes(r, element)) return UNDECIDED;
      return copy;
    },
    schema: (zod) => (min === 0 ? zod.array(r.schema(zod)) : zod.array(r.schema(zod)).min(min)),
  };
}

const bool = rule(
  (v) => typeof v === 'boolean',
  (zod) => zod.boolean(),
);
const text = str(0);
const host = str(1);
const port = int(0, 65535);
const durationMs = int(0, MAX_TIMER_MS);
const count = int(1);
const ipVersion = rule(
  (v) => v === 0 || v === 4 || v === 6,
  (zod) => zod.union([zod.literal(0), zod.literal(4), zod.literal(6)]),
);

function spec<S extends z.ZodType>(
  rule: Rule<S>,
  defaultValue: z.output<S>,
  env: EnvKind,
  pyro: string | null,
  description: string,
) {
  return { rule, defaultValue, env, pyro, description };
}

// The single source of truth: order here is the order of docs and dumps.
export const specs = {
  host: spec(
    host,
    '127.0.0.1',
    'string',
    'HOST',
    'Host name or address a daemon binds to when none is given.',
  ),
  nsHost: spec(
    host,
    '127.0.0.1',
    'string',
    'NS_HOST',
    'Host of the name server: where clients look, where it binds.',
  ),
  nsPort: spec(
    port,
    9090,
    'int',
    'NS_PORT',
    'Name server TCP port; also the default port of PYRONAME/PYROMETA uris.',
  ),
  nsBcPort: spec(port, 9091, 'int', 'NS_BCPORT', 'UDP port of the name server broadcast responder.'),
  nsBcHost: spec(
    nullable(host),
    null,
    'nullable',
    'NS_BCHOST',
    'Address the broadcast responder binds to (null = all interfaces).',
  ),
  nsAutocleanMs: spec(
    refine(durationMs, (v) => v === 0 || v >= 3000, 'must be 0 (off) or at least 3000 ms'),
    0,
    'int',
    'NS_AUTOCLEAN',
    'Interval at which the name server drops registrations that stopped answering (0 = off, else ≥ 3000).',
  ),
  nsLookupDelayMs: spec(
    durationMs,
    0,
    'int',
    'NS_LOOKUP_DELAY',
    'How long a name lookup keeps retrying an unknown name before failing (0 = no retry).',
  ),
  nsEtcdUser: spec(
    text,
    '',
    'string',
    null,
    'User the name server logs in to etcd as (etcd:// storage; empty = no etcd authentication).',
  ),
  nsEtcdPassword: spec(text, '', 'string', null, 'Password of nsEtcdUser.'),
  nsEtcdCaCerts: spec(
    text,
    '',
    'string',
    null,
    'PEM file of CA certificates that verify the etcd members; set, the name server talks TLS to etcd.',
  ),
  nsEtcdCert: spec(
    text,
    '',
    'string',
    null,
    'PEM client certificate file the name server shows etcd (etcd --client-cert-auth).',
  ),
  nsEtcdKey: spec(text, '', 'string', null, 'PEM private key file of nsEtcdCert.'),
  natHost: spec(
    nullable(host),
    null,
    'nullable',
    'NATHOST',
    'External host written in uris behind NAT (null = none).',
  ),
  natPort: spec(
    port,
    0,
    'int',
    'NATPORT',
    'External port written in uris behind NAT (0 = the internal port).',
  ),
  compression: spec(bool, false, 'bool', 'COMPRESSION', 'Compress message payloads with zlib.'),
  commTimeoutMs: spec(durationMs, 0, 'int', 'COMMTIMEOUT', 'Time limit of a network call (0 = none).'),
  heartbeatMs: spec(
    durationMs,
    10000,
    'int',
    null,
    'Between Cinder peers, while calls wait on a pipelined connection: a PING every this long; no answer within it fails the connection (0 = off; never with Python peers).',
  ),
  connectTimeoutMs: spec(
    durationMs,
    10000,
    'int',
    null,
    'Time limit for a client to connect and complete the handshake (0 = none).',
  ),
  callerStacks: spec(
    bool,
    false,
    'bool',
    null,
    "Give a failed call's stack the caller's frames (one more promise reaction per call, which successful calls pay too: about 5% of a pipelined call's CPU).",
  ),
  maxRetries: spec(
    int(0),
    0,
    'int',
    'MAX_RETRIES',
    'Times a call is retried, reconnecting, after a connection loss or timeout.',
  ),
  sockReuse: spec(bool, true, 'bool', 'SOCK_REUSE', 'Let a daemon rebind a port still in TIME_WAIT.'),
  sockNodelay: spec(
    bool,
    true,
    'bool',
    'SOCK_NODELAY',
    'Disable Nagle’s algorithm (TCP_NODELAY) on connections.',
  ),
  keepAlive: spec(bool, true, 'bool', null, 'Enable TCP keep-alive on connections.'),
  detailedTraceback: spec(
    bool,
    false,
    'bool',
    'DETAILED_TRACEBACK',
    'Send detailed remote stack traces to clients (may reveal internals).',
  ),
  preferIpVersion: spec(
    ipVersion,
    0,
    'int',
    'PREFER_IP_VERSION',
    'IP version used to resolve host names: 0 = system order, 4 or 6.',
  ),
  serializer: spec(
    oneOf(serializerNames),
    'cbor',
    'string',
    'SERIALIZER',
    'Serializer a proxy uses for its calls.',
  ),
  serializersAccepted: spec(
    list(oneOf(serializerNames), 1),
    [...serializerNames],
    'list',
    'SERIALIZERS_ACCEPTED',
    'Serializers a daemon accepts from clients.',
  ),
  serpentBytesRepr: spec(
    bool,
    false,
    'bool',
    'SERPENT_BYTES_REPR',
    'Serpent writes bytes as Python bytes literals instead of base64 dicts.',
  ),
  logWire: spec(bool, false, 'bool', 'LOGWIRE', 'Log every message, payload included, at trace level.'),
  logLevel: spec(
    oneOf(logLevels),
    'silent',
    'string',
    'LOGLEVEL',
    'Level of the logger Cinder creates itself.',
  ),
  iterStreaming: spec(
    bool,
    true,
    'bool',
    'ITER_STREAMING',
    'Stream iterators returned by remote methods item by item.',
  ),
  iterStreamLifetimeMs: spec(
    durationMs,
    0,
    'int',
    'ITER_STREAM_LIFETIME',
    'Longest life of a remote item stream (0 = unlimited).',
  ),
  iterStreamLingerMs: spec(
    durationMs,
    30000,
    'int',
    'ITER_STREAM_LINGER',
    'How long a stream outlives its client’s disconnect, so a reconnect can resume it.',
  ),
  ssl: spec(bool, false, 'bool', 'SSL', 'Use TLS for all connections.'),
  sslServerCert: spec(text, '', 'string', 'SSL_SERVERCERT', 'PEM certificate file of the daemon.'),
  sslServerKey: spec(text, '', 'string', 'SSL_SERVERKEY', 'PEM private key file of the daemon.'),
  sslServerKeyPasswd: spec(
    text,
    '',
    'string',
    'SSL_SERVERKEYPASSWD',
    'Passphrase of the daemon’s private key.',
  ),
  sslRequireClientCert: spec(
    bool,
    false,
    'bool',
    'SSL_REQUIRECLIENTCERT',
    'Daemon demands and verifies a client certificate (2-way TLS).',
  ),
  sslClientCert: spec(text, '', 'string', 'SSL_CLIENTCERT', 'PEM certificate file of the client.'),
  sslClientKey: spec(text, '', 'string', 'SSL_CLIENTKEY', 'PEM private key file of the client.'),
  sslClientKeyPasswd: spec(
    text,
    '',
    'string',
    'SSL_CLIENTKEYPASSWD',
    'Passphrase of the client’s private key.',
  ),
  sslCaCerts: spec(
    text,
    '',
    'string',
    'SSL_CACERTS',
    'PEM file of CA certificates that verify the peer (empty = system CAs).',
  ),
  hmacKey: spec(
    nullable(host),
    null,
    'nullable',
    'HMAC_KEY',
    'Shared key (null = none): Cinder peers authenticate the handshake and every message with it; Pyro4 peers use the Pyro4 HMAC.',
  ),
  maxMessageSize: spec(
    // Pyro5's header holds the payload size in 32 bits.
    int(1, 2 ** 32 - 1),
    268435456,
    'int',
    'MAX_MESSAGE_SIZE',
    'Largest message sent or accepted, in bytes; checked from the header before allocating.',
  ),
  maxInflatedSize: spec(
    int(1, 2 ** 32 - 1),
    16777216,
    'int',
    null,
    'Largest payload a compressed message may inflate to, in bytes (the smaller of this and maxMessageSize applies); inflating stops there.',
  ),
  maxDecodeItems: spec(
    // Sized from measurement: an accepted frame of this many values, echoed, costs at most about
    // 0.2 s of CPU in the slowest serializer (docs/security.md, "Event-loop time per frame").
    count,
    250000,
    'int',
    null,
    'Most values (dict keys included) one received payload may decode to; more is refused before they are built.',
  ),
  maxConnections: spec(
    count,
    4096,
    'int',
    null,
    'Most connections a daemon serves at once; more are refused.',
  ),
  maxConnectionsPerClient: spec(
    count,
    512,
    'int',
    null,
    'Most simultaneous connections a daemon accepts from one client address.',
  ),
  maxHalfOpenConnections: spec(
    count,
    512,
    'int',
    null,
    'Most connections a daemon holds that have not finished their handshake; beyond that the oldest one of the address holding the most is dropped.',
  ),
  handshakeTimeoutMs: spec(
    durationMs,
    5000,
    'int',
    null,
    'Time a new connection has to finish its handshake before the daemon drops it (0 = none).',
  ),
  idleTimeoutMs: spec(durationMs, 0, 'int', null, 'Daemon closes connections idle this long (0 = never).'),
  // A batch of this many one-argument calls (5 values each) fits maxDecodeItems with 20 % to spare.
  maxBatchSize: spec(count, 40000, 'int', null, 'Most calls one batch request may carry.'),
  maxDepth: spec(
    // Decoders recurse per level; far deeper nesting would risk the stack.
    int(1, 10000),
    100,
    'int',
    null,
    'Deepest nesting of arrays and objects decoded from the wire.',
  ),
  maxConcurrentCalls: spec(
    count,
    256,
    'int',
    null,
    'Most calls running at once per connection; others wait.',
  ),
  maxBufferedOutput: spec(
    count,
    8388608,
    'int',
    null,
    'Bytes per connection, each way: output queued for a peer beyond which none of its calls starts and reading pauses until it drains; payload bytes of its calls waiting to run beyond which reading pauses.',
  ),
  drainTimeoutMs: spec(
    durationMs,
    30000,
    'int',
    null,
    'A peer whose queued output, past maxBufferedOutput, does not shrink for this long is dropped (0 = never).',
  ),
  multiplex: spec(
    bool,
    true,
    'bool',
    null,
    'Pipeline calls over one connection between Cinder peers (Pyro peers get one call at a time).',
  ),
  broadcastAddrs: spec(
    list(host),
    ['<broadcast>', '0.0.0.0'],
    'list',
    'BROADCAST_ADDRS',
    'Addresses a name server lookup broadcasts to when no host is known.',
  ),
  streamCredit: spec(
    count,
    64,
    'int',
    null,
    'Stream items a Cinder client lets the server push ahead before it asks for more.',
  ),
  gatewayExpose: spec(
    nullable(host),
    null,
    'nullable',
    null,
    'Python regex (matched like re.match) of the names cinder-gateway serves over HTTP (null = none).',
  ),
  gatewayKey: spec(
    nullable(host),
    null,
    'nullable',
    null,
    'Key HTTP clients must give cinder-gateway in X-Pyro-Gateway-Key or $key (null = none).',
  ),
  gatewayCors: spec(
    nullable(host),
    null,
    'nullable',
    null,
    'Access-Control-Allow-Origin of cinder-gateway replies (null = no CORS headers).',
  ),
  gatewayMaxBodySize: spec(
    count,
    1048576,
    'int',
    null,
    'Largest HTTP request body cinder-gateway reads, in bytes.',
  ),
  gatewayRequestTimeoutMs: spec(
    atLeast(durationMs, 1),
    30000,
    'int',
    null,
    'Time an HTTP client has to send its whole request to cinder-gateway.',
  ),
};

export type Specs = typeof specs;
export type ItemName = keyof Specs;
export type Shape = { [K in ItemName]: z.ZodDefault<ReturnType<Specs[K]['rule']['schema']>> };

/** The schema's shape, built with the zod given: every item's schema with its default. */
export function buildConfigShape(zod: Zod): Shape {
  const shape: Record<string, z.ZodType> = {};
  for (const name of Object.keys(specs) as ItemName[]) {
    const s = specs[name] as { rule: Rule<z.ZodType>; defaultValue: unknown };
    shape[name] = s.rule.schema(zod).default(deepFreeze(s.defaultValue));
  }
  return shape as Shape;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
