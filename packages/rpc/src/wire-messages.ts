// The messages a session builds that are not a served call's reply: INVOKE, PING and its pong,
// Cinder's control PINGs, and the correlation ids Pyro expects on them.
import { randomFillSync } from 'node:crypto';
import { PING_SERIALIZER_ID } from '@cinder/core';
import { type Annotations, Flags, type Message, MsgType } from '@cinder/protocol';

export { PING_SERIALIZER_ID };

export const EMPTY_PAYLOAD = new Uint8Array(0);
const PING = Buffer.from('ping');
const PONG = Buffer.from('pong');

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

/** The PING an outgoing `$ping` sends. */
export function pingMessage(seq: number): Message {
  return {
    type: MsgType.PING,
    flags: 0,
    seq,
    serializerId: PING_SERIALIZER_ID,
    correlationId: null,
    annotations: null,
    payload: PING,
  };
}

export function invokeMessage(
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

/** What a frame costs in the output beyond its payload (header, correlation id, an annotation). */
export const FRAME_OVERHEAD = 64;
