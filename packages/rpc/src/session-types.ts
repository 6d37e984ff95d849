// The types a session's owner sees: what it is made with (SessionInit), what it serves with
// (CallServer, IncomingCall) and what an outgoing call carries (OutgoingCall, CallReply).
import type { CallOptions, Logger } from '@cinder/core';
import type { Annotations, Message } from '@cinder/protocol';
import type { CallEnvelope, CodecHooks, Serializer } from '@cinder/serializers';
import type { Connection } from '@cinder/transport';
import type { CallContext } from './context.js';
import type { StreamStart } from './pull-stream.js';

/** Per-message authentication (shared-key sessions): signs what is sent, verifies what is read. */
export interface MessageSigner {
  sign(message: Message): void;
  verify(message: Message): void;
  /** Set when the peers agreed on batch authentication: then every message goes through it instead. */
  readonly batches?: BatchSigner | null | undefined;
}

/**
 * Batch authentication (shared-key sessions between Cinder peers): one MAC per batch of messages,
 * carried by a trailer after them; received messages are held until their batch's trailer verifies.
 */
export interface BatchSigner {
  /** A trailer to send before the next message when the open batch is full, else null. */
  sealIfFull(): Message | null;
  /** Adds a message just sent to the open batch. */
  add(message: Message): void;
  /** The trailer closing the open batch, or null when it is empty. */
  seal(): Message | null;
  /** Holds a message read (null), or returns its batch once the trailer verified; throws when it does not. */
  receive(message: Message): Message[] | null;
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
  server?: CallServer | undefined;
  /** Codec hooks for outgoing calls and their results. */
  hooks?: CodecHooks | undefined;
  /** Incoming calls served at once before reading pauses (multiplexed connections). */
  maxConcurrentCalls?: number | undefined;
  /**
   * Bytes of incoming calls that may wait to be served before reading pauses, and bytes of output
   * queued for the peer beyond which no waiting call starts: the connection's maxBufferedOutput
   * (default 8 MiB).
   */
  maxBufferedOutput?: number | undefined;
  /** Handshake messages (CONNECT, CONNECTOK, CONNECTFAIL) go here. */
  onControl?(message: Message): void;
  /** An incoming message the session cannot handle (unknown serializer id…): the owner decides. */
  onBadMessage?(message: Message, error: Error): void;
  /** Called once when the session ends. */
  onClose?(error: Error | undefined): void;
  /** Turns a Pyro stream start (ITEMSTREAMRESULT reply) into what the caller gets (a pull stream). */
  makeStream?: ((start: StreamStart) => unknown) | undefined;
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
