// The RPC engine over one framed connection, used by both ends. The session is the coordinator:
// it owns the connection's state (seq numbers, agreed capabilities, signing, closing), routes each
// message read to its part, and is the one place messages are written. The parts:
//   outgoing-calls.ts  this end's calls: queued, sent, timed, answered (reply-decoding.ts)
//   incoming-calls.ts  the peer's calls: served with back-pressure, answered (served-replies.ts,
//                      served-call.ts for the call context)
//   pushed-streams.ts  streams pushed between Cinder peers, both ends, and the control messages
// Handshake messages are handed to the owner.
import { type CallOptions, ConnectionClosedError, Deadline, type Logger, ProtocolError } from '@cinder/core';
import { controlMessage, Flags, type Message, MsgType, wholePayload } from '@cinder/protocol';
import type { CallEnvelope, CodecHooks, Serializer } from '@cinder/serializers';
import type { CloseOptions, Connection } from '@cinder/transport';
import type { Resource } from './context.js';
import { IncomingCalls } from './incoming-calls.js';
import { OutgoingCalls } from './outgoing-calls.js';
import type { StreamStart } from './pull-stream.js';
import { PushedStreams } from './pushed-streams.js';
import { decodeReply } from './reply-decoding.js';
import type {
  BatchSigner,
  CallServer,
  MessageSigner,
  OutgoingCall,
  SerializerLookup,
  SessionInit,
} from './session-types.js';
import { FRAME_OVERHEAD, pongFor } from './wire-messages.js';

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
  /** @internal */ readonly serializers: SerializerLookup;
  /** @internal */ readonly logger: Logger;
  /** @internal */ readonly server: CallServer | undefined;
  /** @internal codec hooks of outgoing calls and their results. */
  readonly hooks: CodecHooks | undefined;
  /** @internal turns a Pyro stream start into what the caller gets. */
  readonly makeStream: ((start: StreamStart) => unknown) | undefined;
  /**
   * The session's parts, each made when first used (see `calls`, `serving`, `streams`): a connection
   * opened and released without a call needs none of them.
   */
  private callsPart: OutgoingCalls | undefined;
  private servingPart: IncomingCalls | undefined;
  private streamsPart: PushedStreams | undefined;
  private readonly init: SessionInit;
  private seq = 0;
  private resources: Set<Resource> | undefined;
  private closedError: Error | undefined;
  private closed = false;
  private signer: MessageSigner | undefined;
  private batches: BatchSigner | null = null;
  /** A batch was sent to this tick and is sealed (its trailer sent) at the end of the tick. */
  private sealScheduled = false;
  /** Verified messages being routed: a batch verified meanwhile (re-entrantly) joins the end. */
  private delivering: Message[] | null = null;
  /** What runs when the session closes (the heartbeat's stop). */
  private shutdownHook: (() => void) | undefined;
  /**
   * @internal the heartbeat interval of a session not yet listed for it (see startHeartbeat): it
   * joins when it first waits for its peer (OutgoingCalls.waiting). 0: no heartbeat, or listed
   * already. Kept here, not in the calls part, so that a session without a call makes no part.
   */
  heartbeatMs = 0;

  constructor(init: SessionInit) {
    this.init = init;
    this.connection = init.connection;
    this.serializers = init.serializers;
    this.logger = init.logger;
    this.server = init.server;
    this.hooks = init.hooks;
    this.makeStream = init.makeStream;
    this.connection.setHandler(this);
  }

  /** @internal this end's calls (made on first use). */
  get calls(): OutgoingCalls {
    return (this.callsPart ??= new OutgoingCalls(this));
  }

  /** @internal the peer's calls (made on first use). */
  get serving(): IncomingCalls {
    return (this.servingPart ??= new IncomingCalls(
      this,
      this.init.maxConcurrentCalls ?? 256,
      this.init.maxBufferedOutput ?? 8 * 1024 * 1024,
    ));
  }

  /** @internal the streams pushed either way (made on first use). */
  get streams(): PushedStreams {
    return (this.streamsPart ??= new PushedStreams(this));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sequence number for the next outgoing message (Pyro: incremented before each INVOKE). */
  nextSeq(): number {
    let seq = (this.seq + 1) & 0xffff;
    if (this.multiplexed) {
      const pending = this.calls.pending;
      const streams = this.streamsPart;
      while (pending.has(seq) || streams?.hasIncoming(seq) === true) seq = (seq + 1) & 0xffff;
    }
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
    return this.callsPart?.count ?? 0;
  }

  /** @internal calls sent and not yet answered (not those waiting for their turn). */
  get awaitedReplies(): number {
    return this.callsPart?.pending.size ?? 0;
  }

  /** @internal pushed streams this end produces. */
  get producingStreams(): number {
    return this.streamsPart?.producing ?? 0;
  }

  /**
   * Something on this end waits for the peer: a call for its reply (pull-stream items and the
   * peer's callbacks into us are calls too), a pushed stream it consumes for its next item, or a
   * pushed stream it produces for the consumer's credit. The heartbeat runs while this holds.
   */
  get awaitsPeer(): boolean {
    const streams = this.streamsPart;
    return (
      (this.callsPart?.count ?? 0) > 0 ||
      (streams !== undefined && (streams.consuming > 0 || streams.producing > 0))
    );
  }

  /** Signs every message sent and verifies every message read, once the handshake set it. */
  get authenticator(): MessageSigner | undefined {
    return this.signer;
  }

  set authenticator(signer: MessageSigner | undefined) {
    this.signer = signer;
    this.batches = signer?.batches ?? null;
  }

  /**
   * @internal every message this session sends goes through here, so signing follows wire order.
   * `alone`: nothing else is expected to be sent in this tick (see Connection.send).
   */
  out(message: Message, alone = false): boolean {
    const batches = this.batches;
    if (batches !== null) {
      // scheduled before the tick's first send, so the trailer joins the tick's write
      if (!this.sealScheduled) {
        this.sealScheduled = true;
        process.nextTick(Session.sealLater, this);
      }
      const full = batches.sealIfFull();
      if (full !== null) this.connection.send(full);
      // sent first: a message the connection refuses (too large) is not part of the batch
      const ok = this.connection.send(message);
      batches.add(message);
      return ok;
    }
    const auth = this.signer;
    if (auth !== undefined) {
      // signing adds an annotation: never to a map shared with other messages
      message.annotations = message.annotations ? new Map(message.annotations) : null;
      if (message.payloadTail !== undefined) {
        message.payload = wholePayload(message);
        message.payloadTail = undefined;
      }
      auth.sign(message);
    }
    return this.connection.send(message, alone);
  }

  /** The end of the tick's seal (a static method given the session: no closure per session). */
  private static sealLater(session: Session): void {
    session.sealBatch();
  }

  /** Sends the trailer of the batch sent in this tick (it joins the tick's write). */
  private sealBatch(): void {
    this.sealScheduled = false;
    const trailer = this.batches?.seal();
    if (trailer == null || this.connection.closed) return;
    try {
      this.connection.send(trailer);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Connection handler

  onMessage(message: Message): void {
    const batches = this.batches;
    if (batches !== null) {
      let batch: Message[] | null;
      try {
        batch = batches.receive(message);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (batch !== null) this.deliver(batch);
      return;
    }
    if (this.signer !== undefined) {
      try {
        this.signer.verify(message);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    this.route(message);
  }

  /** Routes a verified batch's messages in order, after any batch still being routed. */
  private deliver(batch: Message[]): void {
    if (this.delivering !== null) {
      for (let i = 0; i < batch.length; i++) this.delivering.push(batch[i]!);
      return;
    }
    this.delivering = batch;
    try {
      for (let i = 0; i < batch.length && !this.closed; i++) this.route(batch[i]!);
    } finally {
      this.delivering = null;
    }
  }

  private route(message: Message): void {
    switch (message.type) {
      case MsgType.RESULT:
        this.calls.onReply(message);
        return;
      case MsgType.INVOKE:
        this.serving.onInvoke(message);
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

  private onPing(message: Message): void {
    if ((message.flags & Flags.ONEWAY) !== 0) {
      if (message.annotations !== null && this.capabilities !== 0) this.streams.onControl(message);
      return;
    }
    if (this.callsPart?.onPong(message) === true) return; // no calls part: no PING of ours is out
    const pong = pongFor(message);
    this.out(pong);
    this.serving.sent(FRAME_OVERHEAD + pong.payload.length);
  }

  /** @internal an incoming message the session cannot handle: the owner decides, else it fails. */
  badMessage(message: Message, err: Error): void {
    if (this.init.onBadMessage) this.init.onBadMessage(message, err);
    else this.fail(err);
  }

  // ---------------------------------------------------------------------------------------------
  // What the owner uses

  /**
   * Sends one INVOKE and resolves with the reply message (RESULT), or immediately for oneway
   * calls. With a Pyro peer only one call is on the wire at a time; the rest wait their turn.
   */
  invoke(call: CallEnvelope, options: OutgoingCall, deadline?: Deadline): Promise<unknown> {
    return this.calls.invoke(call, options, deadline ?? Deadline.from(options));
  }

  /**
   * Sends a PING and resolves when the pong arrives (both Pyro and Cinder peers answer). Takes the
   * caller's deadline, or `{ timeoutMs, signal }` to make one now.
   */
  ping(deadline?: Deadline | CallOptions): Promise<void> {
    return this.calls.ping(deadline instanceof Deadline ? deadline : Deadline.from(deadline));
  }

  /** Decodes a reply: resolves the value, or throws the remote exception. */
  decodeReply(reply: Message, serializer: Serializer): unknown {
    return decodeReply(reply, serializer, this.hooks, this.makeStream);
  }

  /** Sends a Cinder control message (a oneway PING with one annotation); only to Cinder peers. */
  sendControl(id: string, value: Uint8Array): void {
    if (this.closed || this.capabilities === 0) return;
    this.out(controlMessage(id, value));
  }

  /** @internal a consumer stopped reading a pushed stream. */
  streamEnded(seq: number): void {
    this.streamsPart?.ended(seq);
  }

  /**
   * Graceful end of serving: new incoming calls are refused, and the promise resolves once the calls
   * in progress have finished, or after `graceMs`.
   */
  drain(graceMs: number): Promise<void> {
    return this.serving.drain(graceMs);
  }

  // ---------------------------------------------------------------------------------------------
  // Resources and lifecycle

  trackResource(resource: Resource): void {
    (this.resources ??= new Set()).add(resource);
  }

  untrackResource(resource: Resource): void {
    this.resources?.delete(resource);
  }

  /** @internal `hook` runs once when the session closes (now, if it is closed). */
  onShutdown(hook: () => void): void {
    if (this.closed) {
      hook();
      return;
    }
    const earlier = this.shutdownHook;
    this.shutdownHook =
      earlier === undefined
        ? hook
        : () => {
            earlier();
            hook();
          };
  }

  /** @internal the error a call gets once the session is closed. */
  closedFor(what: string): ConnectionClosedError {
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
  /** Ends the session and closes its connection (`options`: see Connection.close). */
  close(error?: Error, options?: CloseOptions): Promise<void> {
    // what was sent in this tick must not lose its trailer to the close
    if (this.sealScheduled && !this.closed) this.sealBatch();
    this.shutdown(error);
    return this.connection.close(options);
  }

  private shutdown(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closedError = error;
    const hook = this.shutdownHook;
    if (hook !== undefined) {
      this.shutdownHook = undefined;
      hook();
    }
    this.callsPart?.closeAll();
    this.streamsPart?.closeAll();
    this.servingPart?.closeAll();
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
