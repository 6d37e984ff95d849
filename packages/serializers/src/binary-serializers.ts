// The msgpack and cbor Serializers: one thin shell over the single-pass codecs in ./binary/.
import { SerializerId } from '@cinder/protocol';
import type { ByteWriter } from './binary/byte-writer.js';
import { CborDecoder, CborEncoder } from './binary/cbor-codec.js';
import type { BinaryDecoder, DecodeOptions } from './binary/decoder-base.js';
import { MsgpackDecoder, MsgpackEncoder } from './binary/msgpack-codec.js';
import { checkOutgoingCall } from './envelope.js';
import type { CallEnvelope, CodecHooks, PyroDialect, Serializer } from './serializer.js';
import type { ValueMapper } from './value-mapper.js';

/** What the cbor and msgpack encoders have in common. */
interface BinaryEncoder {
  encode(value: unknown, hooks: CodecHooks | undefined): Uint8Array;
  encode(value: unknown, hooks: CodecHooks | undefined, parts: true): Uint8Array[];
  encodeCall(call: CallEnvelope, hooks: CodecHooks | undefined, parts?: boolean): Uint8Array | Uint8Array[];
}

class BinarySerializer implements Serializer {
  readonly binary = true;
  readonly dialect: PyroDialect;

  constructor(
    readonly name: 'cbor' | 'msgpack',
    readonly id: number,
    mapper: ValueMapper,
    private readonly encoder: BinaryEncoder,
    private readonly decoder: BinaryDecoder,
  ) {
    this.dialect = mapper.dialect;
  }

  encode(value: unknown, hooks?: CodecHooks): Uint8Array {
    return this.encoder.encode(value, hooks);
  }

  decode(data: Uint8Array, hooks?: CodecHooks): unknown {
    return this.decoder.decode(data, hooks);
  }

  encodeCall(call: CallEnvelope, hooks?: CodecHooks): Uint8Array {
    checkOutgoingCall(call);
    return this.encoder.encodeCall(call, hooks) as Uint8Array;
  }

  encodeParts(value: unknown, hooks?: CodecHooks): Uint8Array[] {
    return this.encoder.encode(value, hooks, true);
  }

  encodeCallParts(call: CallEnvelope, hooks?: CodecHooks): Uint8Array[] {
    checkOutgoingCall(call);
    return this.encoder.encodeCall(call, hooks, true) as Uint8Array[];
  }

  decodeCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope {
    return this.decoder.decodeCall(data, hooks);
  }

  decodeBatchCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope | null {
    return this.decoder.decodeBatchCall(data, hooks);
  }
}

/** The msgpack serializer. */
export function msgpackSerializer(
  mapper: ValueMapper,
  writer: ByteWriter,
  options: DecodeOptions,
): Serializer {
  return new BinarySerializer(
    'msgpack',
    SerializerId.MSGPACK,
    mapper,
    new MsgpackEncoder(writer, mapper),
    new MsgpackDecoder(mapper, options),
  );
}

/** The cbor serializer, Cinder's default. */
export function cborSerializer(mapper: ValueMapper, writer: ByteWriter, options: DecodeOptions): Serializer {
  return new BinarySerializer(
    'cbor',
    SerializerId.CBOR,
    mapper,
    new CborEncoder(writer, mapper),
    new CborDecoder(mapper, options),
  );
}
