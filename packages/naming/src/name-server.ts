// The name server object, served as `Pyro.NameServer`: Pyro5's API (register, lookup, list,
// yplookup, set_metadata, remove, count, ping) with Pyro5's argument names, return shapes and
// error texts, plus Pyro4's `list(metadata_all=…, metadata_any=…)`, so Python Pyro4 and Pyro5
// clients and Cinder clients all use it as they would Pyro's own. Keyword arguments from Python
// map onto positions through `@params`.
//
// Errors, as Pyro raises them: unknown names and duplicate safe registrations are NamingErrors;
// a name or metadata of the wrong type is a TypeError (Python `TypeError`); two filters at once is
// a RangeError (Python `ValueError`); an invalid uri is an InvalidUriError (Pyro's `PyroError`).
//
// Deliberately different from Pyro: an empty name is refused (no PYRONAME uri could ever name it);
// metadata tags must be strings; `Pyro.NameServer` cannot be registered over or removed by clients;
// uris are stored normalised (`pyro:x@h:1` is kept as `PYRO:x@h:1`); `list(return_metadata=True)`
// works for entries without metadata (Pyro5 fails to serialize their frozenset with json).
import { type Logger, NAMESERVER_NAME, NamingError, silentLogger, URI } from '@cinder/core';
import { currentContext, expose, params } from '@cinder/daemon';
import { Tuple } from '@cinder/serializers';
import { translatePythonRegex } from './python-regex.js';
import { RegexFilter } from './regex-filter.js';
import {
  andThen,
  type MaybePromise,
  MemoryStorage,
  type NameQuery,
  type NameRecord,
  type NameStorage,
} from './storage.js';

// Parsed URIs by their text: a lookup — the hot path — then costs a map hit instead of a parse.
// URIs are immutable, so sharing them is safe; the cache is dropped whole when it grows too big.
const MAX_PARSED_URIS = 10_000;
// Watches open at once (each holds a storage listener, and an etcd watch on etcd storage).
const MAX_WATCHES = 10_000;

export interface NameServerInit {
  /** Where registrations live (default: a new MemoryStorage). */
  storage?: NameStorage;
  /** Longest time one regex filter may run before the call fails (default 1000 ms; 0 = no limit). */
  regexTimeoutMs?: number;
  logger?: Logger;
}

/** A listing: `{name: uri}`, or `{name: [uri, [tags]]}` with metadata. */
export type NameListing = Record<string, string> | Record<string, Tuple<string | string[]>>;

/** Python's truth value of a decoded argument. */
function truthy(value: unknown): boolean {
  if (
    value === null ||
    value === undefined ||
    value === false ||
    value === 0 ||
    value === 0n ||
    value === ''
  ) {
    return false;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof Set || value instanceof Map) return value.size > 0;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.keys(value).length > 0;
  }
  return true;
}

/** Python's type name of a decoded value, for error messages a Python caller recognises. */
function pyType(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Tuple) return 'tuple';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Set) return 'set';
  if (value instanceof URI) return 'URI';
  return typeof value === 'object' ? 'dict' : typeof value;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new TypeError('name must be a str');
}

/**
 * Metadata as Pyro takes it: None (no metadata) or an iterable that is not a str. `what` names the
 * argument in Pyro's words.
 */
function tagsOf(metadata: unknown, what = 'metadata'): string[] | null {
  if (metadata === null || metadata === undefined) return null;
  if (typeof metadata === 'string') {
    throw new TypeError(`${what} should not be a str, but another iterable (set, list, etc)`);
  }
  if (!Array.isArray(metadata) && !(metadata instanceof Set)) {
    throw new TypeError(
      `'${pyType(metadata)}' object is not iterable: ${what} must be a list, set or tuple of str`,
    );
  }
  const tags: string[] = [];
  for (const tag of metadata as Iterable<unknown>) {
    if (typeof tag !== 'string') throw new TypeError(`${what} items must be str, got ${pyType(tag)}`);
    tags.push(tag);
  }
  return tags;
}

function checkText(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a str, got ${pyType(value)}`);
}

/** Sets `key` as an own property, also when it is `__proto__` (names come from the network). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Checks what register and register_ttl take; returns the normalised uri text and the tags. */
function checkRegistration(name: unknown, uri: unknown, metadata: unknown): [string, string[] | null] {
  let text: string;
  if (uri instanceof URI) text = uri.toString();
  else if (typeof uri === 'string') text = URI.parse(uri).toString();
  else throw new TypeError('only URIs or strings can be registered');
  checkName(name);
  const tags = tagsOf(metadata);
  if (name === '') throw new NamingError('name must not be empty: no PYRONAME uri could refer to it');
  if (name === NAMESERVER_NAME) {
    throw new NamingError(`${NAMESERVER_NAME} is the name server's own registration and cannot be replaced`);
  }
  return [text, tags];
}

function checkLease(lease: unknown): asserts lease is string {
  if (typeof lease !== 'string' || !/^[0-9]{1,20}$/.test(lease))
    throw new TypeError('lease must be a lease id str');
}

/**
 * Metadata as the caller expects it: Pyro5's name server returns sets, which serpent and marshal
 * carry as Python sets (Pyro5 code does set operations on them); JSON and msgpack have no sets, and
 * Cinder (cbor) and Pyro4 callers get lists.
 */
function tagsOut(tags: Iterable<string>): string[] {
  const ctx = currentContext();
  const sets = ctx?.protocolVersion === 502 && (ctx.serializer === 'serpent' || ctx.serializer === 'marshal');
  return sets ? (new Set(tags) as unknown as string[]) : [...tags];
}

function shape(records: readonly NameRecord[], withMetadata: boolean): NameListing {
  const out: Record<string, unknown> = {};
  for (const r of records)
    put(out, r.name, withMetadata ? Tuple.of<string | string[]>(r.uri, tagsOut(r.metadata)) : r.uri);
  return out as NameListing;
}

/** The name server object. Serve it with a Daemon as `Pyro.NameServer` (startNameServer does). */
export class NameServer {
  readonly storage: NameStorage;
  readonly #regex: RegexFilter;
  readonly #logger: Logger;
  readonly #parsed = new Map<string, URI>();
  /**
   * In a store shared by several replicas (one with `lead`, i.e. etcd), each replica answers
   * `Pyro.NameServer` with its own uri instead of storing it where the replicas would overwrite
   * each other; it then does not appear in listings.
   */
  #self: { uri: URI; metadata: readonly string[] } | undefined;
  #watches = 0;

  constructor(init: NameServerInit = {}) {
    this.storage = init.storage ?? new MemoryStorage();
    this.#regex = new RegexFilter(init.regexTimeoutMs ?? 1000);
    this.#logger = init.logger ?? silentLogger;
  }

  /**
   * Registers `name` for `uri` (a URI or uri text, validated), replacing an existing registration
   * unless `safe`. `metadata`: a list or set of tags, or null.
   */
  @expose
  @params('name', 'uri', 'safe', 'metadata')
  register(name: unknown, uri: unknown, safe: unknown = false, metadata: unknown = null): MaybePromise<null> {
    const [text, tags] = checkRegistration(name, uri, metadata);
    return this.#store(name as string, text, tags ?? [], truthy(safe), undefined);
  }

  /**
   * Cinder's registration with a time to live: like register, on a new lease of `ttl_ms` (whole
   * seconds, rounded up, in etcd) that the registering daemon keeps alive with renew(); when it
   * stops renewing (it died), the registration disappears. Returns the lease id. Needs a storage
   * with leases (etcd).
   */
  @expose
  @params('name', 'uri', 'ttl_ms', 'safe', 'metadata', 'lease')
  async register_ttl(
    name: unknown,
    uri: unknown,
    ttl_ms: unknown,
    safe: unknown = false,
    metadata: unknown = null,
    lease: unknown = null,
  ): Promise<string> {
    const [text, tags] = checkRegistration(name, uri, metadata);
    const storage = this.#leases();
    let id: string;
    if (lease !== null && lease !== undefined) {
      checkLease(lease);
      id = lease;
    } else {
      if (typeof ttl_ms !== 'number' || !Number.isInteger(ttl_ms) || ttl_ms < 1000 || ttl_ms > 86_400_000) {
        throw new TypeError('ttl_ms must be an int of milliseconds between 1000 and 86400000');
      }
      id = await storage.grantLease!(ttl_ms);
    }
    await this.#store(name as string, text, tags ?? [], truthy(safe), id);
    return id;
  }

  /** Keeps a lease alive; false when it has ended (its registrations are gone: register again). */
  @expose
  @params('lease')
  renew(lease: unknown): Promise<boolean> {
    checkLease(lease);
    return this.#leases().renewLease!(lease);
  }

  /** Ends a lease now: its registrations disappear. */
  @expose
  @params('lease')
  async revoke(lease: unknown): Promise<null> {
    checkLease(lease);
    await this.#leases().revokeLease!(lease);
    return null;
  }

  #leases(): NameStorage {
    const s = this.storage;
    if (!s.grantLease || !s.renewLease || !s.revokeLease)
      throw new NamingError(
        `registrations with a time to live need a storage with leases (etcd), not ${s.kind}`,
      );
    return s;
  }

  #store(
    name: string,
    text: string,
    tags: string[],
    safe: boolean,
    lease: string | undefined,
  ): MaybePromise<null> {
    const options = lease === undefined ? undefined : { lease };
    const done = () => {
      this.#logger.debug({ name, uri: text, lease }, 'registered');
      return null;
    };
    const taken = () => {
      throw new NamingError(`name already registered: ${name}`);
    };
    if (safe && this.storage.add) {
      return andThen(this.storage.add(name, text, tags, options), (ok) => (ok ? done() : taken()));
    }
    if (safe) {
      return andThen(this.storage.has(name), (has) =>
        has ? taken() : andThen(this.storage.set(name, text, tags, options), done),
      );
    }
    return andThen(this.storage.set(name, text, tags, options), done);
  }

  /** The URI registered for `name`, or `[uri, tags]` with `return_metadata`. */
  @expose
  @params('name', 'return_metadata')
  lookup(name: unknown, return_metadata: unknown = false): MaybePromise<URI | Tuple<URI | string[]>> {
    checkName(name);
    if (this.#self !== undefined && name === NAMESERVER_NAME) {
      const { uri, metadata } = this.#self;
      return truthy(return_metadata) ? Tuple.of<URI | string[]>(uri, tagsOut(metadata)) : uri;
    }
    return andThen(this.storage.get(name), (entry) => {
      if (entry === undefined) throw new NamingError(`unknown name: ${name}`);
      let uri = this.#parsed.get(entry.uri);
      if (uri === undefined) {
        uri = URI.parse(entry.uri);
        if (this.#parsed.size >= MAX_PARSED_URIS) this.#parsed.clear();
        this.#parsed.set(entry.uri, uri);
      }
      return truthy(return_metadata) ? Tuple.of<URI | string[]>(uri, tagsOut(entry.metadata)) : uri;
    });
  }

  /**
   * Registrations as `{name: uri}` (or `{name: [uri, tags]}` with `return_metadata`), all of them or
   * filtered by one of: a name prefix, a Python regex (matched at the start, like `re.match`), or
   * Pyro4's metadata filters.
   */
  @expose
  @params('prefix', 'regex', 'return_metadata', 'metadata_all', 'metadata_any')
  list(
    prefix: unknown = null,
    regex: unknown = null,
    return_metadata: unknown = false,
    metadata_all: unknown = null,
    metadata_any: unknown = null,
  ): MaybePromise<NameListing> {
    let filters = 0;
    for (const f of [prefix, regex, metadata_all, metadata_any]) if (f !== null && f !== undefined) filters++;
    if (filters > 1) throw new RangeError('you can only filter on one thing at a time');
    const withMetadata = truthy(return_metadata);
    if (truthy(prefix)) {
      checkText(prefix, 'prefix');
      return andThen(this.storage.list({ prefix }, { withMetadata }), (r) => shape(r, withMetadata));
    }
    if (truthy(regex)) {
      checkText(regex, 'regex');
      return andThen(this.#matching(regex, withMetadata), (r) => shape(r, withMetadata));
    }
    if (truthy(metadata_all))
      return this.#byMetadata('metadataAll', metadata_all, 'metadata_all', withMetadata);
    if (truthy(metadata_any))
      return this.#byMetadata('metadataAny', metadata_any, 'metadata_any', withMetadata);
    return andThen(this.storage.list(undefined, { withMetadata }), (r) => shape(r, withMetadata));
  }

  /**
   * Yellow-pages lookup: registrations carrying all (`meta_all`) or any (`meta_any`) of the tags, as
   * `{name: [uri, tags]}` (or `{name: uri}` without `return_metadata`). Neither given: `{}`.
   */
  @expose
  @params('meta_all', 'meta_any', 'return_metadata')
  yplookup(
    meta_all: unknown = null,
    meta_any: unknown = null,
    return_metadata: unknown = true,
  ): MaybePromise<NameListing> {
    if (truthy(meta_all) && truthy(meta_any)) {
      throw new RangeError("you can't use meta_all or meta_any at the same time");
    }
    const withMetadata = truthy(return_metadata);
    if (truthy(meta_all)) return this.#byMetadata('metadataAll', meta_all, 'metadata_all', withMetadata);
    if (truthy(meta_any)) return this.#byMetadata('metadataAny', meta_any, 'metadata_any', withMetadata);
    return {};
  }

  /** Replaces the tags of a registration (null or empty clears them). */
  @expose
  @params('name', 'metadata')
  set_metadata(name: unknown, metadata: unknown): MaybePromise<null> {
    checkName(name);
    const tags = tagsOf(metadata);
    return andThen(this.storage.setMetadata(name, tags ?? []), (ok) => {
      if (!ok) throw new NamingError(`unknown name: ${name}`);
      this.#logger.debug({ name, metadata: tags }, 'metadata set');
      return null;
    });
  }

  /**
   * Removes one name, or every name with a prefix or matching a regex; returns how many were
   * removed. The name server's own registration is never removed.
   */
  @expose
  @params('name', 'prefix', 'regex')
  remove(name: unknown = null, prefix: unknown = null, regex: unknown = null): MaybePromise<number> {
    const many = () => {
      let records: MaybePromise<NameRecord[]> | undefined;
      if (truthy(prefix)) {
        checkText(prefix, 'prefix');
        records = this.storage.list({ prefix });
      } else if (truthy(regex)) {
        checkText(regex, 'regex');
        records = this.#matching(regex, false);
      }
      if (records === undefined) return 0;
      return andThen(records, (rs) =>
        andThen(
          this.storage.deleteMany(rs.map((r) => r.name).filter((n) => n !== NAMESERVER_NAME)),
          (removed) => {
            this.#logger.debug({ prefix, regex, removed }, 'removed');
            return removed;
          },
        ),
      );
    };
    if (truthy(name)) {
      checkName(name);
      if (name !== NAMESERVER_NAME) {
        return andThen(this.storage.delete(name), (deleted) => {
          if (!deleted) return many();
          this.#logger.debug({ name }, 'removed');
          return 1;
        });
      }
    }
    return many();
  }

  /** Number of registrations (the name server's own included). */
  @expose
  count(): MaybePromise<number> {
    return this.storage.count();
  }

  /**
   * Cinder's watch: a stream that yields the uri text of `name` now (null when unregistered), then
   * each time it is registered again (by any replica), and null when it is removed. Only the latest change waits for the reader (older
   * ones are dropped). Ends when the client stops reading or goes away. Needs a storage that can
   * watch (memory or etcd).
   */
  @expose
  @params('name')
  watch(name: unknown): MaybePromise<AsyncIterableIterator<string | null>> {
    checkName(name);
    const storage = this.storage;
    if (!storage.watch) {
      throw new NamingError(
        `watching a name needs a storage that can watch (memory, etcd), not ${storage.kind}`,
      );
    }
    if (this.#watches >= MAX_WATCHES) throw new NamingError(`too many watches (${MAX_WATCHES})`);
    this.#watches++;
    let pending: { value: string | null } | undefined;
    let waiter: ((r: IteratorResult<string | null>) => void) | undefined;
    let done = false;
    let changed = false;
    const end: IteratorResult<string | null> = { done: true, value: undefined };
    let stop: (() => void) | undefined;
    let started: MaybePromise<() => void>;
    try {
      started = storage.watch(name, (uri) => {
        if (done) return;
        changed = true;
        const value = uri ?? null;
        const w = waiter;
        waiter = undefined;
        if (w) w({ done: false, value });
        else pending = { value };
      });
    } catch (err) {
      this.#watches--;
      throw err;
    }
    if (started instanceof Promise)
      started = started.catch((err: unknown) => {
        this.#watches--;
        throw err;
      });
    const finish = () => {
      if (done) return;
      done = true;
      stop?.();
      this.#watches--;
      const w = waiter;
      waiter = undefined;
      w?.(end);
    };
    const it: AsyncIterableIterator<string | null> = {
      next: () => {
        if (done) return Promise.resolve(end);
        const p = pending;
        pending = undefined;
        if (p) return Promise.resolve({ done: false, value: p.value });
        return new Promise((resolve) => {
          waiter = resolve;
        });
      },
      return: () => {
        finish();
        return Promise.resolve(end);
      },
      [Symbol.asyncIterator]: () => it,
    };
    const onStarted = (s: () => void) => {
      stop = s;
      // The stream starts with the current registration (a Cinder client's call completes with the
      // first item, so this also tells it the watch is in place).
      return andThen(this.storage.get(name), (entry) => {
        if (!changed && pending === undefined) pending = { value: entry?.uri ?? null };
        return it;
      });
    };
    return andThen(started, onStarted);
  }

  /** Does nothing: lets a client check that the name server answers. */
  @expose
  ping(): null {
    return null;
  }

  /** Registers the name server itself (not remotely callable: clients cannot replace it). */
  registerSelf(uri: URI, metadata: readonly string[]): MaybePromise<void> {
    if (this.storage.lead !== undefined) {
      this.#self = { uri, metadata };
      return;
    }
    return this.storage.set(NAMESERVER_NAME, uri.toString(), metadata);
  }

  #matching(pattern: string, withMetadata: boolean): MaybePromise<NameRecord[]> {
    const regex = translatePythonRegex(pattern);
    return andThen(this.storage.list(undefined, { withMetadata }), (all) => {
      const names = all.map((r) => r.name);
      return this.#regex.select(regex, names, pattern).map((i) => all[i]!);
    });
  }

  #byMetadata(
    kind: 'metadataAll' | 'metadataAny',
    metadata: unknown,
    what: string,
    withMetadata: boolean,
  ): MaybePromise<NameListing> {
    const tags = tagsOf(metadata, what) ?? [];
    const query: NameQuery = kind === 'metadataAll' ? { metadataAll: tags } : { metadataAny: tags };
    return andThen(this.storage.list(query, { withMetadata }), (r) => shape(r, withMetadata));
  }
}
