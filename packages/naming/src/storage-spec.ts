// Storage specs as Pyro's name server takes them on its command line: `memory` or `sql:<file>`.
import { ConfigError } from '@cinder/core';
import { openSqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';
import { MemoryStorage, type NameStorage } from './storage.js';

/**
 * Opens the storage a spec names: `memory` (default) or `sql:<file>` (SQLite, created when
 * missing). Anything else is a ConfigError.
 */
export async function openStorage(spec = 'memory', options: SqliteStorageOptions = {}): Promise<NameStorage> {
  if (spec === 'memory') return new MemoryStorage();
  if (spec.startsWith('sql:') && spec.length > 4) return openSqliteStorage(spec.slice(4), options);
  throw new ConfigError(`invalid storage type '${spec}' (expected memory or sql:<file>)`);
}
