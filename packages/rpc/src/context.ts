// The per-call context a served method can read (Pyro's `current_context`): who is calling, the
// correlation id, annotations in and out, a cancellation signal, and resources tied to the
// connection. Carried by AsyncLocalStorage so it follows the method through its awaits and into
// nested Cinder calls (which forward the correlation id).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PeerCertificate } from '@cinder/transport';

/** Something with a `close()` that must run when the client's connection ends. */
export interface Resource {
  close(): unknown;
}

export interface CallContext {
  /** The caller's address (`host:port`, `[v6]:port` or the Unix socket path). */
  readonly client: string;
  readonly connectionId: number;
  readonly protocolVersion: 502 | 48 | undefined;
  readonly peerCertificate: PeerCertificate | null;
  /** 16 bytes: the caller's correlation id, or one the daemon made for this call. */
  readonly correlationId: Uint8Array | null;
  readonly seq: number;
  readonly serializer: string;
  readonly objectId: string;
  readonly method: string;
  /** Annotations the caller sent. */
  readonly annotations: ReadonlyMap<string, Uint8Array>;
  /** Annotations to send back with the reply (4-character ids). */
  readonly responseAnnotations: Map<string, Uint8Array>;
  /** Aborted when the caller cancels the call or disconnects. */
  readonly signal: AbortSignal;
  /** Closes `resource` when the client's connection ends (Pyro's `track_resource`). */
  trackResource(resource: Resource): void;
  untrackResource(resource: Resource): void;
}

export const callContextStorage: AsyncLocalStorage<CallContext> = new AsyncLocalStorage<CallContext>();

/** The context of the remote call being served, or undefined outside a served call. */
export function currentContext(): CallContext | undefined {
  return callContextStorage.getStore();
}

/** The correlation id of the call being served, if any (forwarded by nested calls). */
export function currentCorrelationId(): Uint8Array | null {
  return callContextStorage.getStore()?.correlationId ?? null;
}
