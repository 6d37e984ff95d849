// The RESULT a served call answers with: its value, or its exception (Pyro's reply conventions:
// the request's serializer and seq, the BATCH flag echoed, no correlation id on Pyro4 exception
// replies), and what a SpecialReply from the server adds to it.
import { SerializeError } from '@cinder/core';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import type { CodecHooks, Serializer } from '@cinder/serializers';
import type { ServedCall } from './served-call.js';

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

/** An error as the peer gets it; one that cannot be serialized becomes a SerializeError. */
export function encodeError(
  serializer: Serializer,
  error: unknown,
  hooks: CodecHooks | undefined,
): Uint8Array {
  const err = error instanceof Error ? error : new Error(String(error));
  try {
    return serializer.encode(err, hooks);
  } catch (encodeErr) {
    return serializer.encode(
      new SerializeError(`Error serializing exception: ${(encodeErr as Error).message}`),
    );
  }
}

/** The RESULT for a served call (value or exception), in the request's serializer. */
export function resultMessage(
  served: ServedCall,
  error: unknown,
  value: unknown,
  hooks: CodecHooks | undefined,
  protocolVersion: 502 | 48 | undefined,
): Message {
  const request = served.message;
  const serializer = served.codec;
  const corr = served.replyCorrelationId();
  let flags = request.flags & Flags.BATCH;
  let payload: Uint8Array;
  let tail: Uint8Array[] | undefined;
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
      if (serializer.encodeParts !== undefined && protocolVersion !== 48) {
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
      payload = encodeError(serializer, error, hooks);
      flags |= Flags.EXCEPTION;
    }
  } else {
    payload = encodeError(serializer, error, hooks);
    flags |= Flags.EXCEPTION;
  }
  return {
    type: MsgType.RESULT,
    flags,
    seq: request.seq,
    serializerId: serializer.id,
    // Pyro4 puts no CORR annotation on exception replies (Pyro5 always sends the id)
    correlationId: (flags & Flags.EXCEPTION) !== 0 && protocolVersion === 48 ? null : corr,
    annotations,
    payload,
    payloadTail: tail,
  };
}
