// The RPC engine over one framed connection, used by both ends: it sends calls and matches their
// replies (one at a time with a Pyro peer, many in flight when both ends are Cinder), and it serves
// incoming calls (the daemon's objects; a client's callbacks) with the per-call context, ordering,
// concurrency limits and Pyro's reply conventions. Handshake messages are handed to the owner.
import { randomFillSync } from 'node:crypto';
import {
  AbortedError,
  type CallOptions,
  ConnectionClosedError,
  type Logger,
  ProtocolError,
  RemoteError,
  SerializeError,
  TimeoutError,
} from '@cinder/core';
import { type Annotations, Flags, type Message, MsgType, wholePayload } from '@cinder/protocol';
import type { CallEnvelope, CodecHooks, Serializer } from '@cinder/serializers';
import type { Connection } from '@cinder/transport';
import { Capability } from './capabilities.js';
import { type CallContext, callContextStorage, currentCorrelationId, type Resource } from './context.js';
import {
  CANCEL_CALL,
  PUSH_END,
  PUSH_ITEM,
  PushStream,
  PushStreamReply,
  readCredit,
  readSeq,
  STREAM_CLOSE,
  STREAM_CREDIT,
  seqBytes,
} from './push-stream.js';
import { StreamStart } from './streams.js';

/** Per-message authentication (shared-key sessions): signs what is sent, verifies what is read. */
export interface MessageSigner {
  sign(message: Message): void;
  verify(message: Message): void;
}

/** Looks serializers up by their (Pyro5-numbered) id. */
export interface SerializerLookup {
  byId(id: number): Serializer | undefined;
}

/** What a session knows about an incoming call while serving it. */
export interface IncomingCall {
  readonly message: Message;
  readonly call: CallEnvelope;
  /** The serializer of the request (the reply uses it too). */
  readonly codec: Serializer;
  readonly context: CallContext;
}

/** Serves incoming calls. `dispatch` returns the result (or a promise of it) or throws. */
export interface CallServer {
  dispatch(incoming: IncomingCall): unknown;
  /** Codec hooks for decoding arguments and encoding results on this connection. */
  hooks?: CodecHooks | undefined;
}

export interface SessionInit {
  connection: Connection;
  serializers: SerializerLookup;
  logger: Logger;
  /** Serve incoming INVOKEs (absent: incoming calls are refused). */
  server?: CallServer;
  /** Codec hooks for outgoing calls and their results. */
  hooks?: CodecHooks;
  /** Incoming calls served at once before reading pauses (multiplexed connections). */
  maxConcurrentCalls?: number;
  /** Handshake messages (CONNECT, CONNECTOK, CONNECTFAIL) go here. */
  onControl?(message: Message): void;
  /** An incoming message the session cannot handle (unknown serializer id…): the owner decides. */
  onBadMessage?(message: Message, error: Error): void;
  /** Called once when the session ends. */
  onClose?(error: Error | undefined): void;
  /** Turns a Pyro stream start (ITEMSTREAMRESULT reply) into what the caller gets (a pull stream). */
  makeStream?(start: StreamStart): unknown;
}

export interface OutgoingCall extends CallOptions {
  serializer: Serializer;
  flags?: number;
  annotations?: Annotations | null;
  correlationId?: Uint8Array | null;
  /** Receives the reply's annotations (if any) before the promise settles. */
  onReplyAnnotations?: (annotations: Annotations) => void;
  /** Resolve with the raw RESULT message instead of the decoded value. */
  raw?: boolean;
}

/** A reply to an outgoing call, decoded. */
export interface CallReply {
  readonly value: unknown;
  readonly message: Message;
}

interface Pending {
  seq: number;
  readonly what: string;
  serializerId: number;
  /** Decodes the reply with this serializer before resolving (absent: resolve the raw message). */
  serializer: Serializer | undefined;
  onReplyAnnotations: ((annotations: Annotations) => void) | undefined;
  readonly resolve: (reply: any) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  abortCleanup: (() => void) | undefined;
}

interface Queued {
  send(): void;
  reject(err: Error): void;
  readonly what: string;
}

// Errors of calls that provably never reached the wire: a reconnecting proxy may retry them even
// when they are not idempotent.
const unsent = new WeakSet<Error>();
function notSent(err: Error): Error {
  unsent.add(err);
  return err;
}

/** True when the call that failed with `err` was never sent to the peer (safe to retry). */
export function wasNotSent(err: unknown): boolean {
  return err instanceof Error && unsent.has(err);
}

const PONG = Buffer.from('pong');

/** Pyro's answer to a PING: same seq and serializer id, payload `pong`, a correlation id. */
export function pongFor(ping: Message): Message {
  return {
    type: MsgType.PING,
    flags: Flags.CORR_ID,
    seq: ping.seq,
    serializerId: ping.serializerId,
    correlationId: ping.correlationId ?? newCorrelationId(),
    annotations: null,
    payload: PONG,
  };
}

/**
 * Returned by a CallServer to shape the reply itself: extra flags (e.g. ITEMSTREAMRESULT), extra
 * annotations, and a value that is sent as an exception when `exception` is set.
 */
export class SpecialReply {
  constructor(
    readonly flags: number,
    readonly value: unknown,
    readonly annotations: ReadonlyMap<string, Uint8Array> | null = null,
    readonly exception = false,
  ) {}
}
const EMPTY_MAP: ReadonlyMap<string, Uint8Array> = new Map();
const EMPTY_PAYLOAD = new Uint8Array(0);

interface PushState {
  credit: number;
  closed: boolean;
  wake: (() => void) | undefined;
}

// Correlation ids for replies to requests that carried none: Pyro5 always sends one. Filling a
// pool of random bytes at once keeps this at a copy per reply.
const CORR_POOL_SIZE = 16 * 512;
let corrPool = Buffer.allocUnsafe(0);
let corrOffset = CORR_POOL_SIZE;
export function newCorrelationId(): Uint8Array {
  if (corrOffset >= corrPool.length) {
    corrPool = randomFillSync(Buffer.allocUnsafe(CORR_POOL_SIZE));
    corrOffset = 0;
  }
  const id = corrPool.subarray(corrOffset, corrOffset + 16);
  corrOffset += 16;
  id[6] = (id[6]! & 0x0f) | 0x40; // uuid4 version and variant bits
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}

const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

function invokeMessage(
  seq: number,
  flags: number,
  serializerId: number,
  correlationId: Uint8Array | null,
  annotations: Annotations | null,
  payload: Uint8Array,
  payloadTail: Uint8Array[] | undefined,
): Message {
  return {
    type: MsgType.INVOKE,
    flags: correlationId ? flags | Flags.CORR_ID : flags,
    seq,
    serializerId,
    correlationId,
    annotations,
    payload,
    payloadTail,
  };
}

/** An outgoing call from encoding to its reply: queued on a Pyro connection, then pending. */
class OutCall implements Pending, Queued {
  seq = -1;
  readonly serializerId: number;
  readonly serializer: Serializer | undefined;
  readonly onReplyAnnotations: ((annotations: Annotations) => void) | undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  abortCleanup: (() => void) | undefined = undefined;

  constructor(
    private readonly session: Session,
    private readonly method: string,
    serializer: Serializer,
    readonly options: OutgoingCall,
    readonly resolve: (reply: any) => void,
    readonly reject: (err: Error) => void,
    readonly flags: number,
    readonly correlationId: Uint8Array | null,
    readonly payload: Uint8Array,
    readonly tail: Uint8Array[] | undefined,
  ) {
    this.serializerId = serializer.id;
    this.serializer = options.raw ? undefined : serializer;
    this.onReplyAnnotations = options.onReplyAnnotations;
  }

  get what(): string {
    return `call ${this.method}`;
  }

  send(): void {
    this.session.start(this);
  }
}

/**
 * One incoming call while it is served: the call context user code sees (lazy: most calls never
 * look at it) and what the session needs to answer it.
 */
class ServedCall implements CallContext, IncomingCall {
  call: CallEnvelope = NO_CALL;
  aborted = false;
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

const NO_CALL: CallEnvelope = Object.freeze({
  object: '',
  method: '',
  params: [],
  kwargs: null,
}) as CallEnvelope;

/** One connection's RPC state, for either end. */
export class Session {
  readonly connection: Connection;
  /** Both ends are Cinder and agreed to pipeline calls (replies matched by seq, in any order). */
  multiplexed = false;
  /** Cinder capabilities both ends agreed on (see `Capability`); 0 with a Pyro peer. */
  capabilities = 0;
  /** Items a pushed stream may send ahead of the consumer. */
  streamCredit = 64;
  /** The serializer the connection was opened with (used for calls back to the peer). */
  defaultSerializer: Serializer | undefined;
  /** Signs every message sent and verifies every message read, once the handshake set it. */
  authenticator: MessageSigner | undefined;
  private readonly serializers: SerializerLookup;
  private readonly logger: Logger;
  private readonly server: CallServer | undefined;
  private readonly hooks: CodecHooks | undefined;
  private readonly maxConcurrent: number;
  private readonly init: SessionInit;
  private readonly pending = new Map<number, Pending>();
  /** Pushed streams this end consumes, by the seq of the call that started them. */
  private readonly incoming = new Map<number, PushStream>();
  /** Pushed streams this end produces, by the seq of the call that returned them. */
  private readonly pushes = new Map<number, PushState>();
  private readonly sendQueue: Queued[] = [];
  private seq = 0;
  private busy = false; // a non-multiplexed call is awaiting its reply
  private running = 0; // incoming calls being served
  private readonly serveQueue: Message[] = []; // non-multiplexed incoming calls waiting their turn
  private readonly backlog: Message[] = []; // multiplexed incoming calls beyond maxConcurrentCalls
  private serving = false;
  private paused = false;
  private readonly active = new Set<ServedCall>();
  private resources: Set<Resource> | undefined;
  private closedError: Error | undefined;
  private closed = false;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(init: SessionInit) {
    this.init = init;
    this.connection = init.connection;
    this.serializers = init.serializers;
    this.logger = init.logger;
    this.server = init.server;
    this.hooks = init.hooks;
    this.maxConcurrent = init.maxConcurrentCalls ?? 256;
    this.connection.setHandler(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sequence number for the next outgoing message (Pyro: incremented before each INVOKE). */
  nextSeq(): number {
    let seq = (this.seq + 1) & 0xffff;
    if (this.multiplexed) while (this.pending.has(seq) || this.incoming.has(seq)) seq = (seq + 1) & 0xffff;
    this.seq = seq;
    return seq;
  }

  get currentSeq(): number {
    return this.seq;
  }

  set currentSeq(seq: number) {
    this.seq = seq & 0xffff;
  }

  /** Number of outgoing calls waiting for a reply. */
  get pendingCount(): number {
    return this.pending.size + this.sendQueue.length;
  }

  /** Every message this session sends goes through here, so signing follows wire order. */
  private out(message: Message): boolean {
    const auth = this.authenticator;
    if (auth !== undefined) {
      // signing adds an annotation: never to a map shared with other messages
      message.annotations = message.annotations ? new Map(message.annotations) : null;
      if (message.payloadTail !== undefined) {
        message.payload = wholePayload(message);
        message.payloadTail = undefined;
      }
      auth.sign(message);
    }
    return this.connection.send(message);
  }

  // ---------------------------------------------------------------------------------------------
  // Connection handler

  onMessage(message: Message): void {
    if (this.authenticator !== undefined) {
      try {
        this.authenticator.verify(message);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    switch (message.type) {
      case MsgType.RESULT:
        this.onReply(message);
        return;
      case MsgType.INVOKE:
        this.onInvoke(message);
        return;
      case MsgType.PING:
        this.onPing(message);
        return;
      default:
        if (this.init.onControl) this.init.onControl(message);
        else this.fail(new ProtocolError(`unexpected message type ${message.type}`));
    }
  }

  onError(error: Error): void {
    this.logger.debug({ err: error, conn: this.connection.id }, 'framing error');
    this.fail(error);
  }

  onClose(error?: Error): void {
    this.shutdown(error);
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing calls

  /**
   * Sends one INVOKE and resolves with the reply message (RESULT), or immediately for oneway
   * calls. With a Pyro peer only one call is on the wire at a time; the rest wait their turn.
   */
  invoke(call: CallEnvelope, options: OutgoingCall): Promise<unknown> {
    if (this.closed) return Promise.reject(notSent(this.closedFor(`call ${call.method}`)));
    const serializer = options.serializer;
    const flags = options.flags ?? 0;
    const oneway = (flags & Flags.ONEWAY) !== 0;
    let payload: Uint8Array;
    let tail: Uint8Array[] | undefined;
    try {
      // Large byte strings are sent from the caller's buffer (not for oneway calls, whose caller
      // may reuse the buffer before it is written, nor for Pyro4 peers).
      if (!oneway && serializer.encodeCallParts !== undefined && this.connection.protocolVersion !== 48) {
        const parts = serializer.encodeCallParts(call, this.hooks);
        payload = parts[0] as Uint8Array;
        if (parts.length > 1) tail = parts.slice(1);
      } else {
        payload = serializer.encodeCall(call, this.hooks);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const correlationId =
      options.correlationId !== undefined ? options.correlationId : currentCorrelationId();
    if (oneway) {
      try {
        this.out(
          invokeMessage(
            this.nextSeq(),
            flags,
            serializer.id,
            correlationId,
            options.annotations ?? null,
            payload,
            tail,
          ),
        );
      } catch (err) {
        return Promise.reject(err);
      }
      return RESOLVED;
    }
    return new Promise<unknown>((resolve, reject) => {
      const p = new OutCall(
        this,
        call.method,
        serializer,
        options,
        resolve,
        reject,
        flags,
        correlationId,
        payload,
        tail,
      );
      if (!this.multiplexed && this.busy) this.sendQueue.push(p);
      else this.start(p);
    });
  }

  /** @internal puts a call on the wire (now, or when its turn comes on a Pyro connection). */
  start(p: OutCall): void {
    const options = p.options;
    const signal = options.signal;
    if (signal?.aborted) {
      p.reject(notSent(new AbortedError(`${p.what} was aborted`, { cause: signal.reason })));
      this.releaseTurn();
      return;
    }
    p.seq = this.nextSeq();
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      p.timer = setTimeout(
        () => this.expire(p, new TimeoutError(`${p.what} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    if (signal) {
      const onAbort = () =>
        this.expire(p, new AbortedError(`${p.what} was aborted`, { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      p.abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.pending.set(p.seq, p);
    if (!this.multiplexed) this.busy = true;
    if (this.paused) this.resumeReading();
    try {
      this.out(
        invokeMessage(
          p.seq,
          p.flags,
          p.serializerId,
          p.correlationId,
          options.annotations ?? null,
          p.payload,
          p.tail,
        ),
      );
    } catch (err) {
      this.settle(p);
      p.reject(notSent(err as Error));
    }
  }

  /** Decodes a reply: resolves the value, or throws the remote exception. */
  decodeReply(reply: Message, serializer: Serializer): unknown {
    if (reply.serializerId !== serializer.id) {
      throw new SerializeError(`invalid serializer in response: ${reply.serializerId}`);
    }
    if ((reply.flags & Flags.ITEMSTREAMRESULT) !== 0) {
      // checked before EXCEPTION: Pyro flags a stream start as an exception too
      const id = reply.annotations?.get('STRM');
      if (id === undefined)
        throw new ProtocolError('result is a stream, but the daemon sent no stream id (streaming disabled?)');
      const start = new StreamStart(Buffer.from(id).toString('latin1'));
      return this.init.makeStream ? this.init.makeStream(start) : start;
    }
    const value = serializer.decode(reply.payload, this.hooks);
    if ((reply.flags & Flags.EXCEPTION) !== 0) {
      if (value instanceof Error) throw value;
      throw new RemoteError({ remoteType: 'unknown', remoteMessage: String(value), args: [value] });
    }
    return value;
  }

  /** Sends a PING and resolves when the pong arrives (both Pyro and Cinder peers answer). */
  ping(options?: CallOptions): Promise<void> {
    if (this.closed) return Promise.reject(this.closedFor('ping'));
    return new Promise<void>((resolve, reject) => {
      const start = () => {
        const seq = this.nextSeq();
        const p: Pending = {
          seq,
          what: 'ping',
          serializerId: 42,
          serializer: undefined,
          onReplyAnnotations: undefined,
          resolve: () => resolve(),
          reject,
          timer: undefined,
          abortCleanup: undefined,
        };
        if (options?.timeoutMs && options.timeoutMs > 0) {
          p.timer = setTimeout(
            () => this.expire(p, new TimeoutError(`ping timed out after ${options.timeoutMs} ms`)),
            options.timeoutMs,
          );
        }
        this.pending.set(seq, p);
        if (!this.multiplexed) this.busy = true;
        try {
          this.out({
            type: MsgType.PING,
            flags: 0,
            seq,
            serializerId: 42,
            correlationId: null,
            annotations: null,
            payload: Buffer.from('ping'),
          });
        } catch (err) {
          this.settle(p);
          reject(err as Error);
        }
      };
      if (!this.multiplexed && this.busy) this.sendQueue.push({ send: start, reject, what: 'ping' });
      else start();
    });
  }

  private expire(p: Pending, err: Error): void {
    if (this.pending.get(p.seq) !== p) return;
    if (this.multiplexed) this.settle(p);
    else {
      // the connection is dropped below: releasing the turn first would send a queued call on it
      this.pending.delete(p.seq);
      if (p.timer) clearTimeout(p.timer);
      p.abortCleanup?.();
    }
    p.reject(err);
    if ((this.capabilities & Capability.CANCEL) !== 0 && p.serializerId !== 42) {
      // tell the server, which aborts the call's signal and stops what it can
      this.sendControl(CANCEL_CALL, seqBytes(p.seq));
    }
    if (!this.multiplexed) {
      // Pyro's way: a Pyro peer answers calls strictly in order, so a connection with an
      // abandoned call in progress cannot be reused safely; drop it (the proxy reconnects).
      this.close(new ConnectionClosedError(`connection dropped after ${err.message}`, { cause: err })).catch(
        (closeErr: unknown) =>
          this.logger.debug({ err: closeErr, conn: this.connection.id }, 'drop after expiry'),
      );
    }
  }

  private settle(p: Pending): void {
    this.pending.delete(p.seq);
    if (p.timer) clearTimeout(p.timer);
    p.abortCleanup?.();
    this.releaseTurn();
  }

  private releaseTurn(): void {
    if (this.multiplexed) return;
    this.busy = false;
    const next = this.sendQueue.shift();
    if (next) next.send();
  }

  private onReply(message: Message): void {
    const p = this.pending.get(message.seq);
    if ((message.flags & Flags.ITEMSTREAMRESULT) !== 0 && message.annotations !== null) {
      if (message.annotations.has(PUSH_ITEM) || message.annotations.has(PUSH_END)) {
        this.onPushed(message, p);
        return;
      }
    }
    if (p === undefined) {
      if (!this.multiplexed && this.pending.size > 0) {
        this.fail(new ProtocolError('invoke: reply sequence out of sync'));
      }
      return; // a reply to a call that timed out or was cancelled
    }
    this.settle(p);
    if (message.annotations !== null && p.onReplyAnnotations) p.onReplyAnnotations(message.annotations);
    if (p.serializer === undefined) {
      p.resolve(message);
      return;
    }
    let value: unknown;
    try {
      value = this.decodeReply(message, p.serializer);
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    p.resolve(value);
  }

  private onPushed(message: Message, p: Pending | undefined): void {
    let stream = this.incoming.get(message.seq);
    if (stream === undefined) {
      if (p === undefined || p.serializer === undefined) return; // a stream the consumer already closed
      this.settle(p);
      stream = new PushStream(this, message.seq, this.streamCredit);
      this.incoming.set(message.seq, stream);
      p.resolve(stream);
    }
    const serializer = this.serializers.byId(message.serializerId);
    try {
      if (!serializer) throw new SerializeError(`invalid serializer in response: ${message.serializerId}`);
      const value = serializer.decode(message.payload, this.hooks);
      if (message.annotations!.has(PUSH_END)) {
        this.incoming.delete(message.seq);
        if ((message.flags & Flags.EXCEPTION) !== 0) {
          stream.end(
            value instanceof Error
              ? value
              : new RemoteError({ remoteType: 'unknown', remoteMessage: String(value) }),
          );
        } else {
          stream.end();
        }
      } else {
        stream.item(value);
      }
    } catch (err) {
      this.incoming.delete(message.seq);
      stream.end(err as Error);
    }
  }

  /** @internal a consumer stopped reading a pushed stream. */
  streamEnded(seq: number): void {
    this.incoming.delete(seq);
  }

  /** Sends a Cinder control message (a oneway PING with one annotation); only to Cinder peers. */
  sendControl(id: string, value: Uint8Array): void {
    if (this.closed || this.capabilities === 0) return;
    this.out({
      type: MsgType.PING,
      flags: Flags.ONEWAY,
      seq: 0,
      serializerId: 42,
      correlationId: null,
      annotations: new Map([[id, value]]),
      payload: EMPTY_PAYLOAD,
    });
  }

  private onControl(message: Message): void {
    const ann = message.annotations!;
    for (const [id, value] of ann) {
      const seq = readSeq(value);
      if (seq === undefined) continue;
      switch (id) {
        case STREAM_CREDIT: {
          const state = this.pushes.get(seq);
          if (state) {
            state.credit += readCredit(value);
            state.wake?.();
          }
          break;
        }
        case STREAM_CLOSE: {
          const state = this.pushes.get(seq);
          if (state) {
            state.closed = true;
            state.wake?.();
          }
          break;
        }
        case CANCEL_CALL:
          for (const ctx of this.active) {
            if (ctx.seq === seq)
              ctx.abort(new AbortedError(`call ${ctx.method} was cancelled by the caller`));
          }
          break;
      }
    }
  }

  /** Pushes the items of a served stream within the consumer's credit. */
  private async push(
    served: ServedCall,
    iterator: AsyncIterator<unknown> | Iterator<unknown>,
  ): Promise<void> {
    const state: PushState = { credit: this.streamCredit, closed: false, wake: undefined };
    const seq = served.message.seq;
    const serializer = served.codec;
    const corr = served.replyCorrelationId();
    this.pushes.set(seq, state);
    const hooks = this.server?.hooks;
    const frame = (flags: number, annotation: string, payload: Uint8Array): boolean =>
      this.out({
        type: MsgType.RESULT,
        flags: Flags.ITEMSTREAMRESULT | flags,
        seq,
        serializerId: serializer.id,
        correlationId: corr,
        annotations: new Map([[annotation, EMPTY_PAYLOAD]]),
        payload,
      });
    try {
      for (;;) {
        while (state.credit <= 0 && !state.closed && !this.closed) {
          if (this.paused) this.resumeReading(); // credit arrives only by reading
          await new Promise<void>((resolve) => {
            state.wake = resolve;
          });
          state.wake = undefined;
        }
        if (state.closed || this.closed) break;
        const r = await iterator.next();
        if (r.done || state.closed || this.closed) break;
        state.credit--;
        if (!frame(0, PUSH_ITEM, serializer.encode(r.value, hooks))) await this.connection.drained();
      }
      if (!state.closed && !this.closed) frame(0, PUSH_END, serializer.encode(null, hooks));
    } catch (err) {
      if (!state.closed && !this.closed) {
        try {
          frame(Flags.EXCEPTION, PUSH_END, this.encodeError(serializer, err));
        } catch {
          // connection gone
        }
      }
    } finally {
      this.pushes.delete(seq);
      if (state.closed || this.closed) {
        try {
          await iterator.return?.();
        } catch {
          // a generator that fails while closing has nothing more to say
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming calls

  private onPing(message: Message): void {
    if ((message.flags & Flags.ONEWAY) !== 0) {
      if (message.annotations !== null && this.capabilities !== 0) this.onControl(message);
      return;
    }
    const p = this.pending.get(message.seq);
    if (p !== undefined && p.serializerId === 42) {
      this.settle(p);
      p.resolve(message);
      return;
    }
    this.out(pongFor(message));
  }

  private onInvoke(message: Message): void {
    if (this.multiplexed) {
      // Beyond maxConcurrentCalls, calls wait here; reading pauses only when the backlog is long too.
      // Replies, pings and stream credit keep being read meanwhile, so a served call waiting for a
      // callback's reply cannot deadlock the connection.
      if (this.running >= this.maxConcurrent) {
        this.backlog.push(message);
        this.maybePause();
        return;
      }
      this.serve(message);
      return;
    }
    if ((message.flags & Flags.ONEWAY) !== 0) {
      // oneway calls run side by side even here, so they obey the same limit
      if (this.running >= this.maxConcurrent) {
        this.backlog.push(message);
        this.maybePause();
        return;
      }
      this.serve(message);
      return;
    }
    // In order, one at a time: the next waits until the previous has replied.
    if (this.serving) {
      this.serveQueue.push(message);
      this.maybePause();
      return;
    }
    this.serve(message);
  }

  /**
   * Stops reading while the backlog of waiting calls is long — unless this end waits for something
   * only reading can bring (replies to its own calls, e.g. callbacks made by running calls, or credit
   * for streams it pushes): then pausing could deadlock, and the backlog grows instead, up to 16
   * times as far. Beyond that the peer is flooding calls while leaving ours unanswered: drop it.
   */
  private maybePause(): void {
    const waiting = this.backlog.length + this.serveQueue.length;
    const threshold = Math.max(4 * this.maxConcurrent, 256);
    if (this.paused || waiting < threshold) return;
    if (this.pending.size === 0 && this.pushes.size === 0) {
      this.paused = true;
      this.connection.pause();
    } else if (waiting >= 16 * threshold) {
      this.fail(
        new ProtocolError(
          `too many calls waiting (${waiting}) while this peer leaves ${this.pending.size + this.pushes.size} of ours unanswered`,
        ),
      );
    }
  }

  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.resume();
  }

  /**
   * Graceful end of serving: new incoming calls are refused, and the promise resolves once the calls
   * in progress have finished, or after `graceMs`.
   */
  drain(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private serve(message: Message): void {
    const serializer = this.serializers.byId(message.serializerId);
    if (serializer === undefined) {
      const err = new ProtocolError(`unsupported serializer id ${message.serializerId}`);
      if (this.init.onBadMessage) this.init.onBadMessage(message, err);
      else this.fail(err);
      return;
    }
    const oneway = (message.flags & Flags.ONEWAY) !== 0;
    const ordered = !oneway && !this.multiplexed;
    if (ordered) this.serving = true;
    this.running++;
    const served = new ServedCall(this, message, serializer, oneway, ordered);
    const server = this.server;
    try {
      if (server === undefined) throw new ProtocolError('this peer serves no objects');
      if (this.draining) throw new ConnectionClosedError('the daemon is shutting down');
      served.call = serializer.decodeCall(message.payload, server.hooks);
    } catch (err) {
      this.finish(served, err, undefined);
      return;
    }
    this.active.add(served);
    let result: unknown;
    try {
      result = callContextStorage.run(served, server.dispatch, served);
    } catch (err) {
      this.finish(served, err, undefined);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.finish(served, undefined, value),
        (err: unknown) =>
          this.finish(served, err === undefined ? new Error('undefined was thrown') : err, undefined),
      );
    } else {
      this.finish(served, undefined, result);
    }
  }

  private finish(served: ServedCall, error: unknown, value: unknown): void {
    this.active.delete(served);
    this.running--;
    if (this.running === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    if (served.oneway) {
      if (error !== undefined)
        this.logger.debug({ err: error, conn: this.connection.id }, 'oneway call failed');
    } else if (!this.closed) {
      if (value instanceof PushStreamReply)
        this.push(served, value.iterator).catch((err: unknown) => this.fail(err as Error));
      else this.reply(served, error, value);
    }
    if (this.backlog.length > 0 && this.running < this.maxConcurrent && !this.closed) {
      this.serve(this.backlog.shift()!);
    }
    if (this.paused && this.backlog.length + this.serveQueue.length < Math.max(2 * this.maxConcurrent, 128))
      this.resumeReading();
    if (served.ordered) {
      this.serving = false;
      const next = this.serveQueue.shift();
      if (next) this.serve(next);
    }
  }

  /** Sends the RESULT for a served call (value or exception), in the request's serializer. */
  private reply(served: ServedCall, error: unknown, value: unknown): void {
    const request = served.message;
    const serializer = served.codec;
    const corr = served.replyCorrelationId();
    let flags = request.flags & Flags.BATCH;
    let payload: Uint8Array;
    let tail: Uint8Array[] | undefined;
    const hooks = this.server?.hooks;
    let annotations = served.takeResponseAnnotations();
    if (value instanceof SpecialReply) {
      flags |= value.flags;
      if (value.annotations) {
        annotations ??= new Map();
        for (const [k, v] of value.annotations) annotations.set(k, v);
      }
      if (value.exception) {
        error = value.value;
        flags |= Flags.EXCEPTION;
      } else {
        value = value.value;
      }
    }
    if (error === undefined) {
      try {
        // large byte strings in the result leave from the method's own buffer (Cinder peers)
        if (serializer.encodeParts !== undefined && this.connection.protocolVersion !== 48) {
          const parts = serializer.encodeParts(value, hooks);
          payload = parts[0] as Uint8Array;
          if (parts.length > 1) tail = parts.slice(1);
        } else {
          payload = serializer.encode(value, hooks);
        }
      } catch (err) {
        error =
          err instanceof SerializeError
            ? err
            : new SerializeError(`cannot serialize the result: ${(err as Error).message}`, { cause: err });
        payload = this.encodeError(serializer, error);
        flags |= Flags.EXCEPTION;
      }
    } else {
      payload = this.encodeError(serializer, error);
      flags |= Flags.EXCEPTION;
    }
    try {
      this.out({
        type: MsgType.RESULT,
        flags,
        seq: request.seq,
        serializerId: serializer.id,
        // Pyro4 puts no CORR annotation on exception replies (Pyro5 always sends the id)
        correlationId:
          (flags & Flags.EXCEPTION) !== 0 && this.connection.protocolVersion === 48 ? null : corr,
        annotations,
        payload,
        payloadTail: tail,
      });
    } catch (err) {
      this.logger.debug({ err, conn: this.connection.id }, 'could not send a reply');
    }
  }

  private encodeError(serializer: Serializer, error: unknown): Uint8Array {
    const err = error instanceof Error ? error : new Error(String(error));
    try {
      return serializer.encode(err, this.server?.hooks);
    } catch (encodeErr) {
      return serializer.encode(
        new SerializeError(`Error serializing exception: ${(encodeErr as Error).message}`),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Resources and lifecycle

  trackResource(resource: Resource): void {
    (this.resources ??= new Set()).add(resource);
  }

  untrackResource(resource: Resource): void {
    this.resources?.delete(resource);
  }

  private closedFor(what: string): ConnectionClosedError {
    const why = this.closedError ? `: ${this.closedError.message}` : '';
    return new ConnectionClosedError(
      `${what}: connection closed${why}`,
      this.closedError ? { cause: this.closedError } : undefined,
    );
  }

  /** Ends the session because of an error (framing, protocol): everything pending fails. */
  fail(error: Error): void {
    this.shutdown(error);
    this.connection.destroy(error);
  }

  /** Closes the connection gracefully (queued frames are flushed first). */
  close(error?: Error): Promise<void> {
    this.shutdown(error);
    return this.connection.close();
  }

  private shutdown(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closedError = error;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.abortCleanup?.();
      p.reject(this.closedFor(p.what));
    }
    this.pending.clear();
    for (const stream of this.incoming.values()) stream.end(this.closedFor('stream'));
    this.incoming.clear();
    for (const state of this.pushes.values()) {
      state.closed = true;
      state.wake?.();
    }
    for (const q of this.sendQueue.splice(0)) q.reject(notSent(this.closedFor(q.what)));
    this.serveQueue.length = 0;
    this.backlog.length = 0;
    if (this.active.size > 0) {
      const reason = new ConnectionClosedError('the caller disconnected');
      for (const ctx of this.active) ctx.abort(reason);
      this.active.clear();
    }
    if (this.resources) {
      for (const r of this.resources) {
        try {
          const out = r.close();
          if (out instanceof Promise) out.catch(() => {});
        } catch {
          // a resource that fails to close must not stop the others
        }
      }
      this.resources.clear();
    }
    this.init.onClose?.(error);
  }
}
