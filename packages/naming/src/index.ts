/**
 * The Cinder name server (the `Pyro.NameServer` object, storage backends, broadcast discovery,
 * auto-clean, `startNameServer()`) and its client side (`locateNS()`).
 *
 * @module @cinder/naming
 */
// Public surface of @cinder/naming: the name server (object, storage backends, broadcast responder,
// auto-cleaner, one-call start) and the client side (locating a name server, a typed client).

export { broadcastLocate, locateNameServer, resolveUri } from '@cinder/proxy';
export { AutoCleaner, type AutoCleanOptions, type SweepResult } from './autoclean.js';
export { BroadcastResponder, type BroadcastResponderOptions } from './broadcast.js';
export {
  connectNameServer,
  followName,
  type ListFilter,
  type LocateNSOptions,
  locateNS,
  type NameServerApi,
  NameServerClient,
  type NameServerProxy,
  type Registration,
  type TtlRegistration,
} from './client.js';
export { EtcdStorage, type EtcdStorageOptions, openEtcdStorage, parseEtcdSpec } from './etcd-storage.js';
export { type NameListing, NameServer, type NameServerInit } from './name-server.js';
export { translatePythonRegex } from './python-regex.js';
export { openSqliteStorage, SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';
export {
  NAMESERVER_TAGS,
  type RunningNameServer,
  type StartNameServerOptions,
  startNameServer,
} from './start.js';
export {
  type ListOptions,
  type MaybePromise,
  MemoryStorage,
  type NameEntry,
  type NameQuery,
  type NameRecord,
  type NameStorage,
  type SetOptions,
} from './storage.js';
export { type EtcdConnectOptions, etcdOptionsFromConfig, openStorage } from './storage-spec.js';
