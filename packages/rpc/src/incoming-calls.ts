// Serving the peer's calls on one connection: in order and one at a time with a Pyro peer (oneway
// calls aside), side by side up to maxConcurrentCalls with a Cinder peer; back-pressure (reading
// pauses while too many calls, or too many bytes of them, wait — unless only reading can unblock
// this end — and no waiting call starts while the peer leaves our output unread); cancellation;
// graceful draining; and the reply each call ends with (a value, an exception or a pushed stream).
import { AbortedError, ConnectionClosedError, ProtocolError } from '@cinder/core';
import { Flags, type Message } from '@cinder/protocol';
import { callContextStorage } from './context.js';
import { PushStreamReply } from './push-stream.js';
import { ServedCall } from './served-call.js';
import { resultMessage } from './served-replies.js';
import type { Session } from './session.js';
import type { CallServer } from './session-types.js';
import { FRAME_OVERHEAD } from './wire-messages.js';

/**
 * Output sent in answer to the peer (replies, pongs) between two looks at how much of it waits
 * for the peer: the common small-reply path pays an addition per call, not a socket read.
 */
const OUTPUT_LOOK_EVERY = 64 * 1024;

/** Runs one call on its server (a method call: a CallServer may be a class instance). */
function dispatchTo(server: CallServer, served: ServedCall): unknown {
  return server.dispatch(served);
}

export class IncomingCalls {
  private running = 0; // incoming calls being served
  private readonly serveQueue: Message[] = []; // non-multiplexed incoming calls waiting their turn
  private readonly backlog: Message[] = []; // incoming calls that may run side by side, waiting for room
  /** Payload bytes of the calls in serveQueue and backlog (decoded frames: inflated sizes). */
  private waitingBytes = 0;
  /** Bytes sent in answer to the peer since the output was last looked at. */
  private sentSinceLook = 0;
  /**
   * More than `maxBuffered` bytes of output wait for the peer: no call starts until they have
   * drained, and reading pauses (unless this end needs to read on).
   */
  private outputFull = false;
  /** startWaiting() is running (calls that finish inside it do not start others themselves). */
  private starting = false;
  private serving = false;
  private paused = false;
  /**
   * The calls being served, linked through the calls themselves (a Set that empties after every
   * call reallocates its table each time: 120 bytes a call).
   */
  private activeHead: ServedCall | null = null;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  /**
   * @param maxBuffered bytes of waiting calls beyond which reading pauses, and bytes of output
   *   queued for the peer beyond which no call starts until it drains (maxBufferedOutput).
   */
  constructor(
    private readonly session: Session,
    private readonly maxConcurrent: number,
    private readonly maxBuffered: number,
  ) {}

  onInvoke(message: Message): void {
    // In order, one at a time with a Pyro peer (oneway calls aside, which run side by side like
    // every call of a Cinder peer, up to maxConcurrentCalls). Calls without room wait; replies,
    // pings and stream credit keep being read meanwhile, so a served call waiting for a callback's
    // reply cannot deadlock the connection.
    const ordered = !this.session.multiplexed && (message.flags & Flags.ONEWAY) === 0;
    if (ordered) {
      if (this.serving || this.outputFull) this.wait(this.serveQueue, message);
      else this.serve(message);
    } else if (this.running >= this.maxConcurrent || this.outputFull || this.backlog.length > 0) {
      this.wait(this.backlog, message);
    } else {
      this.serve(message);
    }
  }

  /** This end sent `bytes` in answer to the peer (a reply, a pong): stop serving if it is not read. */
  sent(bytes: number): void {
    this.sentSinceLook += bytes;
    if (this.sentSinceLook < OUTPUT_LOOK_EVERY || this.outputFull) return;
    this.sentSinceLook = 0;
    const connection = this.session.connection;
    if (connection.bufferedBytes <= this.maxBuffered || this.session.isClosed) return;
    // The peer does not read what we send. Calls start again once the output has drained; a peer
    // that never reads is dropped by the connection (drainTimeoutMs).
    this.outputFull = true;
    connection.drained().then(this.outputDrained, this.outputDrained);
    this.maybePause();
  }

  private readonly outputDrained = (): void => {
    this.outputFull = false;
    if (this.session.isClosed) return;
    this.startWaiting();
    this.maybeResume();
  };

  /** The caller cancelled call `seq` (a Cinder control message): abort its signal. */
  cancel(seq: number): void {
    for (let ctx = this.activeHead; ctx !== null; ) {
      const next = ctx.nextActive;
      if (ctx.seq === seq) ctx.abort(new AbortedError(`call ${ctx.method} was cancelled by the caller`));
      ctx = next;
    }
  }

  /**
   * Stops reading while the backlog of waiting calls is long — unless this end waits for something
   * only reading can bring (replies to its own calls, e.g. callbacks made by running calls, or credit
   * for streams it pushes): then pausing could deadlock, and the backlog grows instead, up to 16
   * times as far. Beyond that the peer is flooding calls while leaving ours unanswered: drop it.
   */
  private wait(queue: Message[], message: Message): void {
    queue.push(message);
    this.waitingBytes += message.payload.length;
    this.maybePause();
  }

  private take(queue: Message[]): Message {
    const message = queue.shift()!;
    this.waitingBytes -= message.payload.length;
    return message;
  }

  /**
   * Stops reading while the peer does not read our output, or the backlog of waiting calls is long
   * or holds more than `maxBuffered` bytes (a compressed call of 1 KB decodes to up to 1 MB) —
   * unless this end waits for something only reading can bring (replies to its own calls, e.g.
   * callbacks made by running calls, or credit for streams it pushes): then pausing could deadlock,
   * and the backlog grows instead, up to 16 times as far. Beyond that the peer is flooding calls
   * while leaving ours unanswered: drop it.
   */
  private maybePause(): void {
    if (this.paused) return;
    const session = this.session;
    const waiting = this.backlog.length + this.serveQueue.length;
    const threshold = Math.max(4 * this.maxConcurrent, 256);
    if (!this.outputFull && waiting < threshold && this.waitingBytes < this.maxBuffered) return;
    const ours = session.awaitedReplies + session.producingStreams;
    if (ours === 0) {
      this.paused = true;
      session.connection.pause();
    } else if (waiting >= 16 * threshold || this.waitingBytes >= 16 * this.maxBuffered) {
      session.fail(
        new ProtocolError(
          `too many calls waiting (${waiting}, ${this.waitingBytes} bytes) while this peer leaves ${ours} of ours unanswered`,
        ),
      );
    }
  }

  private maybeResume(): void {
    if (
      this.paused &&
      !this.outputFull &&
      this.backlog.length + this.serveQueue.length < Math.max(2 * this.maxConcurrent, 128) &&
      this.waitingBytes <= this.maxBuffered / 2
    )
      this.resumeReading();
  }

  /**
   * Starts the waiting calls there is room for: backlog calls up to maxConcurrentCalls, the next
   * ordered call when none runs — none while the output is full (`sent`): calls already read
   * must not go on adding replies to an output nobody reads (1,000 waiting calls × 1 MB replies
   * would be 1 GB). What one connection's output holds is so bounded by `maxBuffered` plus the
   * replies of the calls running when it filled (at most maxConcurrentCalls).
   */
  private startWaiting(): void {
    if (this.starting) return;
    const session = this.session;
    this.starting = true;
    try {
      while (!this.outputFull && !session.isClosed) {
        if (this.backlog.length > 0 && this.running < this.maxConcurrent) this.serve(this.take(this.backlog));
        else if (!this.serving && this.serveQueue.length > 0) this.serve(this.take(this.serveQueue));
        else return;
      }
    } finally {
      this.starting = false;
    }
  }

  /** Reads again (this end now waits for something only reading brings). */
  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.session.connection.resume();
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
    const session = this.session;
    const serializer = session.serializers.byId(message.serializerId);
    if (serializer === undefined) {
      session.badMessage(message, new ProtocolError(`unsupported serializer id ${message.serializerId}`));
      return;
    }
    const oneway = (message.flags & Flags.ONEWAY) !== 0;
    const ordered = !oneway && !session.multiplexed;
    if (ordered) this.serving = true;
    this.running++;
    const served = new ServedCall(session, message, serializer, oneway, ordered);
    const server = session.server;
    try {
      if (server === undefined) throw new ProtocolError('this peer serves no objects');
      if (this.draining) throw new ConnectionClosedError('the daemon is shutting down');
      // a batch's calls are decoded one by one as they run (binary formats), so they die young
      served.call =
        ((message.flags & Flags.BATCH) !== 0
          ? serializer.decodeBatchCall?.(message.payload, server.hooks)
          : undefined) ?? serializer.decodeCall(message.payload, server.hooks);
    } catch (err) {
      this.finish(served, err, undefined);
      return;
    }
    const head = this.activeHead;
    served.nextActive = head;
    if (head !== null) head.prevActive = served;
    this.activeHead = served;
    let result: unknown;
    try {
      result = callContextStorage.run(served, dispatchTo, server, served);
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
    const session = this.session;
    this.removeActive(served);
    this.running--;
    if (this.running === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    if (served.oneway) {
      if (error !== undefined)
        session.logger.debug({ err: error, conn: session.connection.id }, 'oneway call failed');
    } else if (!session.isClosed) {
      if (value instanceof PushStreamReply)
        session.streams.push(served, value.iterator).catch((err: unknown) => session.fail(err as Error));
      else this.reply(served, error, value);
    }
    if (served.ordered) this.serving = false;
    this.startWaiting();
    this.maybeResume();
  }

  private removeActive(served: ServedCall): void {
    const prev = served.prevActive;
    const next = served.nextActive;
    if (prev !== null) prev.nextActive = next;
    else if (this.activeHead === served) this.activeHead = next;
    else return; // never started, or dropped by closeAll
    if (next !== null) next.prevActive = prev;
    served.prevActive = served.nextActive = null;
  }

  /** Sends the RESULT for a served call (value or exception), in the request's serializer. */
  private reply(served: ServedCall, error: unknown, value: unknown): void {
    const session = this.session;
    const message = resultMessage(
      served,
      error,
      value,
      session.server?.hooks,
      session.connection.protocolVersion,
    );
    try {
      session.out(message);
      this.sent(
        FRAME_OVERHEAD +
          message.payload.length +
          (message.payloadTail === undefined ? 0 : tailBytes(message.payloadTail)),
      );
    } catch (err) {
      session.logger.debug({ err, conn: session.connection.id }, 'could not send a reply');
    }
  }

  /** The session ended: waiting calls are dropped and running ones see their signal abort. */
  closeAll(): void {
    // (an array's length set is a runtime call even when it is 0 already: once per connection)
    if (this.serveQueue.length !== 0) this.serveQueue.length = 0;
    if (this.backlog.length !== 0) this.backlog.length = 0;
    this.waitingBytes = 0;
    this.outputFull = false;
    let ctx = this.activeHead;
    if (ctx !== null) {
      this.activeHead = null;
      const reason = new ConnectionClosedError('the caller disconnected');
      while (ctx !== null) {
        const next: ServedCall | null = ctx.nextActive;
        ctx.prevActive = ctx.nextActive = null;
        ctx.abort(reason);
        ctx = next;
      }
    }
  }
}

function tailBytes(tail: readonly Uint8Array[]): number {
  let n = 0;
  for (const part of tail) n += part.length;
  return n;
}
