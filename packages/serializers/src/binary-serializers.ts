// The msgpack and cbor Serializers: thin shells over the single-pass codecs in ./binary/.
import { SerializerId } from '@cinder/protocol';
import type { ByteWriter } from './binary/byte-writer.js';
import { CborDecoder, CborEncoder } from './binary/cbor-codec.js';
import { type DecodeOptions, MsgpackDecoder, MsgpackEncoder } from './binary/msgpack-codec.js';
import { callFromSequence, checkOutgoingCall } from './envelope.js';
import type { CallEnvelope, CodecHooks, PyroDialect, Serializer } from './serializer.js';
import type { ValueMapper } from './value-mapper.js';

export class MsgpackSerializer implements Serializer {
  readonly name = 'msgpack';
  readonly id: number = SerializerId.MSGPACK;
  readonly binary = true;
  readonly dialect: PyroDialect;
  readonly #encoder: MsgpackEncoder;
  readonly #decoder: MsgpackDecoder;

  constructor(mapper: ValueMapper, writer: ByteWriter, options: DecodeOptions) {
    this.dialect = mapper.dialect;
    this.#encoder = new MsgpackEncoder(writer, mapper);
    this.#decoder = new MsgpackDecoder(mapper, options);
  }

  encode(value: unknown, hooks?: CodecHooks): Uint8Array {
    return this.#encoder.encode(value, hooks);
  }

  decode(data: Uint8Array, hooks?: CodecHooks): unknown {
    return this.#decoder.decode(data, hooks);
  }

  encodeCall(call: CallEnvelope, hooks?: CodecHooks): Uint8Array {
    checkOutgoingCall(call);
    return this.#encoder.encodeCall(call.object, call.method, call.params, call.kwargs, hooks) as Uint8Array;
  }

  encodeParts(value: unknown, hooks?: CodecHooks): Uint8Array[] {
    return this.#encoder.encode(value, hooks, true);
  }

  encodeCallParts(call: CallEnvelope, hooks?: CodecHooks): Uint8Array[] {
    checkOutgoingCall(call);
    return this.#encoder.encodeCall(
      call.object,
      call.method,
      call.params,
      call.kwargs,
      hooks,
      true,
    ) as Uint8Array[];
  }

  decodeCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope {
    return callFromSequence('msgpack', this.#decoder.decode(data, hooks));
  }
}

export class CborSerializer implements Serializer {
  readonly name = 'cbor';
  readonly id: number = SerializerId.CBOR;
  readonly binary = true;
  readonly dialect: PyroDialect;
  readonly #encoder: CborEncoder;
  readonly #decoder: CborDecoder;

  constructor(mapper: ValueMapper, writer: ByteWriter, options: DecodeOptions) {
    this.dialect = mapper.dialect;
    this.#encoder = new CborEncoder(writer, mapper);
    this.#decoder = new CborDecoder(mapper, options);
  }

  encode(value: unknown, hooks?: CodecHooks): Uint8Array {
    return this.#encoder.encode(value, hooks);
  }

  decode(data: Uint8Array, hooks?: CodecHooks): unknown {
    return this.#decoder.decode(data, hooks);
  }

  encodeCall(call: CallEnvelope, hooks?: CodecHooks): Uint8Array {
    checkOutgoingCall(call);
    return this.#encoder.encodeCall(call.object, call.method, call.params, call.kwargs, hooks) as Uint8Array;
  }

  encodeParts(value: unknown, hooks?: CodecHooks): Uint8Array[] {
    return this.#encoder.encode(value, hooks, true);
  }

  encodeCallParts(call: CallEnvelope, hooks?: CodecHooks): Uint8Array[] {
    checkOutgoingCall(call);
    return this.#encoder.encodeCall(
      call.object,
      call.method,
      call.params,
      call.kwargs,
      hooks,
      true,
    ) as Uint8Array[];
  }

  decodeCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope {
    return callFromSequence('cbor', this.#decoder.decode(data, hooks));
  }
}
