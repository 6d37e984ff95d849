// Shared types and well-known names used across Cinder's packages.

/** Options every asynchronous Cinder API accepts. */
export interface CallOptions {
  /** Cancels the operation; it rejects with an AbortedError carrying the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Rejects the operation with a TimeoutError after this many milliseconds (0 or absent = none). */
  timeoutMs?: number | undefined;
}

/** What a daemon tells a client about an object (Pyro's `get_metadata` result). */
export interface ObjectMetadata {
  methods: string[];
  oneway: string[];
  attrs: string[];
}

/** The serializer id Pyro puts on PING messages (no serializer is involved). */
export const PING_SERIALIZER_ID = 42;

/** The longest delay Node's timers take (2^31-1 ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The object id of the daemon's built-in object. */
export const DAEMON_NAME = 'Pyro.Daemon';
/** The object id and name of the name server. */
export const NAMESERVER_NAME = 'Pyro.NameServer';
