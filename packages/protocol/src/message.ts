// The protocol-neutral message model. Both wire codecs (Pyro5 protocol 502, Pyro4 protocol 48)
// decode into and encode from this shape, so everything above the protocol layer is written once.
// Numbering follows Pyro5: the Pyro4 codec translates its own flag bits and serializer ids.

import { PING_SERIALIZER_ID } from '@cinder/core';

/** Protocol versions Cinder speaks. */
export type ProtocolVersion = 502 | 48;
export const PROTOCOL_PYRO5 = 502 as const;
export const PROTOCOL_PYRO4 = 48 as const;

/** Message types (identical numbering in both protocols). */
export const MsgType = {
  CONNECT: 1,
  CONNECTOK: 2,
  CONNECTFAIL: 3,
  INVOKE: 4,
  RESULT: 5,
  PING: 6,
} as const;
export type MsgTypeValue = (typeof MsgType)[keyof typeof MsgType];

/**
 * Message flags, Pyro5 numbering. `META_ON_CONNECT` exists only in Pyro4 (0x10 there); it is
 * carried here in a bit the Pyro5 wire never uses, and the Pyro5 codec refuses to send it.
 */
export const Flags = {
  EXCEPTION: 0x01,
  COMPRESSED: 0x02,
  ONEWAY: 0x04,
  BATCH: 0x08,
  ITEMSTREAMRESULT: 0x10,
  KEEPSERIALIZED: 0x20,
  CORR_ID: 0x40,
  META_ON_CONNECT: 0x8000,
} as const;

/**
 * Serializer ids, Pyro5 numbering. Pyro4 uses serpent 1, json 2, marshal 3, pickle 4, dill 5,
 * msgpack 6, cloudpickle 7; its codec maps them to these. `CBOR` is Cinder's own id: Pyro never
 * assigned 16, so a Python peer rejects it as an unknown serializer instead of misreading it.
 */
export const SerializerId = {
  SERPENT: 1,
  MARSHAL: 2,
  JSON: 3,
  MSGPACK: 4,
  CBOR: 16,
  /** What Pyro puts in the header of a PING (the payload is opaque bytes). */
  PING: 42,
} as const;

/** Annotation ids are exactly four ASCII characters; values are raw bytes. */
export type Annotations = Map<string, Uint8Array>;

/** One message, independent of the protocol version that carries it. */
export interface Message {
  type: number;
  /** Pyro5-numbered flags (see `Flags`). `COMPRESSED` is handled by the codec, never seen here. */
  flags: number;
  /** u16 sequence number. */
  seq: number;
  /** Pyro5-numbered serializer id (see `SerializerId`). */
  serializerId: number;
  /** 16 bytes, or null when the message carries none. */
  correlationId: Uint8Array | null;
  /** Annotation chunks in wire order, or null when there are none. */
  annotations: Annotations | null;
  /** The (uncompressed) payload. Decoded payloads may be views into the receive buffer. */
  payload: Uint8Array;
  /**
   * Outgoing messages only: more payload bytes that follow `payload` on the wire, such as a large
   * byte string a serializer referenced instead of copying. Written without copying (unless the
   * frame is compressed or HMAC-signed); decoded messages never have it.
   */
  payloadTail?: readonly Uint8Array[] | undefined;
  /**
   * Outgoing messages only: this message's protocol 502 frame made once (`encodeFrame502`) from a
   * message that differs from it in `seq` and `correlationId` only, for a message sent alike many
   * times (a daemon's CONNECTOK): the encoder copies it and writes those two. It is used when this
   * message has the `type`, `flags`, `serializerId`, `annotations` and `payload` it was made from
   * (the same objects) and a correlation id; otherwise, and by protocol 48, it is ignored.
   */
  frame?: EncodedFrame | undefined;
}

/**
 * A protocol 502 frame encoded once (see `Message.frame`). Its annotations and payload must not be
 * changed once it is made.
 */
export interface EncodedFrame {
  /** The message it was made from. */
  readonly source: Message;
  /** Header, annotations and payload, as encoded from `source` without compression. */
  readonly bytes: Uint8Array;
  /** Annotations and payload: what a connection's `maxMessageSize` limits. */
  readonly bodySize: number;
}

/** The whole payload of a message as one buffer (joins `payloadTail` when there is one). */
export function wholePayload(message: Message): Uint8Array {
  const tail = message.payloadTail;
  if (tail === undefined || tail.length === 0) return message.payload;
  return Buffer.concat([message.payload, ...tail]);
}

const NO_PAYLOAD = new Uint8Array(0);

/**
 * A Cinder control message: a oneway PING whose only content is one annotation (stream credit and
 * close, call cancel, the MAC trailer of an authenticated batch). Pyro peers never receive one.
 */
export function controlMessage(id: string, value: Uint8Array): Message {
  return {
    type: MsgType.PING,
    flags: Flags.ONEWAY,
    seq: 0,
    serializerId: PING_SERIALIZER_ID,
    correlationId: null,
    annotations: new Map([[id, value]]),
    payload: NO_PAYLOAD,
  };
}
