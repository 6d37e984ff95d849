// Pyro object URIs (`PYRO:`, `PYRONAME:`, `PYROMETA:`): parsing, formatting and the serialized
// state Python peers exchange. Acceptance follows Pyro's `core.URI`; where Pyro is sloppy we are
// stricter, and each such place says so. Every URI this module builds formats to text that parses
// back to an equal URI, so a URI can travel as a string without loss.
import { ConfigError, InvalidUriError } from './errors.js';

/** The three URI protocols, upper-cased. */
export type UriProtocol = 'PYRO' | 'PYRONAME' | 'PYROMETA';

/** Where a PYRO object lives: a TCP host and port, or a Unix socket path. */
export type UriLocation = { readonly host: string; readonly port: number } | { readonly path: string };

/** What a transport needs to connect to a PYRO uri. IPv6 hosts are bare (no brackets). */
export type UriEndpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/**
 * A URI as Pyro serializes it: `(protocol, object, sockname, host, port)`. For PYROMETA the object
 * is a set of tags, as in Python (a serializer writes a Python set, or a list where it has none).
 */
export type PyroUriState = readonly [
  protocol: UriProtocol,
  object: string | ReadonlySet<string>,
  sockname: string | null,
  host: string | null,
  port: number | null,
];

export interface UriParseOptions {
  /** Port for PYRONAME/PYROMETA locations that give none (the configured `nsPort`). Default 9090. */
  nsPort?: number | undefined;
}

/** Pyro's `NS_PORT` default. */
const DEFAULT_NS_PORT = 9090;
const UNIX_PREFIX = './u:';
// Pyro's protocol group is `[Pp][Yy][Rr][Oo][a-zA-Z]*`: anything else is not a Pyro URI at all.
const PROTOCOL_RE = /^pyro[a-z]*$/i;
// Character classes for the scanners below (ASCII; beyond it only Unicode whitespace is refused).
// Pyro's object group is `\S+`. Control characters are refused too (stricter): none can be typed,
// and Python's `$` would let a trailing newline slip through.
const BAD_IN_OBJECT = 1;
// Pyro takes any host text. Stricter: characters that cannot be in a host name or IPv4 address and
// would make the formatted URI parse differently (`@`, `/` as in `./u:`, brackets, whitespace).
const BAD_IN_HOST = 2;
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c <= 0x20; c++) ASCII_CLASS[c] = BAD_IN_OBJECT | BAD_IN_HOST;
ASCII_CLASS[0x7f] = BAD_IN_OBJECT | BAD_IN_HOST;
for (const c of '@/\\[]') ASCII_CLASS[c.charCodeAt(0)] = BAD_IN_HOST;
const UNICODE_SPACE_RE = /\s/;
// Pyro's IPv6 rule (numeric address, `%` so a numeric scope id fits). Stricter: at least one `:`,
// otherwise it is no IPv6 address and would be formatted without brackets.
const IPV6_RE = /^[0-9a-fA-F:%]*:[0-9a-fA-F:%]*$/;
// Pyro accepts any control character in a socket name except the newline its regex cannot match.
// Stricter: none at all, except the leading NUL that selects Linux's abstract namespace.
const BAD_SOCKNAME_CHAR_RE = /[\x00-\x1f\x7f]/;
const MAX_QUOTED = 120;
/** Error subject for serialized state, which has no text to quote. */
const STATE = null;
/** What an error message is about: the URI text being parsed or built, or STATE. */
type Subject = string | typeof STATE;

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/** A Set that refuses changes, so a URI's tags cannot be altered through the ReadonlySet view. */
class FrozenTagSet extends Set<string> {
  constructor(tags: Iterable<string>) {
    super();
    for (const tag of tags) super.add(tag);
  }

  override add(_tag: string): this {
    throw new TypeError('URI tags are immutable');
  }

  override delete(_tag: string): boolean {
    throw new TypeError('URI tags are immutable');
  }

  override clear(): void {
    throw new TypeError('URI tags are immutable');
  }
}

const NO_TAGS: ReadonlySet<string> = Object.freeze(new FrozenTagSet([]));

/** A Pyro object URI. Immutable; build one with `parse`, `forObject` or `fromPyroState`. */
export class URI {
  readonly protocol: UriProtocol;
  /** The object id or name; for PYROMETA the tags joined with commas. */
  readonly object: string;
  /** The PYROMETA tags, in the order first given; empty for the other protocols. */
  readonly tags: ReadonlySet<string>;
  /** Host name or address; IPv6 addresses are stored without brackets. Null for Unix sockets. */
  readonly host: string | null;
  readonly port: number | null;
  /** Unix socket path; a leading NUL means Linux's abstract namespace. */
  readonly sockname: string | null;
  /** `host:port`, `[v6]:port`, `./u:path`, or null when the URI has no location. */
  readonly location: string | null;
  readonly #text: string;
  // Built on first use; private fields stay writable after Object.freeze.
  #endpoint: UriEndpoint | undefined;

  private constructor(
    protocol: UriProtocol,
    object: string,
    tags: ReadonlySet<string>,
    sockname: string | null,
    host: string | null,
    port: number | null,
  ) {
    this.protocol = protocol;
    this.object = object;
    this.tags = tags;
    this.host = host;
    this.port = port;
    this.sockname = sockname;
    if (sockname !== null) {
      this.location = UNIX_PREFIX + sockname;
    } else if (host !== null && port !== null) {
      this.location = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    } else {
      this.location = null;
    }
    // Formatted once: URIs are used as map keys and log fields far more often than they are built.
    this.#text = this.location === null ? `${protocol}:${object}` : `${protocol}:${object}@${this.location}`;
    Object.freeze(this);
  }

  /**
   * Parses any Pyro URI form. A URI argument is returned as is. Throws InvalidUriError naming the
   * part that is wrong.
   */
  static parse(text: string | URI, options?: UriParseOptions): URI {
    if (text instanceof URI) return text;
    if (typeof text !== 'string') {
      throw new InvalidUriError(`invalid uri: expected a string, got ${describeType(text)}`);
    }
    const nsPort = options?.nsPort ?? DEFAULT_NS_PORT;
    if (!Number.isInteger(nsPort) || nsPort < 0 || nsPort > 65535) {
      throw new ConfigError(`invalid nsPort option ${String(nsPort)}: expected an integer 0..65535`);
    }
    const colon = text.indexOf(':');
    const protocol = parseProtocol(colon < 0 ? '' : text.slice(0, colon), text);
    // Pyro's non-greedy object group ends at the first '@': object ids cannot contain one.
    const at = text.indexOf('@', colon + 1);
    const object = at < 0 ? text.slice(colon + 1) : text.slice(colon + 1, at);
    const location = at < 0 ? null : text.slice(at + 1);
    checkObject(object, text);
    let tags = NO_TAGS;
    let name = object;
    if (protocol === 'PYROMETA') {
      tags = parseTags(object.split(','), text);
      name = [...tags].join(',');
    }
    if (location === null) {
      if (protocol === 'PYRO') throw invalid(text, 'missing location (PYRO needs host:port or ./u:socket)');
      return new URI(protocol, name, tags, null, null, null);
    }
    if (location === '') throw invalid(text, "empty location after '@'");
    if (location.startsWith(UNIX_PREFIX)) {
      const sockname = location.slice(UNIX_PREFIX.length);
      checkSockname(sockname, text);
      return new URI(protocol, name, tags, sockname, null, null);
    }
    const defaultPort = protocol === 'PYRO' ? null : nsPort;
    let host: string;
    let portText: string | null;
    if (location.startsWith('[')) {
      if (location.startsWith('[['))
        throw invalid(text, 'invalid ipv6 address: enclosed in too many brackets');
      const close = location.indexOf(']');
      if (close < 0) throw invalid(text, "invalid ipv6 address: missing ']'");
      host = location.slice(1, close);
      if (!IPV6_RE.test(host)) {
        throw invalid(text, 'invalid ipv6 address: the part between brackets must be a numeric ipv6 address');
      }
      const rest = location.slice(close + 1);
      // Pyro ignores whatever follows `[addr]:digits`; stricter: trailing text is refused.
      if (rest !== '' && !rest.startsWith(':')) {
        throw invalid(text, `invalid location: unexpected ${quote(rest)} after the ipv6 address`);
      }
      portText = rest === '' ? null : rest.slice(1);
    } else {
      const c = location.indexOf(':');
      host = c < 0 ? location : location.slice(0, c);
      portText = c < 0 ? null : location.slice(c + 1);
      checkHost(host, text);
    }
    let port: number;
    if (portText === null) {
      if (defaultPort === null) throw invalid(text, 'missing port (PYRO needs host:port)');
      port = defaultPort;
    } else {
      port = parsePort(portText, text);
    }
    return new URI(protocol, name, tags, null, host, port);
  }

  /** Builds the PYRO uri of an object served at a TCP address or Unix socket. */
  static forObject(objectId: string, location: UriLocation): URI {
    const text = `PYRO:${String(objectId)}`;
    if (typeof objectId !== 'string') throw invalid(text, 'object id must be a string');
    checkObject(objectId, text);
    if ('path' in location) {
      if (typeof location.path !== 'string') throw invalid(text, 'socket path must be a string');
      checkSockname(location.path, text);
      return new URI('PYRO', objectId, NO_TAGS, location.path, null, null);
    }
    const { host, port } = location;
    if (typeof host !== 'string') throw invalid(text, 'host must be a string');
    checkHostOrIpv6(host, text);
    checkPortNumber(port, text);
    return new URI('PYRO', objectId, NO_TAGS, null, host, port);
  }

  /**
   * Rebuilds a URI from Pyro's serialized state `(protocol, object, sockname, host, port)`. The state
   * comes from the network, so it is checked as strictly as a parsed string.
   */
  static fromPyroState(state: unknown): URI {
    const what = STATE;
    if (!Array.isArray(state) || state.length !== 5) {
      throw invalid(what, 'expected [protocol, object, sockname, host, port]');
    }
    const [protocol, object, sockname, host, port] = state as unknown[];
    if (protocol !== 'PYRO' && protocol !== 'PYRONAME' && protocol !== 'PYROMETA') {
      throw invalid(
        what,
        `unknown protocol ${typeof protocol === 'string' ? quote(protocol) : describeType(protocol)}`,
      );
    }
    let name: string;
    let tags = NO_TAGS;
    if (protocol === 'PYROMETA') {
      // Python sends a set; codecs without sets (json, msgpack) turn it into a list.
      if (!(object instanceof Set) && !Array.isArray(object)) {
        throw invalid(what, `PYROMETA object must be a set of tags, got ${describeType(object)}`);
      }
      const items: string[] = [];
      for (const tag of object as Iterable<unknown>) {
        if (typeof tag !== 'string')
          throw invalid(what, `PYROMETA tag must be a string, got ${describeType(tag)}`);
        checkObject(tag, what);
        // Would split into two tags when the URI is formatted and parsed again.
        if (tag.includes(',')) throw invalid(what, "PYROMETA tag must not contain ','");
        items.push(tag);
      }
      if (items.length === 0) throw invalid(what, 'PYROMETA needs at least one tag');
      tags = parseTags(items, what);
      name = [...tags].join(',');
    } else {
      if (typeof object !== 'string')
        throw invalid(what, `object must be a string, got ${describeType(object)}`);
      checkObject(object, what);
      name = object;
    }
    if (sockname !== null) {
      if (typeof sockname !== 'string')
        throw invalid(what, `sockname must be a string, got ${describeType(sockname)}`);
      if (host !== null || port !== null) throw invalid(what, 'a unix socket uri has no host or port');
      checkSockname(sockname, what);
      return new URI(protocol, name, tags, sockname, null, null);
    }
    if (host === null) {
      if (protocol === 'PYRO') throw invalid(what, 'missing location (PYRO needs host:port or ./u:socket)');
      if (port !== null) throw invalid(what, 'a port without a host');
      return new URI(protocol, name, tags, null, null, null);
    }
    if (typeof host !== 'string') throw invalid(what, `host must be a string, got ${describeType(host)}`);
    checkHostOrIpv6(host, what);
    checkPortNumber(port, what);
    return new URI(protocol, name, tags, null, host, port);
  }

  /** True when the location is a Unix domain socket. */
  get isUnixSocket(): boolean {
    return this.sockname !== null;
  }

  /** Pyro's serialized form: `(protocol, object, sockname, host, port)`; see PyroUriState. */
  toPyroState(): PyroUriState {
    const object = this.protocol === 'PYROMETA' ? new Set(this.tags) : this.object;
    return [this.protocol, object, this.sockname, this.host, this.port];
  }

  /** Where to connect for a PYRO uri. PYRONAME/PYROMETA uris must be resolved through a name server first. */
  endpoint(): UriEndpoint {
    if (this.#endpoint) return this.#endpoint;
    if (this.protocol !== 'PYRO') {
      throw new InvalidUriError(
        `${this.protocol} uri ${quote(this.#text)} has no endpoint: resolve it through the name server first`,
      );
    }
    this.#endpoint = Object.freeze(
      this.sockname !== null
        ? { kind: 'unix', path: this.sockname }
        : { kind: 'tcp', host: this.host!, port: this.port! },
    );
    return this.#endpoint;
  }

  /** Same protocol, object (tags compared as a set), socket, host and port; like Pyro's `__eq__`. */
  equals(other: unknown): boolean {
    if (this === other) return true;
    if (!(other instanceof URI)) return false;
    if (
      this.protocol !== other.protocol ||
      this.sockname !== other.sockname ||
      this.host !== other.host ||
      this.port !== other.port
    ) {
      return false;
    }
    if (this.protocol !== 'PYROMETA') return this.object === other.object;
    if (this.tags.size !== other.tags.size) return false;
    for (const tag of this.tags) if (!other.tags.has(tag)) return false;
    return true;
  }

  /** Pyro's exact text form; parses back to an equal URI. */
  toString(): string {
    return this.#text;
  }

  [inspectCustom](): string {
    return `URI<${this.#text}>`;
  }
}

function parseProtocol(protocolText: string, text: string): UriProtocol {
  // Fast path for the usual spelling; the regex only runs for other cases.
  if (protocolText === 'PYRO' || protocolText === 'PYRONAME' || protocolText === 'PYROMETA')
    return protocolText;
  if (!PROTOCOL_RE.test(protocolText)) {
    throw invalid(text, 'missing or invalid protocol (expected PYRO:, PYRONAME: or PYROMETA:)');
  }
  const protocol = protocolText.toUpperCase();
  if (protocol !== 'PYRO' && protocol !== 'PYRONAME' && protocol !== 'PYROMETA') {
    throw invalid(text, `unknown protocol ${quote(protocol)}`);
  }
  return protocol;
}

/** Index of the first character of `s` in class `cls` (or Unicode whitespace), else -1. */
function findBad(s: string, cls: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 ? (ASCII_CLASS[c]! & cls) !== 0 : c >= 0xa0 && UNICODE_SPACE_RE.test(s[i]!)) return i;
  }
  return -1;
}

function checkObject(object: string, text: Subject): void {
  if (object === '') throw invalid(text, 'empty object');
  if (object.includes('@')) throw invalid(text, "object must not contain '@'");
  const bad = findBad(object, BAD_IN_OBJECT);
  if (bad >= 0) {
    const c = object.charCodeAt(bad);
    const space = c === 0x20 || (c >= 0x09 && c <= 0x0d) || c >= 0xa0;
    throw invalid(text, space ? 'whitespace in object' : 'control character in object');
  }
}

function parseTags(items: readonly string[], text: Subject): ReadonlySet<string> {
  const tags: string[] = [];
  for (const item of items) {
    // Pyro strips each tag; only the network state can carry whitespace, and checkObject refuses it.
    const tag = item.trim();
    if (tag === '') throw invalid(text, 'empty tag in PYROMETA uri');
    tags.push(tag);
  }
  return Object.freeze(new FrozenTagSet(tags));
}

function checkSockname(sockname: string, text: Subject): void {
  if (sockname === '') throw invalid(text, 'invalid location: empty unix socket name');
  if (sockname.includes(':')) throw invalid(text, "invalid location: unix socket name must not contain ':'");
  const body = sockname.charCodeAt(0) === 0 ? sockname.slice(1) : sockname;
  if (body === '') throw invalid(text, 'invalid location: empty abstract socket name');
  if (BAD_SOCKNAME_CHAR_RE.test(body)) {
    throw invalid(text, 'invalid location: control character in unix socket name');
  }
}

function checkHost(host: string, text: Subject): void {
  if (host === '') throw invalid(text, 'invalid location: empty host');
  const bad = findBad(host, BAD_IN_HOST);
  if (bad >= 0) throw invalid(text, `invalid location: character ${quote(host[bad]!)} not allowed in host`);
}

/** A host given as data (not text): a bare IPv6 address, or a host name / IPv4 address. */
function checkHostOrIpv6(host: string, text: Subject): void {
  if (host.includes(':')) {
    if (!IPV6_RE.test(host)) {
      throw invalid(text, `invalid ipv6 address ${quote(host)}: must be a bare numeric ipv6 address`);
    }
  } else {
    checkHost(host, text);
  }
}

/**
 * Pyro calls `int()`, which also takes `+5`, ` 5`, `-1`, `5_0`, non-ASCII digits and 99999.
 * Stricter: ASCII digits only, within 0..65535.
 */
function parsePort(portText: string, text: Subject): number {
  let port = 0;
  const n = portText.length;
  if (n > 0 && n <= 5) {
    for (let i = 0; i < n; i++) {
      const d = portText.charCodeAt(i) - 48;
      if (d < 0 || d > 9) {
        port = -1;
        break;
      }
      port = port * 10 + d;
    }
    if (port >= 0 && port <= 65535) return port;
  }
  throw invalid(text, `invalid port ${quote(portText)} (expected 0..65535)`);
}

function checkPortNumber(port: unknown, text: Subject): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(
      text,
      `invalid port ${typeof port === 'number' ? port : describeType(port)} (expected 0..65535)`,
    );
  }
}

function invalid(text: Subject, reason: string): InvalidUriError {
  return new InvalidUriError(
    text === STATE ? `invalid uri state: ${reason}` : `invalid uri ${quote(text)}: ${reason}`,
  );
}

/** JSON-quotes text for an error message, cut short: URIs can come from the network. */
function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
