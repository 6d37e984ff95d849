// Where the name server keeps its registrations: the NameStorage interface and the default
// in-memory backend. The built-in local backends (memory, SQLite through better-sqlite3) answer
// synchronously, and the name server then answers a lookup — the hot path — without a promise; a
// remote backend (etcd) returns promises instead, which the name server awaits.
import { NamingError } from '@cinder/core';

/** A value, or a promise of it: what a storage method returns (local backends answer at once). */
export type MaybePromise<T> = T | Promise<T>;

/** One registration as stored: the URI text and its metadata tags. */
export interface NameEntry {
  readonly uri: string;
  readonly metadata: ReadonlySet<string>;
}

/** One row of a listing. `metadata` is empty when the listing was made without metadata. */
export interface NameRecord {
  readonly name: string;
  readonly uri: string;
  readonly metadata: readonly string[];
}

/** What a listing selects. Regexes are applied by the name server (under a time limit), not here. */
export type NameQuery =
  | { readonly prefix: string }
  /** Registrations carrying every one of these tags. */
  | { readonly metadataAll: readonly string[] }
  /** Registrations carrying at least one of these tags. */
  | { readonly metadataAny: readonly string[] };

export interface ListOptions {
  /** Fill in `metadata` (costs an extra lookup per row in SQL storage). Default false. */
  withMetadata?: boolean;
}

/** Options of a registration in a storage with leases. */
export interface SetOptions {
  /** The lease (from grantLease) the registration lives on: it disappears when the lease ends. */
  lease?: string;
}

/**
 * A name server's storage. Every change is atomic (a backend that needs several statements for
 * one change runs them in one transaction). Names are unique; an empty metadata set means "no
 * metadata". Methods answer synchronously or with a promise (MaybePromise); the optional members
 * are what a shared store (etcd) adds: atomic safe registration, leases, and leadership.
 */
export interface NameStorage {
  /** `memory`, `sql`, `etcd`, or a custom backend's name (for logs). */
  readonly kind: string;
  get(name: string): MaybePromise<NameEntry | undefined>;
  has(name: string): MaybePromise<boolean>;
  /** Adds or replaces a registration. */
  set(name: string, uri: string, metadata: Iterable<string>, options?: SetOptions): MaybePromise<void>;
  /** Adds a registration only if the name is free, atomically; false when it is taken. */
  add?(name: string, uri: string, metadata: Iterable<string>, options?: SetOptions): MaybePromise<boolean>;
  /** Replaces the metadata of a registration; false when the name is unknown. */
  setMetadata(name: string, metadata: Iterable<string>): MaybePromise<boolean>;
  /** Removes one registration; false when the name is unknown. */
  delete(name: string): MaybePromise<boolean>;
  /** Removes a registration only while it still holds `uri` (atomically); false otherwise. */
  deleteIf?(name: string, uri: string): MaybePromise<boolean>;
  /** Removes every given name that exists (one transaction); returns how many were removed. */
  deleteMany(names: Iterable<string>): MaybePromise<number>;
  count(): MaybePromise<number>;
  /**
   * Registrations, all of them or those the query selects, in registration order (a replaced
   * registration counts as new; changing only its metadata keeps its place), as Pyro lists them.
   */
  list(query?: NameQuery, options?: ListOptions): MaybePromise<NameRecord[]>;
  /** Starts a lease of `ttlMs` (rounded up to whole seconds by etcd); resolves with its id. */
  grantLease?(ttlMs: number): Promise<string>;
  /** Renews a lease; false when it has ended (its registrations are gone then). */
  renewLease?(lease: string): Promise<boolean>;
  /** Ends a lease now, removing its registrations. */
  revokeLease?(lease: string): Promise<void>;
  /**
   * Campaigns for `role` among every process sharing the store: `onChange(true)` once this one
   * leads, `onChange(false)` when it lost the lead. Exactly one campaigner leads at a time; when it
   * dies, another takes over within the session's time to live. Resolves with a function that
   * resigns.
   */
  lead?(role: string, onChange: (leading: boolean) => void): Promise<() => Promise<void>>;
  /**
   * Calls `onChange` whenever the registration of `name` changes in the store — also through another
   * replica — with its uri, or undefined once it is removed. Resolves, once watching, with a
   * function that stops.
   */
  watch?(name: string, onChange: (uri: string | undefined) => void): MaybePromise<() => void>;
  /** Releases the backend (closes the database or connection). Further calls fail. */
  close(): MaybePromise<void>;
}

/** Applies `f` to a value that may be a promise, without a promise when it is not. */
export function andThen<T, R>(value: MaybePromise<T>, f: (value: T) => R): R | Promise<Awaited<R>> {
  return value instanceof Promise ? (value.then(f) as Promise<Awaited<R>>) : f(value);
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** An entry plus its registration number, which orders the results of indexed queries. */
interface Stored extends NameEntry {
  readonly seq: number;
}

function bySeq(a: [string, Stored], b: [string, Stored]): number {
  return a[1].seq - b[1].seq;
}

const EMPTY_SET: ReadonlySet<string> = new Set<string>();

function tagSet(metadata: Iterable<string>): ReadonlySet<string> {
  const set = new Set(metadata);
  return set.size === 0 ? EMPTY_SET : set;
}

/**
 * The default storage: a Map, plus an index from tag to names so metadata queries do not scan
 * every registration. Forgets everything when the process ends (Pyro's MemoryStorage).
 */
export class MemoryStorage implements NameStorage {
  readonly kind = 'memory';
  readonly #entries = new Map<string, Stored>();
  readonly #byTag = new Map<string, Set<string>>();
  readonly #watchers = new Map<string, Set<(uri: string | undefined) => void>>();
  #seq = 0;
  #closed = false;

  get(name: string): NameEntry | undefined {
    this.#check();
    return this.#entries.get(name);
  }

  has(name: string): boolean {
    this.#check();
    return this.#entries.has(name);
  }

  set(name: string, uri: string, metadata: Iterable<string>): void {
    this.#check();
    const entry = { uri, metadata: tagSet(metadata), seq: this.#seq++ };
    const old = this.#entries.get(name);
    if (old) {
      this.#unindex(name, old.metadata);
      // Replacing moves the name to the end, like deleting and inserting a row.
      this.#entries.delete(name);
    }
    this.#entries.set(name, entry);
    this.#index(name, entry.metadata);
    this.#notify(name, uri);
  }

  setMetadata(name: string, metadata: Iterable<string>): boolean {
    this.#check();
    const old = this.#entries.get(name);
    if (!old) return false;
    const tags = tagSet(metadata);
    this.#unindex(name, old.metadata);
    this.#entries.set(name, { uri: old.uri, metadata: tags, seq: old.seq });
    this.#index(name, tags);
    return true;
  }

  delete(name: string): boolean {
    this.#check();
    const old = this.#entries.get(name);
    if (!old) return false;
    this.#unindex(name, old.metadata);
    this.#entries.delete(name);
    this.#notify(name, undefined);
    return true;
  }

  deleteMany(names: Iterable<string>): number {
    let n = 0;
    for (const name of names) if (this.delete(name)) n++;
    return n;
  }

  count(): number {
    this.#check();
    return this.#entries.size;
  }

  list(query?: NameQuery, options?: ListOptions): NameRecord[] {
    this.#check();
    const withMetadata = options?.withMetadata === true;
    const out: NameRecord[] = [];
    const push = (name: string, e: NameEntry) => {
      out.push({
        name,
        uri: e.uri,
        metadata: withMetadata && e.metadata.size > 0 ? [...e.metadata] : NO_TAGS,
      });
    };
    if (query === undefined) {
      for (const [name, e] of this.#entries) push(name, e);
    } else if ('prefix' in query) {
      for (const [name, e] of this.#entries) if (name.startsWith(query.prefix)) push(name, e);
    } else {
      // Indexed: only the names carrying the tags are visited, then put in registration order.
      const hits: [string, Stored][] = [];
      if ('metadataAny' in query) {
        const seen = new Set<string>();
        for (const tag of query.metadataAny) {
          for (const name of this.#byTag.get(tag) ?? NO_TAGS) {
            if (seen.has(name)) continue;
            seen.add(name);
            hits.push([name, this.#entries.get(name)!]);
          }
        }
      } else {
        const tags = [...new Set(query.metadataAll)];
        // Only the names of the rarest tag can qualify: a query costs its matches, not the registry.
        let rarest: Set<string> | undefined;
        for (const tag of tags) {
          const names = this.#byTag.get(tag);
          if (!names) return out;
          if (!rarest || names.size < rarest.size) rarest = names;
        }
        for (const name of rarest ?? NO_TAGS) {
          const e = this.#entries.get(name)!;
          if (tags.every((t) => e.metadata.has(t))) hits.push([name, e]);
        }
      }
      hits.sort(bySeq);
      for (const [name, e] of hits) push(name, e);
    }
    return out;
  }

  watch(name: string, onChange: (uri: string | undefined) => void): () => void {
    this.#check();
    let set = this.#watchers.get(name);
    if (!set) this.#watchers.set(name, (set = new Set()));
    const listener = (uri: string | undefined) => onChange(uri);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(name) === set) this.#watchers.delete(name);
    };
  }

  close(): void {
    this.#closed = true;
    this.#watchers.clear();
  }

  #notify(name: string, uri: string | undefined): void {
    const set = this.#watchers.get(name);
    if (set) for (const listener of [...set]) listener(uri);
  }

  #check(): void {
    if (this.#closed) throw new NamingError('name storage is closed');
  }

  #index(name: string, tags: ReadonlySet<string>): void {
    for (const tag of tags) {
      let names = this.#byTag.get(tag);
      if (!names) this.#byTag.set(tag, (names = new Set()));
      names.add(name);
    }
  }

  #unindex(name: string, tags: ReadonlySet<string>): void {
    for (const tag of tags) {
      const names = this.#byTag.get(tag);
      if (!names) continue;
      names.delete(name);
      if (names.size === 0) this.#byTag.delete(tag);
    }
  }
}
