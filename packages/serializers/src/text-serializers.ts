// The json, serpent and marshal Serializers: Pyro's Python formats (codecs in ./formats/) wired to the
// registry, the hooks and the call envelopes. json and serpent carry bytes as the dict
// `{"data": <base64>, "encoding": "base64"}`; such a dict is turned back into a Uint8Array here,
// before class revival, so registered classes see bytes exactly as with the binary formats.
import { SerializeError } from '@cinder/core';
import { SerializerId } from '@cinder/protocol';
import {
  callFromObject,
  callFromSequence,
  checkOutgoingCall,
  jsonEnvelope,
  marshalEnvelope,
  serpentEnvelope,
  withParams,
} from './envelope.js';
import { decodeJson, encodeJson } from './formats/json.js';
import { decodeMarshal, encodeMarshal } from './formats/marshal.js';
import type { FormatDecodeOptions, FormatEncodeOptions } from './formats/options.js';
import { decodeSerpent, encodeSerpent } from './formats/serpent.js';
import { defineOwn } from './registry.js';
import type { CallEnvelope, CodecHooks, PyroDialect, Serializer } from './serializer.js';
import { bytesFromDict, type ValueMapper } from './value-mapper.js';

// "base64" in ASCII: a payload without it cannot hold a bytes dict, which skips the revival walk.
const BASE64_MARK = Buffer.from('base64', 'latin1');
const getProto = Object.getPrototypeOf;

abstract class TextSerializer implements Serializer {
  abstract readonly name: string;
  abstract readonly id: number;
  abstract readonly binary: boolean;
  readonly dialect: PyroDialect;
  protected readonly mapper: ValueMapper;
  /** Options for calls without hooks, built once. */
  readonly #plainEncode: FormatEncodeOptions;
  readonly #plainDecode: FormatDecodeOptions;

  constructor(mapper: ValueMapper) {
    this.mapper = mapper;
    this.dialect = mapper.dialect;
    this.#plainEncode = this.encodeOptions(undefined);
    this.#plainDecode = this.decodeOptions(undefined);
  }

  protected abstract write(value: unknown, options: FormatEncodeOptions): Uint8Array;
  protected abstract read(data: Uint8Array, options: FormatDecodeOptions): unknown;
  protected abstract envelope(call: CallEnvelope): unknown;
  protected abstract callFrom(value: unknown): CallEnvelope;
  /** Whether this format writes bytes as base64 dicts (so received dicts of that shape are bytes). */
  protected abstract readonly bytesAsDict: boolean;

  protected encodeOptions(hooks: CodecHooks | undefined): FormatEncodeOptions {
    const mapper = this.mapper;
    return { maxDepth: mapper.maxDepth, replace: (value: object) => mapper.toModel(value, hooks) };
  }

  private decodeOptions(hooks: CodecHooks | undefined): FormatDecodeOptions {
    const mapper = this.mapper;
    return {
      maxDepth: mapper.maxDepth,
      maxItems: mapper.maxItems,
      reviveClass: (dict) => mapper.fromClassDict(dict, hooks),
    };
  }

  encode(value: unknown, hooks?: CodecHooks): Uint8Array {
    return this.write(value, hooks === undefined ? this.#plainEncode : this.encodeOptions(hooks));
  }

  decode(data: Uint8Array, hooks?: CodecHooks): unknown {
    if (!(data instanceof Uint8Array)) throw new SerializeError(`${this.name}: data must be a Uint8Array`);
    if (
      this.bytesAsDict &&
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(BASE64_MARK)
    ) {
      // Bytes dicts must become Uint8Array before any class sees them: decode without revival,
      // then convert and revive in one bottom-up walk (the decoder already bounded the depth).
      const raw = this.read(data, { maxDepth: this.mapper.maxDepth, maxItems: this.mapper.maxItems });
      return reviveTree(raw, this.mapper, hooks);
    }
    return this.read(data, hooks === undefined ? this.#plainDecode : this.decodeOptions(hooks));
  }

  encodeCall(call: CallEnvelope, hooks?: CodecHooks): Uint8Array {
    checkOutgoingCall(call);
    // serpent and marshal write Pyro's batch calls as tuples, json has only lists
    return this.encode(this.envelope(withParams(call, this.name !== 'json')), hooks);
  }

  decodeCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope {
    return this.callFrom(this.decode(data, hooks));
  }
}

/** Bottom-up: bytes dicts → Uint8Array, then `__class__` dicts → whatever the mapper makes of them. */
function reviveTree(value: unknown, mapper: ValueMapper, hooks: CodecHooks | undefined): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === 'object' && item !== null) value[i] = reviveTree(item, mapper, hooks);
    }
    return value;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (typeof item === 'object' && item !== null) value.set(key, reviveTree(item, mapper, hooks));
    }
    return value;
  }
  const proto = getProto(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const dict = value as Record<string, unknown>;
  for (const key of Object.keys(dict)) {
    const item = dict[key];
    if (typeof item === 'object' && item !== null) defineOwn(dict, key, reviveTree(item, mapper, hooks));
  }
  const bytes = bytesFromDict(dict);
  if (bytes !== dict) return bytes;
  if (typeof dict.__class__ === 'string') return mapper.fromClassDict(dict, hooks);
  return dict;
}

export class JsonSerializer extends TextSerializer {
  readonly name = 'json';
  readonly id: number = SerializerId.JSON;
  readonly binary = false;
  protected readonly bytesAsDict = true;

  protected write(value: unknown, options: FormatEncodeOptions): Uint8Array {
    return encodeJson(value, options);
  }

  protected read(data: Uint8Array, options: FormatDecodeOptions): unknown {
    return decodeJson(data, options);
  }

  protected envelope(call: CallEnvelope): unknown {
    return jsonEnvelope(call);
  }

  protected callFrom(value: unknown): CallEnvelope {
    return callFromObject('json', value);
  }
}

export class SerpentSerializer extends TextSerializer {
  readonly name = 'serpent';
  readonly id: number = SerializerId.SERPENT;
  readonly binary: boolean;
  protected readonly bytesAsDict = true;
  readonly #bytesRepr: boolean;

  constructor(mapper: ValueMapper, bytesRepr: boolean) {
    super(mapper);
    this.#bytesRepr = bytesRepr;
    this.binary = bytesRepr;
  }

  protected write(value: unknown, options: FormatEncodeOptions): Uint8Array {
    return encodeSerpent(value, { ...options, bytesRepr: this.#bytesRepr });
  }

  protected read(data: Uint8Array, options: FormatDecodeOptions): unknown {
    return decodeSerpent(data, options);
  }

  protected envelope(call: CallEnvelope): unknown {
    return serpentEnvelope(call);
  }

  protected callFrom(value: unknown): CallEnvelope {
    return callFromSequence('serpent', value);
  }
}

export class MarshalSerializer extends TextSerializer {
  readonly name = 'marshal';
  readonly id: number = SerializerId.MARSHAL;
  readonly binary = true;
  protected readonly bytesAsDict = false;

  protected write(value: unknown, options: FormatEncodeOptions): Uint8Array {
    return encodeMarshal(value, options);
  }

  protected read(data: Uint8Array, options: FormatDecodeOptions): unknown {
    return decodeMarshal(data, options);
  }

  protected envelope(call: CallEnvelope): unknown {
    return marshalEnvelope(call, this.dialect);
  }

  protected callFrom(value: unknown): CallEnvelope {
    return callFromSequence('marshal', value);
  }
}
