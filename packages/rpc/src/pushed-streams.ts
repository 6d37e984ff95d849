// Both ends of the streams Cinder peers push (see push-stream.ts for the wire): as consumer, the
// items arriving for a call this end made; as producer, the loop that pushes a served call's items
// within the consumer's credit; and the control messages (credit, close, cancel) between them.
import { RemoteError, SerializeError } from '@cinder/core';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import type { Pending } from './outgoing-calls.js';
import {
  CANCEL_CALL,
  PUSH_END,
  PUSH_ITEM,
  PushStream,
  readCredit,
  readSeq,
  STREAM_CLOSE,
  STREAM_CREDIT,
} from './push-stream.js';
import type { ServedCall } from './served-call.js';
import { encodeError } from './served-replies.js';
import type { Session } from './session.js';
import { EMPTY_PAYLOAD } from './wire-messages.js';

/** The maps of a session that has no pushed stream yet (never written: replaced on first use). */
const NO_STREAMS: Map<number, PushStream> = new Map();
const NO_PUSHES: Map<number, PushState> = new Map();

interface PushState {
  credit: number;
  closed: boolean;
  wake: (() => void) | undefined;
}

export class PushedStreams {
  /**
   * Pushed streams this end consumes, by the seq of the call that started them. Both maps are made
   * on first use: most connections never carry a pushed stream.
   */
  private incoming: Map<number, PushStream> = NO_STREAMS;
  /** Pushed streams this end produces, by the seq of the call that returned them. */
  private pushes: Map<number, PushState> = NO_PUSHES;

  constructor(private readonly session: Session) {}

  /** Whether `seq` names a pushed stream this end consumes (its seq is not free for a new call). */
  hasIncoming(seq: number): boolean {
    return this.incoming.has(seq);
  }

  /** Streams this end consumes (it waits for their next items). */
  get consuming(): number {
    return this.incoming.size;
  }

  /** Streams this end is pushing (it waits for the consumer's credit to read them). */
  get producing(): number {
    return this.pushes.size;
  }

  /** An item or the end of a stream this end consumes; the first one answers the call `p`. */
  onPushed(message: Message, p: Pending | undefined): void {
    const session = this.session;
    let stream = this.incoming.get(message.seq);
    if (stream === undefined) {
      if (p === undefined || p.serializer === undefined) return; // a stream the consumer already closed
      session.calls.settle(p);
      stream = new PushStream(session, message.seq, session.streamCredit);
      if (this.incoming === NO_STREAMS) this.incoming = new Map();
      this.incoming.set(message.seq, stream);
      p.resolve(stream);
    }
    const serializer = session.serializers.byId(message.serializerId);
    try {
      if (!serializer) throw new SerializeError(`invalid serializer in response: ${message.serializerId}`);
      const value = serializer.decode(message.payload, session.hooks);
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

  /** A consumer stopped reading a pushed stream. */
  ended(seq: number): void {
    this.incoming.delete(seq);
  }

  /** Control messages from the peer: credit for and closing of streams we push, cancelled calls. */
  onControl(message: Message): void {
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
          this.session.serving.cancel(seq);
          break;
      }
    }
  }

  /** Pushes the items of a served stream within the consumer's credit. */
  async push(served: ServedCall, iterator: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
    const session = this.session;
    const state: PushState = { credit: session.streamCredit, closed: false, wake: undefined };
    const seq = served.message.seq;
    const serializer = served.codec;
    const corr = served.replyCorrelationId();
    if (this.pushes === NO_PUSHES) this.pushes = new Map();
    this.pushes.set(seq, state);
    session.calls.waiting(); // for the consumer's credit
    const hooks = session.server?.hooks;
    const frame = (flags: number, annotation: string, payload: Uint8Array): boolean =>
      session.out({
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
        while (state.credit <= 0 && !state.closed && !session.isClosed) {
          session.serving.resumeReading(); // credit arrives only by reading
          await new Promise<void>((resolve) => {
            state.wake = resolve;
          });
          state.wake = undefined;
        }
        if (state.closed || session.isClosed) break;
        const r = await iterator.next();
        if (r.done || state.closed || session.isClosed) break;
        state.credit--;
        if (!frame(0, PUSH_ITEM, serializer.encode(r.value, hooks))) await session.connection.drained();
      }
      if (!state.closed && !session.isClosed) frame(0, PUSH_END, serializer.encode(null, hooks));
    } catch (err) {
      if (!state.closed && !session.isClosed) {
        try {
          frame(Flags.EXCEPTION, PUSH_END, encodeError(serializer, err, hooks));
        } catch {
          // connection gone
        }
      }
    } finally {
      this.pushes.delete(seq);
      if (state.closed || session.isClosed) {
        try {
          await iterator.return?.();
        } catch {
          // a generator that fails while closing has nothing more to say
        }
      }
    }
  }

  /** The session ended: consumers see it closed, producers stop. */
  closeAll(): void {
    const session = this.session;
    if (this.incoming.size > 0) {
      for (const stream of this.incoming.values()) stream.end(session.closedFor('stream'));
      this.incoming.clear();
    }
    if (this.pushes.size === 0) return;
    for (const state of this.pushes.values()) {
      state.closed = true;
      state.wake?.();
    }
  }
}
