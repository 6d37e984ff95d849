// What the CBOR and MessagePack encoders share: the driver around one encoding (a busy writer
// hands the work to a fresh encoder, so a hook may encode while an encoding is under way; the
// hooks are set for exactly one encoding; a failure abandons the writer's output and comes out as
// a typed error), for a single value and for a call envelope. Each format supplies how a value
// and the envelope's four items are written.
import { SerializeError } from '@cinder/core';
import type { CodecHooks } from '../serializer.js';
import type { ValueMapper } from '../value-mapper.js';
import { ByteWriter } from './byte-writer.js';

export abstract class BinaryEncoder {
  protected hooks: CodecHooks | undefined;
  protected readonly maxDepth: number;

  constructor(
    protected readonly w: ByteWriter,
    protected readonly mapper: ValueMapper,
  ) {
    this.maxDepth = mapper.maxDepth;
  }

  /** An encoder of the same format with a writer of its own. */
  protected abstract fresh(w: ByteWriter): BinaryEncoder;

  /** Writes one value at nesting `depth`. */
  protected abstract value(v: unknown, depth: number): void;

  /** Writes the envelope `[object, method, params, kwargs]` without building the array. */
  protected abstract callItems(object: string, method: string, params: unknown[], kwargs: unknown): void;

  /** Encodes one value. */
  encode(value: unknown, hooks: CodecHooks | undefined): Uint8Array;
  encode(value: unknown, hooks: CodecHooks | undefined, parts: true): Uint8Array[];
  encode(value: unknown, hooks: CodecHooks | undefined, parts = false): Uint8Array | Uint8Array[] {
    const w = this.w;
    if (w.busy) return this.fresh(new ByteWriter()).encode(value, hooks, parts as true);
    this.hooks = hooks;
    w.begin(parts);
    try {
      this.value(value, 0);
    } catch (err) {
      w.abort();
      throw wrapEncodeError(err);
    } finally {
      this.hooks = undefined;
    }
    return parts ? w.finishParts() : w.finish();
  }

  /** Encodes a call envelope `[object, method, params, kwargs]` without building the array. */
  encodeCall(
    object: string,
    method: string,
    params: unknown[],
    kwargs: unknown,
    hooks: CodecHooks | undefined,
    parts = false,
  ): Uint8Array | Uint8Array[] {
    const w = this.w;
    if (w.busy) return this.fresh(new ByteWriter()).encodeCall(object, method, params, kwargs, hooks, parts);
    this.hooks = hooks;
    w.begin(parts);
    try {
      this.callItems(object, method, params, kwargs);
    } catch (err) {
      w.abort();
      throw wrapEncodeError(err);
    } finally {
      this.hooks = undefined;
    }
    return parts ? w.finishParts() : w.finish();
  }
}

/** Turns anything thrown while encoding into a typed error (stack overflow, hook errors stay typed). */
export function wrapEncodeError(err: unknown): unknown {
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new SerializeError('value nests too deeply for the call stack', { cause: err });
  }
  return err;
}
