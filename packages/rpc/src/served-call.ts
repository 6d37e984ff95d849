// One incoming call while it is served: the call context user code sees (lazy: most calls never
// look at it), its cancellation, and what the session needs to answer it.
import { AbortedError } from '@cinder/core';
import type { Message } from '@cinder/protocol';
import type { CallEnvelope, Serializer } from '@cinder/serializers';
import type { CallContext, Resource } from './context.js';
import type { Session } from './session.js';
import type { IncomingCall } from './session-types.js';
import { newCorrelationId } from './wire-messages.js';

const EMPTY_MAP: ReadonlyMap<string, Uint8Array> = new Map();

const NO_CALL: CallEnvelope = Object.freeze({
  object: '',
  method: '',
  params: [],
  kwargs: null,
}) as CallEnvelope;

export class ServedCall implements CallContext, IncomingCall {
  call: CallEnvelope = NO_CALL;
  aborted = false;
  /** @internal the session's list of calls being served (IncomingCalls). */
  prevActive: ServedCall | null = null;
  /** @internal */
  nextActive: ServedCall | null = null;
  #corr: Uint8Array | null | undefined;
  #controller: AbortController | undefined;
  #responseAnns: Map<string, Uint8Array> | undefined;

  constructor(
    private readonly session: Session,
    readonly message: Message,
    readonly codec: Serializer,
    readonly oneway: boolean,
    readonly ordered: boolean,
  ) {}

  get context(): CallContext {
    return this;
  }

  get client(): string {
    return this.session.connection.remoteAddress;
  }

  get connectionId(): number {
    return this.session.connection.id;
  }

  get protocolVersion(): 502 | 48 | undefined {
    return this.session.connection.protocolVersion;
  }

  get seq(): number {
    return this.message.seq;
  }

  get serializer(): string {
    return this.codec.name;
  }

  get objectId(): string {
    return this.call.object;
  }

  get method(): string {
    return this.call.method;
  }

  /** The caller's correlation id, or one made for this call when first asked for (Pyro's rule). */
  get correlationId(): Uint8Array {
    if (this.#corr == null) this.#corr = this.message.correlationId ?? newCorrelationId();
    return this.#corr;
  }

  /**
   * The id the reply carries: the caller's or the one made for this call; a Pyro peer always gets
   * one (Pyro5 sends one with every reply), a Cinder peer only when there is one.
   */
  replyCorrelationId(): Uint8Array | null {
    if (this.#corr != null) return this.#corr;
    const own = this.message.correlationId;
    if (own !== null) return own;
    return this.session.capabilities === 0 ? this.correlationId : null;
  }

  get peerCertificate() {
    return this.session.connection.peerCertificate();
  }

  get annotations(): ReadonlyMap<string, Uint8Array> {
    return this.message.annotations ?? EMPTY_MAP;
  }

  get responseAnnotations(): Map<string, Uint8Array> {
    this.#responseAnns ??= new Map();
    return this.#responseAnns;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted)
        this.#controller.abort(new AbortedError(`call ${this.method} was cancelled by the caller`));
    }
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#controller?.abort(reason);
  }

  takeResponseAnnotations(): Map<string, Uint8Array> | null {
    const anns = this.#responseAnns;
    return anns !== undefined && anns.size > 0 ? anns : null;
  }

  trackResource(resource: Resource): void {
    this.session.trackResource(resource);
  }

  untrackResource(resource: Resource): void {
    this.session.untrackResource(resource);
  }
}
