// Persistent name storage in SQLite (better-sqlite3, an optional peer dependency loaded only when
// `sql:<file>` storage is asked for). The schema is Pyro's own (`pyro_names`, `pyro_metadata`), so
// a database written by Python Pyro's SqlStorage opens here and the other way round. WAL journal:
// every change is one transaction, so registrations survive a crash of the process at any point.
import { ConfigError, NamingError } from '@cinder/core';
import type { ListOptions, NameEntry, NameQuery, NameRecord, NameStorage } from './storage.js';

// The slice of better-sqlite3's API used here, so the published types need no @types package.
interface Statement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): unknown;
  readonly open: boolean;
}
type DatabaseConstructor = new (file: string, options?: { timeout?: number }) => Database;

export interface SqliteStorageOptions {
  /**
   * `normal` (default): a commit survives a crash of the process; a power loss may lose the last
   * commits but never corrupts the file. `full`: also survives power loss, at an fsync per change.
   */
  synchronous?: 'normal' | 'full';
  /** How long a statement waits for another process holding the database lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pyro_names (
  id integer PRIMARY KEY,
  name nvarchar NOT NULL UNIQUE,
  uri nvarchar NOT NULL
);
CREATE TABLE IF NOT EXISTS pyro_metadata (
  object integer NOT NULL,
  metadata nvarchar NOT NULL,
  FOREIGN KEY(object) REFERENCES pyro_names(id)
);
CREATE INDEX IF NOT EXISTS pyro_metadata_object ON pyro_metadata(object);
CREATE INDEX IF NOT EXISTS pyro_metadata_tag ON pyro_metadata(metadata);
`;

// One query per listing: each row brings its tags along as a JSON array instead of a query per row.
const ROW = `SELECT n.name AS name, n.uri AS uri`;
const ROW_META = `SELECT n.name AS name, n.uri AS uri,
  (SELECT json_group_array(m.metadata) FROM pyro_metadata m WHERE m.object = n.id) AS meta`;
const ANY_TAG = `n.id IN (SELECT object FROM pyro_metadata WHERE metadata IN (SELECT value FROM json_each(?)))`;
const ALL_TAGS = `n.id IN (SELECT object FROM pyro_metadata WHERE metadata IN (SELECT value FROM json_each(?))
  GROUP BY object HAVING count(DISTINCT metadata) = ?)`;

interface Row {
  name: string;
  uri: string;
  meta?: string;
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** GLOB pattern for "starts with prefix": case-sensitive (unlike LIKE) and able to use the name index. */
function globPrefix(prefix: string): string {
  return `${prefix.replace(/[*?[]/g, (c) => `[${c}]`)}*`;
}

function parseTags(json: string | undefined): readonly string[] {
  if (json === undefined || json === '[]') return NO_TAGS;
  return JSON.parse(json) as string[];
}

async function loadDriver(): Promise<DatabaseConstructor> {
  try {
    const mod = (await import('better-sqlite3')) as unknown as { default: DatabaseConstructor };
    return mod.default;
  } catch (err) {
    throw new ConfigError(
      'sql: storage needs the optional dependency better-sqlite3 (npm install better-sqlite3@12)',
      { cause: err },
    );
  }
}

/** Opens (creating when needed) a SQLite name store in `file`. */
export async function openSqliteStorage(
  file: string,
  options: SqliteStorageOptions = {},
): Promise<SqliteStorage> {
  if (typeof file !== 'string' || file === '') throw new ConfigError('sql: storage needs a file name');
  if (file === ':memory:') {
    throw new ConfigError("sql:':memory:' is not supported: use the default memory storage instead");
  }
  const Driver = await loadDriver();
  let db: Database;
  try {
    db = new Driver(file, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw new NamingError(
      `cannot open name server database ${JSON.stringify(file)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    return new SqliteStorage(db, file);
  } catch (err) {
    db.close();
    throw new NamingError(
      `cannot use name server database ${JSON.stringify(file)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** SQLite storage; make one with `openSqliteStorage`. */
export class SqliteStorage implements NameStorage {
  readonly kind = 'sql';
  readonly file: string;
  readonly #db: Database;
  readonly #getName: Statement;
  readonly #exists: Statement;
  readonly #idOf: Statement;
  readonly #insertName: Statement;
  readonly #insertTag: Statement;
  readonly #deleteTags: Statement;
  readonly #deleteName: Statement;
  readonly #count: Statement;
  readonly #set: (name: string, uri: string, tags: readonly string[]) => void;
  readonly #setMetadata: (name: string, tags: readonly string[]) => boolean;
  readonly #deleteMany: (names: readonly string[]) => number;
  readonly #lists = new Map<string, Statement>();

  /** @internal use openSqliteStorage */
  constructor(db: Database, file: string) {
    this.#db = db;
    this.file = file;
    this.#getName = db.prepare(`${ROW_META} FROM pyro_names n WHERE n.name = ?`);
    this.#exists = db.prepare('SELECT 1 AS x FROM pyro_names WHERE name = ?');
    this.#idOf = db.prepare('SELECT id FROM pyro_names WHERE name = ?');
    this.#insertName = db.prepare('INSERT INTO pyro_names(name, uri) VALUES (?, ?)');
    this.#insertTag = db.prepare('INSERT INTO pyro_metadata(object, metadata) VALUES (?, ?)');
    this.#deleteTags = db.prepare('DELETE FROM pyro_metadata WHERE object = ?');
    this.#deleteName = db.prepare('DELETE FROM pyro_names WHERE id = ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM pyro_names');
    const remove = (name: string): boolean => {
      const row = this.#idOf.get(name) as { id: number } | undefined;
      if (!row) return false;
      this.#deleteTags.run(row.id);
      this.#deleteName.run(row.id);
      return true;
    };
    const addTags = (id: number | bigint, tags: readonly string[]) => {
      for (const tag of tags) this.#insertTag.run(id, tag);
    };
    // Like Pyro, a replaced registration is deleted and inserted again (it moves to the end).
    this.#set = db.transaction((name: string, uri: string, tags: readonly string[]) => {
      remove(name);
      addTags(this.#insertName.run(name, uri).lastInsertRowid, tags);
    });
    this.#setMetadata = db.transaction((name: string, tags: readonly string[]) => {
      const row = this.#idOf.get(name) as { id: number } | undefined;
      if (!row) return false;
      this.#deleteTags.run(row.id);
      addTags(row.id, tags);
      return true;
    });
    this.#deleteMany = db.transaction((names: readonly string[]) => {
      let n = 0;
      for (const name of names) if (remove(name)) n++;
      return n;
    });
  }

  get(name: string): NameEntry | undefined {
    return this.#run('get', () => {
      const row = this.#getName.get(name) as Row | undefined;
      return row ? { uri: row.uri, metadata: new Set(parseTags(row.meta)) } : undefined;
    });
  }

  has(name: string): boolean {
    return this.#run('has', () => this.#exists.get(name) !== undefined);
  }

  set(name: string, uri: string, metadata: Iterable<string>): void {
    const tags = [...new Set(metadata)];
    this.#run('set', () => this.#set(name, uri, tags));
  }

  setMetadata(name: string, metadata: Iterable<string>): boolean {
    const tags = [...new Set(metadata)];
    return this.#run('setMetadata', () => this.#setMetadata(name, tags));
  }

  delete(name: string): boolean {
    return this.#run('delete', () => this.#deleteMany([name]) === 1);
  }

  deleteMany(names: Iterable<string>): number {
    const list = [...names];
    return this.#run('deleteMany', () => this.#deleteMany(list));
  }

  count(): number {
    return this.#run('count', () => (this.#count.get() as { n: number }).n);
  }

  list(query?: NameQuery, options?: ListOptions): NameRecord[] {
    const withMetadata = options?.withMetadata === true;
    return this.#run('list', () => {
      let where = '';
      let params: unknown[] = [];
      if (query !== undefined) {
        if ('prefix' in query) {
          where = 'WHERE n.name GLOB ?';
          params = [globPrefix(query.prefix)];
        } else if ('metadataAny' in query) {
          where = `WHERE ${ANY_TAG}`;
          params = [JSON.stringify([...new Set(query.metadataAny)])];
        } else {
          const tags = [...new Set(query.metadataAll)];
          if (tags.length === 0) return [];
          where = `WHERE ${ALL_TAGS}`;
          params = [JSON.stringify(tags), tags.length];
        }
      }
      const sql = `${withMetadata ? ROW_META : ROW} FROM pyro_names n ${where} ORDER BY n.id`;
      let stmt = this.#lists.get(sql);
      if (!stmt) this.#lists.set(sql, (stmt = this.#db.prepare(sql)));
      const rows = stmt.all(...params) as Row[];
      return rows.map((r) => ({
        name: r.name,
        uri: r.uri,
        metadata: withMetadata ? parseTags(r.meta) : NO_TAGS,
      }));
    });
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Runs one storage operation; database failures become NamingErrors, as in Pyro. */
  #run<T>(what: string, fn: () => T): T {
    if (!this.#db.open) throw new NamingError('name storage is closed');
    try {
      return fn();
    } catch (err) {
      if (err instanceof NamingError) throw err;
      throw new NamingError(`sqlite error in ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
}
