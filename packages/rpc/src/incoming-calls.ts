// Serving the peer's calls on one connection: in order and one at a time with a Pyro peer (oneway
// calls aside), side by side up to maxConcurrentCalls with a Cinder peer; back-pressure (reading
// pauses while too many calls wait, unless only reading can unblock this end); cancellation;
// graceful draining; and the reply each call ends with (a value, an exception or a pushed stream).
import { AbortedError, ConnectionClosedError, ProtocolError } from '@cinder/core';
import { Flags, type Message } from '@cinder/protocol';
import { callContextStorage } from './context.js';
import { PushStreamReply } from './push-stream.js';
import { ServedCall } from './served-call.js';
import { resultMessage } from './served-replies.js';
import type { Session } from './session.js';

export class IncomingCalls {
  private running = 0; // incoming calls being served
  private readonly serveQueue: Message[] = []; // non-multiplexed incoming calls waiting their turn
  private readonly backlog: Message[] = []; // multiplexed incoming calls beyond maxConcurrentCalls
  private serving = false;
  private paused = false;
  private readonly active = new Set<ServedCall>();
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly session: Session,
    private readonly maxConcurrent: number,
  ) {}

  onInvoke(message: Message): void {
    if (this.session.multiplexed) {
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

  /** The caller cancelled call `seq` (a Cinder control message): abort its signal. */
  cancel(seq: number): void {
    for (const ctx of this.active) {
      if (ctx.seq === seq) ctx.abort(new AbortedError(`call ${ctx.method} was cancelled by the caller`));
    }
  }

  /**
   * Stops reading while the backlog of waiting calls is long — unless this end waits for something
   * only reading can bring (replies to its own calls, e.g. callbacks made by running calls, or credit
   * for streams it pushes): then pausing could deadlock, and the backlog grows instead, up to 16
   * times as far. Beyond that the peer is flooding calls while leaving ours unanswered: drop it.
   */
  private maybePause(): void {
    const session = this.session;
    const waiting = this.backlog.length + this.serveQueue.length;
    const threshold = Math.max(4 * this.maxConcurrent, 256);
    if (this.paused || waiting < threshold) return;
    const ours = session.calls.pending.size + session.streams.producing;
    if (ours === 0) {
      this.paused = true;
      session.connection.pause();
    } else if (waiting >= 16 * threshold) {
      session.fail(
        new ProtocolError(
          `too many calls waiting (${waiting}) while this peer leaves ${ours} of ours unanswered`,
        ),
      );
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
    const session = this.session;
    this.active.delete(served);
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
    if (this.backlog.length > 0 && this.running < this.maxConcurrent && !session.isClosed) {
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
    } catch (err) {
      session.logger.debug({ err, conn: session.connection.id }, 'could not send a reply');
    }
  }

  /** The session ended: waiting calls are dropped and running ones see their signal abort. */
  closeAll(): void {
    this.serveQueue.length = 0;
    this.backlog.length = 0;
    if (this.active.size > 0) {
      const reason = new ConnectionClosedError('the caller disconnected');
      for (const ctx of this.active) ctx.abort(reason);
      this.active.clear();
    }
  }
}
