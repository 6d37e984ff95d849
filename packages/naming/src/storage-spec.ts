// Storage specs as Pyro's name server takes them on its command line — `memory` or `sql:<file>` —
// plus Cinder's `etcd://host:port[,host:port…]/prefix`.
import { readFileSync } from 'node:fs';
import { type CinderConfig, ConfigError } from '@cinder/core';
import { type EtcdStorageOptions, openEtcdStorage, parseEtcdSpec } from './etcd-storage.js';
import { openSqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';
import { MemoryStorage, type NameStorage } from './storage.js';

/** Options of `etcd://` storage besides what the spec says (TLS, user, time limits). */
export type EtcdConnectOptions = Omit<EtcdStorageOptions, 'endpoints' | 'prefix'>;

/**
 * Opens the storage a spec names: `memory` (default), `sql:<file>` (SQLite, created when missing)
 * or `etcd://host:port[,host:port…][/prefix]` (shared by every replica using the same prefix).
 * Anything else is a ConfigError.
 */
export async function openStorage(
  spec = 'memory',
  options: SqliteStorageOptions = {},
  etcd: EtcdConnectOptions = {},
): Promise<NameStorage> {
  if (spec === 'memory') return new MemoryStorage();
  if (spec.startsWith('sql:') && spec.length > 4) return openSqliteStorage(spec.slice(4), options);
  if (spec.startsWith('etcd://')) return openEtcdStorage({ ...etcd, ...parseEtcdSpec(spec) });
  throw new ConfigError(
    `invalid storage type '${spec}' (expected memory, sql:<file> or etcd://host:port[,host:port…]/prefix)`,
  );
}

/** etcd connection options from the config's nsEtcd* items (reads the PEM files they name). */
export function etcdOptionsFromConfig(config: CinderConfig): EtcdConnectOptions {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const out: EtcdConnectOptions = {};
  if (config.nsEtcdCaCerts !== '') {
    out.tls = {
      ca: read(config.nsEtcdCaCerts, 'nsEtcdCaCerts'),
      ...(config.nsEtcdCert !== '' ? { cert: read(config.nsEtcdCert, 'nsEtcdCert') } : {}),
      ...(config.nsEtcdKey !== '' ? { key: read(config.nsEtcdKey, 'nsEtcdKey') } : {}),
    };
  } else if (config.nsEtcdCert !== '' || config.nsEtcdKey !== '') {
    throw new ConfigError('nsEtcdCert and nsEtcdKey need nsEtcdCaCerts (TLS to etcd)');
  }
  if (config.nsEtcdUser !== '') {
    out.username = config.nsEtcdUser;
    out.password = config.nsEtcdPassword;
  }
  return out;
}
