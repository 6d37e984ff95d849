// This end's calls to the peer: encoded when made, queued behind the call on the wire on a
// connection without pipelining (every Pyro peer), sent with a seq, timed (timeout, abort signal,
// the cancel message to a Cinder peer) and answered (the RESULT matched by seq and decoded).
import { ConnectionClosedError, type Deadline, ProtocolError } from '@cinder/core';
import { type Annotations, Flags, type Message, MsgType } from '@cinder/protocol';
import type { CallEnvelope, Serializer } from '@cinder/serializers';
import { Capability } from './capabilities.js';
import { currentCorrelationId } from './context.js';
import { joinHeartbeat } from './heartbeat.js';
import { CANCEL_CALL, PUSH_END, PUSH_ITEM, seqBytes } from './push-stream.js';
import { decodeReply } from './reply-decoding.js';
import { SeqTable } from './seq-table.js';
import type { Session } from './session.js';
import type { OutgoingCall } from './session-types.js';
import { invokeMessage, PING_SERIALIZER_ID, pingMessage } from './wire-messages.js';

/** An outgoing call or ping between being sent and being answered. */
export interface Pending {
  seq: number;
  readonly what: string;
  serializerId: number;
  /** Decodes the reply with this serializer before resolving (absent: resolve the raw message). */
  serializer: Serializer | undefined;
  onReplyAnnotations: ((annotations: Annotations) => void) | undefined;
  readonly resolve: (reply: any) => void;
  readonly reject: (err: Error) => void;
  /** The call's one deadline, made when the call was made. */
  readonly deadline: Deadline;
  /** Stops watching the deadline (it is watched from the moment the call is made, queued or not). */
  unwatch: (() => void) | undefined;
}

/** A call or ping waiting for its turn on a connection without pipelining. */
interface Queued {
  send(): void;
  reject(err: Error): void;
  readonly what: string;
  unwatch: (() => void) | undefined;
}

// Errors of calls that provably never reached the wire: a reconnecting proxy may retry them even
// when they are not idempotent.
const unsent = new WeakSet<Error>();
export function notSent(err: Error): Error {
  unsent.add(err);
  return err;
}

/** True when the call that failed with `err` was never sent to the peer (safe to retry). */
export function wasNotSent(err: unknown): boolean {
  return err instanceof Error && unsent.has(err);
}

const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

// The promise executor takes no closure: it leaves the resolving functions here for the caller.
let capturedResolve: (value: unknown) => void = noop;
let capturedReject: (err: Error) => void = noop;
function capture(resolve: (value: unknown) => void, reject: (err: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
function noop(): void {}

/**
 * An outgoing call from encoding to its reply: queued on a Pyro connection, then pending. It is
 * also the INVOKE message itself (one object per call, not two).
 */
class OutCall implements Pending, Queued, Message {
  readonly type = MsgType.INVOKE;
  seq = -1;
  readonly flags: number;
  readonly serializerId: number;
  annotations: Annotations | null;
  payload: Uint8Array;
  payloadTail: readonly Uint8Array[] | undefined;
  readonly serializer: Serializer | undefined;
  readonly onReplyAnnotations: ((annotations: Annotations) => void) | undefined;
  unwatch: (() => void) | undefined = undefined;
  readonly resolve: (reply: any) => void;
  readonly reject: (err: Error) => void;

  constructor(
    private readonly calls: OutgoingCalls,
    private readonly method: string,
    serializer: Serializer,
    options: OutgoingCall,
    readonly deadline: Deadline,
    flags: number,
    readonly correlationId: Uint8Array | null,
    payload: Uint8Array,
    tail: Uint8Array[] | undefined,
  ) {
    this.flags = correlationId ? flags | Flags.CORR_ID : flags;
    this.serializerId = serializer.id;
    this.annotations = options.annotations ?? null;
    this.payload = payload;
    this.payloadTail = tail;
    this.serializer = options.raw ? undefined : serializer;
    this.onReplyAnnotations = options.onReplyAnnotations;
    this.resolve = capturedResolve;
    this.reject = capturedReject;
  }

  get what(): string {
    return `call ${this.method}`;
  }

  send(): void {
    this.calls.start(this);
  }
}

/** One session's outgoing calls. */
export class OutgoingCalls {
  /** Sent and not yet answered, by seq. */
  readonly pending = new SeqTable<Pending>();
  /** Waiting for the call on the wire to be answered (no pipelining). */
  private readonly sendQueue: Queued[] = [];
  private busy = false; // a non-multiplexed call is awaiting its reply
  /**
   * Replies received since this end last sent a call. A call sent after one reply with nothing
   * else in flight is a sequential caller's next call: it goes out at once. After a read that
   * answered many calls, their callers' next calls follow in the same tick: they leave together.
   */
  private answered = 0;

  constructor(private readonly session: Session) {}

  /** This end now waits for its peer (a call out, a stream pushed): its heartbeat must run. */
  waiting(): void {
    const session = this.session;
    const ms = session.heartbeatMs;
    if (ms === 0) return;
    session.heartbeatMs = 0;
    joinHeartbeat(session, ms);
  }

  /** Calls sent and waiting for a reply, plus calls waiting their turn. */
  get count(): number {
    return this.pending.size + this.sendQueue.length;
  }

  /**
   * Sends one INVOKE and resolves with the reply message (RESULT), or immediately for oneway
   * calls. With a Pyro peer only one call is on the wire at a time; the rest wait their turn.
   */
  invoke(call: CallEnvelope, options: OutgoingCall, deadline: Deadline): Promise<unknown> {
    const session = this.session;
    if (session.isClosed) return Promise.reject(notSent(session.closedFor(`call ${call.method}`)));
    const serializer = options.serializer;
    const flags = options.flags ?? 0;
    const oneway = (flags & Flags.ONEWAY) !== 0;
    let payload: Uint8Array;
    let tail: Uint8Array[] | undefined;
    try {
      // Large byte strings are sent from the caller's buffer (not for oneway calls, whose caller
      // may reuse the buffer before it is written, nor for Pyro4 peers).
      if (!oneway && serializer.encodeCallParts !== undefined && session.connection.protocolVersion !== 48) {
        const parts = serializer.encodeCallParts(call, session.hooks);
        payload = parts[0] as Uint8Array;
        if (parts.length > 1) tail = parts.slice(1);
      } else {
        payload = serializer.encodeCall(call, session.hooks);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const correlationId =
      options.correlationId !== undefined ? options.correlationId : currentCorrelationId();
    if (oneway) {
      try {
        session.out(
          invokeMessage(
            session.nextSeq(),
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
    const promise = new Promise<unknown>(capture);
    const p = new OutCall(
      this,
      call.method,
      serializer,
      options,
      deadline,
      flags,
      correlationId,
      payload,
      tail,
    );
    try {
      if (!this.watch(p)) return promise;
      if (!session.multiplexed && this.busy) this.sendQueue.push(p);
      else this.start(p);
    } catch (err) {
      p.reject(err as Error);
    }
    return promise;
  }

  /**
   * Watches the call's deadline from now on, queued or sent (one timer at most, none without a
   * timeout). False when it has already passed: the call failed without being sent.
   */
  private watch(p: Pending & Queued): boolean {
    const deadline = p.deadline;
    if (!deadline.bounded) return true;
    const passed = deadline.expired();
    if (passed !== undefined) {
      p.reject(notSent(deadline.error(p.what, passed === 'aborted')));
      return false;
    }
    p.unwatch = deadline.onExpire((aborted) => this.expire(p, aborted));
    return true;
  }

  /** @internal puts a call on the wire (now, or when its turn comes on a Pyro connection). */
  start(p: OutCall): void {
    const session = this.session;
    p.seq = session.nextSeq();
    this.pending.set(p);
    if (session.heartbeatMs !== 0) this.waiting();
    if (!session.multiplexed) this.busy = true;
    session.serving.resumeReading();
    try {
      // the only call in flight (every sequential call) leaves at once, not at the end of the tick
      const alone = this.pending.size === 1 && this.answered <= 1;
      this.answered = 0;
      session.out(p, alone);
    } catch (err) {
      this.settle(p);
      p.reject(notSent(err as Error));
    }
  }

  /** Sends a PING and resolves when the pong arrives (both Pyro and Cinder peers answer). */
  ping(deadline: Deadline): Promise<void> {
    const session = this.session;
    if (session.isClosed) return Promise.reject(session.closedFor('ping'));
    return new Promise<void>((resolve, reject) => {
      const p: Pending & Queued = {
        seq: -1,
        what: 'ping',
        serializerId: PING_SERIALIZER_ID,
        serializer: undefined,
        onReplyAnnotations: undefined,
        resolve: () => resolve(),
        reject,
        deadline,
        unwatch: undefined,
        send: () => start(),
      };
      const start = () => {
        const seq = session.nextSeq();
        p.seq = seq;
        this.pending.set(p);
        if (session.heartbeatMs !== 0) this.waiting();
        if (!session.multiplexed) this.busy = true;
        try {
          session.out(pingMessage(seq));
        } catch (err) {
          this.settle(p);
          reject(err as Error);
        }
      };
      if (!this.watch(p)) return;
      if (!session.multiplexed && this.busy) this.sendQueue.push(p);
      else start();
    });
  }

  private expire(p: Pending & Queued, aborted: boolean): void {
    const session = this.session;
    const err = p.deadline.error(p.what, aborted);
    if (p.seq === -1) {
      // still waiting for its turn: it never reached the wire, so the connection stays as it is
      const i = this.sendQueue.indexOf(p);
      if (i >= 0) this.sendQueue.splice(i, 1);
      p.unwatch = undefined;
      p.reject(notSent(err));
      return;
    }
    if (this.pending.get(p.seq) !== p) return;
    if (session.multiplexed) this.settle(p);
    else {
      // the connection is dropped below: releasing the turn first would send a queued call on it
      this.pending.delete(p.seq);
      p.unwatch?.();
    }
    p.reject(err);
    if ((session.capabilities & Capability.CANCEL) !== 0 && p.serializerId !== PING_SERIALIZER_ID) {
      // tell the server, which aborts the call's signal and stops what it can
      session.sendControl(CANCEL_CALL, seqBytes(p.seq));
    }
    if (!session.multiplexed) {
      // Pyro's way: a Pyro peer answers calls strictly in order, so a connection with an
      // abandoned call in progress cannot be reused safely; drop it (the proxy reconnects).
      session
        .close(new ConnectionClosedError(`connection dropped after ${err.message}`, { cause: err }))
        .catch((closeErr: unknown) =>
          session.logger.debug({ err: closeErr, conn: session.connection.id }, 'drop after expiry'),
        );
    }
  }

  /** The call is answered (or failed before the wire): forget it and let the next one go. */
  settle(p: Pending): void {
    this.pending.delete(p.seq);
    p.unwatch?.();
    this.releaseTurn();
  }

  private releaseTurn(): void {
    if (this.session.multiplexed) return;
    this.busy = false;
    const next = this.sendQueue.shift();
    if (next) next.send();
  }

  /** A RESULT arrived: answer the call it belongs to (or hand a pushed stream's frame on). */
  onReply(message: Message): void {
    const session = this.session;
    const p = this.pending.get(message.seq);
    if ((message.flags & Flags.ITEMSTREAMRESULT) !== 0 && message.annotations !== null) {
      if (message.annotations.has(PUSH_ITEM) || message.annotations.has(PUSH_END)) {
        session.streams.onPushed(message, p);
        return;
      }
    }
    if (p === undefined) {
      if (!session.multiplexed && this.pending.size > 0) {
        session.fail(new ProtocolError('invoke: reply sequence out of sync'));
      }
      return; // a reply to a call that timed out or was cancelled
    }
    this.settle(p);
    this.answered++;
    if (message.annotations !== null && p.onReplyAnnotations) p.onReplyAnnotations(message.annotations);
    if (p.serializer === undefined) {
      p.resolve(message);
      return;
    }
    let value: unknown;
    try {
      value = decodeReply(message, p.serializer, session.hooks, session.makeStream);
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    p.resolve(value);
  }

  /** A PING answered (true), or not one of ours. */
  onPong(message: Message): boolean {
    const p = this.pending.get(message.seq);
    if (p === undefined || p.serializerId !== PING_SERIALIZER_ID) return false;
    this.settle(p);
    p.resolve(message);
    return true;
  }

  /** The session ended: every call sent or waiting fails. */
  closeAll(): void {
    const session = this.session;
    if (this.pending.size > 0) {
      for (const p of this.pending.values(session.currentSeq)) {
        p.unwatch?.();
        p.reject(session.closedFor(p.what));
      }
      this.pending.clear();
    }
    if (this.sendQueue.length === 0) return;
    for (const q of this.sendQueue.splice(0)) {
      q.unwatch?.();
      q.reject(notSent(session.closedFor(q.what)));
    }
  }
}
