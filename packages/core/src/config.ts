// Cinder's configuration: one zod schema with every setting and its default, the `CINDER_*`
// environment overrides (coerced the way Pyro coerces `PYRO_*`), and a readable dump. A resolved
// config is a frozen plain object that callers pass down; nothing here is global.
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { MAX_TIMER_MS } from './types.js';

/** Serializer names, in Cinder's order of preference. */
export const serializerNames = ['cbor', 'json', 'msgpack', 'serpent', 'marshal'] as const;
export type SerializerName = (typeof serializerNames)[number];

/** pino's levels, plus `silent`. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** How an environment variable's text becomes a value (Pyro's rules, chosen by the item's type). */
type EnvKind = 'string' | 'nullable' | 'int' | 'bool' | 'list';

const port = z.number().int().min(0).max(65535);
const durationMs = z.number().int().min(0).max(MAX_TIMER_MS);
const count = z.number().int().min(1);
const host = z.string().min(1);

function spec<S extends z.ZodType>(
  schema: S,
  defaultValue: z.output<S>,
  env: EnvKind,
  pyro: string | null,
  description: string,
) {
  return { schema, defaultValue, env, pyro, description };
}

// The single source of truth: order here is the order of docs and dumps.
const specs = {
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
    host.nullable(),
    null,
    'nullable',
    'NS_BCHOST',
    'Address the broadcast responder binds to (null = all interfaces).',
  ),
  nsAutocleanMs: spec(
    durationMs.refine((v) => v === 0 || v >= 3000, { message: 'must be 0 (off) or at least 3000 ms' }),
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
    z.string(),
    '',
    'string',
    null,
    'User the name server logs in to etcd as (etcd:// storage; empty = no etcd authentication).',
  ),
  nsEtcdPassword: spec(z.string(), '', 'string', null, 'Password of nsEtcdUser.'),
  nsEtcdCaCerts: spec(
    z.string(),
    '',
    'string',
    null,
    'PEM file of CA certificates that verify the etcd members; set, the name server talks TLS to etcd.',
  ),
  nsEtcdCert: spec(
    z.string(),
    '',
    'string',
    null,
    'PEM client certificate file the name server shows etcd (etcd --client-cert-auth).',
  ),
  nsEtcdKey: spec(z.string(), '', 'string', null, 'PEM private key file of nsEtcdCert.'),
  natHost: spec(
    host.nullable(),
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
  compression: spec(z.boolean(), false, 'bool', 'COMPRESSION', 'Compress message payloads with zlib.'),
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
    z.boolean(),
    false,
    'bool',
    null,
    "Give a failed call's stack the caller's frames (one more promise reaction per call, which successful calls pay too: about 5% of a pipelined call's CPU).",
  ),
  maxRetries: spec(
    z.number().int().min(0),
    0,
    'int',
    'MAX_RETRIES',
    'Times a call is retried, reconnecting, after a connection loss or timeout.',
  ),
  sockReuse: spec(z.boolean(), true, 'bool', 'SOCK_REUSE', 'Let a daemon rebind a port still in TIME_WAIT.'),
  sockNodelay: spec(
    z.boolean(),
    true,
    'bool',
    'SOCK_NODELAY',
    'Disable Nagle’s algorithm (TCP_NODELAY) on connections.',
  ),
  keepAlive: spec(z.boolean(), true, 'bool', null, 'Enable TCP keep-alive on connections.'),
  detailedTraceback: spec(
    z.boolean(),
    false,
    'bool',
    'DETAILED_TRACEBACK',
    'Send detailed remote stack traces to clients (may reveal internals).',
  ),
  preferIpVersion: spec(
    z.union([z.literal(0), z.literal(4), z.literal(6)]),
    0,
    'int',
    'PREFER_IP_VERSION',
    'IP version used to resolve host names: 0 = system order, 4 or 6.',
  ),
  serializer: spec(
    z.enum(serializerNames),
    'cbor',
    'string',
    'SERIALIZER',
    'Serializer a proxy uses for its calls.',
  ),
  serializersAccepted: spec(
    z.array(z.enum(serializerNames)).min(1),
    [...serializerNames],
    'list',
    'SERIALIZERS_ACCEPTED',
    'Serializers a daemon accepts from clients.',
  ),
  serpentBytesRepr: spec(
    z.boolean(),
    false,
    'bool',
    'SERPENT_BYTES_REPR',
    'Serpent writes bytes as Python bytes literals instead of base64 dicts.',
  ),
  logWire: spec(
    z.boolean(),
    false,
    'bool',
    'LOGWIRE',
    'Log every message, payload included, at trace level.',
  ),
  logLevel: spec(
    z.enum(logLevels),
    'silent',
    'string',
    'LOGLEVEL',
    'Level of the logger Cinder creates itself.',
  ),
  iterStreaming: spec(
    z.boolean(),
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
  ssl: spec(z.boolean(), false, 'bool', 'SSL', 'Use TLS for all connections.'),
  sslServerCert: spec(z.string(), '', 'string', 'SSL_SERVERCERT', 'PEM certificate file of the daemon.'),
  sslServerKey: spec(z.string(), '', 'string', 'SSL_SERVERKEY', 'PEM private key file of the daemon.'),
  sslServerKeyPasswd: spec(
    z.string(),
    '',
    'string',
    'SSL_SERVERKEYPASSWD',
    'Passphrase of the daemon’s private key.',
  ),
  sslRequireClientCert: spec(
    z.boolean(),
    false,
    'bool',
    'SSL_REQUIRECLIENTCERT',
    'Daemon demands and verifies a client certificate (2-way TLS).',
  ),
  sslClientCert: spec(z.string(), '', 'string', 'SSL_CLIENTCERT', 'PEM certificate file of the client.'),
  sslClientKey: spec(z.string(), '', 'string', 'SSL_CLIENTKEY', 'PEM private key file of the client.'),
  sslClientKeyPasswd: spec(
    z.string(),
    '',
    'string',
    'SSL_CLIENTKEYPASSWD',
    'Passphrase of the client’s private key.',
  ),
  sslCaCerts: spec(
    z.string(),
    '',
    'string',
    'SSL_CACERTS',
    'PEM file of CA certificates that verify the peer (empty = system CAs).',
  ),
  hmacKey: spec(
    z.string().min(1).nullable(),
    null,
    'nullable',
    'HMAC_KEY',
    'Shared key (null = none): Cinder peers authenticate the handshake and every message with it; Pyro4 peers use the Pyro4 HMAC.',
  ),
  maxMessageSize: spec(
    // Pyro5's header holds the payload size in 32 bits.
    z
      .number()
      .int()
      .min(1)
      .max(2 ** 32 - 1),
    268435456,
    'int',
    'MAX_MESSAGE_SIZE',
    'Largest message sent or accepted, in bytes; checked from the header before allocating.',
  ),
  maxInflatedSize: spec(
    z
      .number()
      .int()
      .min(1)
      .max(2 ** 32 - 1),
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
    count.max(10000),
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
    z.boolean(),
    true,
    'bool',
    null,
    'Pipeline calls over one connection between Cinder peers (Pyro peers get one call at a time).',
  ),
  broadcastAddrs: spec(
    z.array(z.string().min(1)),
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
    z.string().min(1).nullable(),
    null,
    'nullable',
    null,
    'Python regex (matched like re.match) of the names cinder-gateway serves over HTTP (null = none).',
  ),
  gatewayKey: spec(
    z.string().min(1).nullable(),
    null,
    'nullable',
    null,
    'Key HTTP clients must give cinder-gateway in X-Pyro-Gateway-Key or $key (null = none).',
  ),
  gatewayCors: spec(
    z.string().min(1).nullable(),
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
    durationMs.min(1),
    30000,
    'int',
    null,
    'Time an HTTP client has to send its whole request to cinder-gateway.',
  ),
};

type Specs = typeof specs;
type ItemName = keyof Specs;
type Shape = { [K in ItemName]: z.ZodDefault<Specs[K]['schema']> };

function buildShape(): Shape {
  const shape: Record<string, z.ZodType> = {};
  for (const name of Object.keys(specs) as ItemName[]) {
    const s = specs[name] as { schema: z.ZodType; defaultValue: unknown };
    shape[name] = s.schema.default(deepFreeze(s.defaultValue));
  }
  return shape as Shape;
}

/** Every setting with its default. Unknown keys are refused. */
export const configSchema = z.strictObject(buildShape());

type Parsed = z.output<typeof configSchema>;
/** A resolved configuration: every item present, deeply read-only. */
export type CinderConfig = {
  readonly [K in keyof Parsed]: Parsed[K] extends readonly (infer U)[] ? readonly U[] : Parsed[K];
};
export type ConfigItemName = keyof CinderConfig;

/** One row of the configuration table. */
export interface ConfigItem {
  readonly name: ConfigItemName;
  /** The environment variable that overrides it, e.g. `CINDER_NS_PORT`. */
  readonly envVar: string;
  readonly defaultValue: CinderConfig[ConfigItemName];
  readonly description: string;
  /** The matching Pyro item (its durations are seconds, ours milliseconds), or null. */
  readonly pyroItem: string | null;
}

export interface ResolveConfigOptions {
  /** Environment to read `CINDER_*` overrides from. Default `process.env`. */
  env?: Record<string, string | undefined> | undefined;
  /** False ignores the environment entirely. Default true. */
  useEnvironment?: boolean | undefined;
}

const ENV_PREFIX = 'CINDER_';

function envVarName(name: string): string {
  return ENV_PREFIX + name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** Every configuration item, in documentation order. */
export const configItems: readonly ConfigItem[] = Object.freeze(
  (Object.keys(specs) as ItemName[]).map((name) =>
    Object.freeze({
      name,
      envVar: envVarName(name),
      defaultValue: deepFreeze(specs[name].defaultValue) as CinderConfig[ConfigItemName],
      description: specs[name].description,
      pyroItem: specs[name].pyro,
    }),
  ),
);

const itemsByEnvVar = new Map(configItems.map((item) => [item.envVar, item]));
const itemsByName = new Map<string, ConfigItem>(configItems.map((item) => [item.name, item]));
// Configs this module produced: complete, valid and frozen, so they pass through resolveConfig free.
const resolvedConfigs = new WeakSet<object>();
const DEFAULTS = markResolved(configSchema.parse({}));

/** The default configuration (frozen). */
export function defaultConfig(): CinderConfig {
  return DEFAULTS;
}

/**
 * The `CINDER_*` overrides in `env`, coerced and validated. An unknown `CINDER_*` variable or a bad
 * value is a ConfigError naming the variable.
 */
export function configFromEnvironment(env: Record<string, string | undefined>): Partial<CinderConfig> {
  return Object.freeze(readEnvironment(env) ?? {}) as Partial<CinderConfig>;
}

/**
 * Resolves a configuration: defaults < `CINDER_*` environment < `input`. The result is frozen. A
 * config that resolveConfig returned before passes through unchanged (it is complete already, so
 * the environment could not change it).
 */
export function resolveConfig(
  input?: Partial<CinderConfig> | CinderConfig,
  options?: ResolveConfigOptions,
): CinderConfig {
  if (input !== undefined && resolvedConfigs.has(input)) return input as CinderConfig;
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new ConfigError(
      `invalid configuration: expected an object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  let config = options?.useEnvironment === false ? undefined : readEnvironment(options?.env ?? process.env);
  if (input) {
    let problems: string[] | undefined;
    // Items are independent, so checking only the given ones against their own schema is the same
    // as parsing the whole configSchema, at a fraction of the cost.
    for (const key of Object.keys(input)) {
      const value = (input as Record<string, unknown>)[key];
      const item = itemsByName.get(key);
      if (!item) {
        (problems ??= []).push(
          `unknown item ${JSON.stringify(key)} (valid: ${[...itemsByName.keys()].join(', ')})`,
        );
        continue;
      }
      // An explicit undefined means "not given", so callers can spread optional settings.
      if (value === undefined) continue;
      const checked = specs[item.name].schema.safeParse(value);
      if (!checked.success) {
        (problems ??= []).push(
          `${item.name} (${item.envVar}) = ${formatValue(value)}: ${issueText(checked.error.issues)}`,
        );
        continue;
      }
      (config ??= {})[key] = checked.data;
    }
    if (problems) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  if (!config) return DEFAULTS;
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const key in config) {
    const value = config[key];
    // Copied, not frozen in place: the caller's arrays stay theirs.
    merged[key] = Array.isArray(value) ? Object.freeze([...value]) : value;
  }
  return markResolved(merged as Parsed);
}

/** The validated `CINDER_*` overrides in `env`, or undefined when there are none. */
function readEnvironment(env: Record<string, string | undefined>): Record<string, unknown> | undefined {
  let values: Record<string, unknown> | undefined;
  let unknown: string[] | undefined;
  for (const key of Object.keys(env)) {
    if (!key.startsWith(ENV_PREFIX)) continue;
    const raw = env[key];
    if (raw === undefined) continue;
    const item = itemsByEnvVar.get(key);
    if (!item) {
      (unknown ??= []).push(key);
      continue;
    }
    const checked = specs[item.name].schema.safeParse(coerce(item, raw));
    if (!checked.success) {
      throw new ConfigError(
        `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)}: ${issueText(checked.error.issues)}`,
        { cause: checked.error },
      );
    }
    (values ??= {})[item.name] = checked.data;
  }
  if (unknown) {
    throw new ConfigError(
      `unknown configuration environment variable${unknown.length > 1 ? 's' : ''} ${unknown.sort().join(', ')}; ` +
        `valid names: ${configItems.map((i) => i.envVar).join(', ')}`,
    );
  }
  return values;
}

/** A readable dump of a configuration, one `name = value` line per item, secrets masked. */
export function describeConfig(config: CinderConfig): string {
  const width = Math.max(...configItems.map((i) => i.name.length));
  const lines = ['Cinder configuration (* = not the default):'];
  for (const item of configItems) {
    const value = config[item.name];
    const changed = !sameValue(value, item.defaultValue);
    const shown =
      SECRETS.has(item.name) && value !== null && value !== '' ? '<secret>' : JSON.stringify(value);
    lines.push(`${changed ? '*' : ' '} ${item.name.padEnd(width)} = ${shown}`);
  }
  return lines.join('\n');
}

const SECRETS = new Set<ConfigItemName>([
  'hmacKey',
  'gatewayKey',
  'sslServerKeyPasswd',
  'sslClientKeyPasswd',
]);
const TRUE_WORDS = new Set(['1', 'yes', 'on', 'true']);
const FALSE_WORDS = new Set(['0', 'no', 'off', 'false']);
// Strict: no sign, spaces, hex, exponents or underscores that Number()/int() would take.
const INT_RE = /^-?[0-9]+$/;
// Error messages quote values; bound them, a caller may pass anything.
const MAX_SHOWN = 100;

function coerce(item: ConfigItem, raw: string): unknown {
  switch (specs[item.name].env) {
    case 'bool': {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new ConfigError(
        `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)} is not a boolean ` +
          '(use 1/yes/on/true or 0/no/off/false)',
      );
    }
    case 'int': {
      const n = INT_RE.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) {
        throw new ConfigError(
          `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)} is not an integer`,
        );
      }
      return n;
    }
    case 'list': {
      // Pyro splits on commas and strips; an empty variable is the empty list, not [''].
      const text = raw.trim();
      return text === '' ? [] : text.split(',').map((part) => part.trim());
    }
    default:
      // Strings and nullable items take the raw text, as in Pyro.
      return raw;
  }
}

function issueText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => (i.path.length > 0 ? `element ${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function markResolved(config: Parsed): CinderConfig {
  const frozen = deepFreeze(config) as CinderConfig;
  resolvedConfigs.add(frozen);
  return frozen;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function formatValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // BigInt and cyclic values: still worth naming in the error.
  }
  text ??= String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}
