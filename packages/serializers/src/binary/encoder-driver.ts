// What the CBOR and MessagePack encoders share: the driver around one encoding (a busy writer
// hands the work to a fresh encoder, so a hook may encode while an encoding is under way; the
// hooks are set for exactly one encoding; a failure abandons the writer's output and comes out as
// a typed error), for a single value and for a call envelope. Each format supplies how a value
// and the envelope's four items are written.
import { SerializeError } from '@cinder/core';
import { outgoingParams } from '../envelope.js';
import { QueuedCalls } from '../queued-calls.js';
import type { CallEnvelope, CodecHooks } from '../serializer.js';
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

  /** Writes a list's head. */
  protected abstract listHead(n: number): void;

  /** Writes `{}`. */
  protected abstract emptyMap(): void;

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
  encodeCall(call: CallEnvelope, hooks: CodecHooks | undefined, parts = false): Uint8Array | Uint8Array[] {
    const w = this.w;
    if (w.busy) return this.fresh(new ByteWriter()).encodeCall(call, hooks, parts);
    this.hooks = hooks;
    w.begin(parts);
    try {
      const batch = call.batch;
      if (batch instanceof QueuedCalls && this.maxDepth >= 3) this.batchCallItems(call, batch);
      else this.callItems(call.object, call.method, outgoingParams(call, false), call.kwargs);
    } catch (err) {
      w.abort();
      throw wrapEncodeError(err);
    } finally {
      this.hooks = undefined;
    }
    return parts ? w.finishParts() : w.finish();
  }

  /**
   * The envelope of a batch of queued calls: its list of `[method, [args…], kwargs]` written from
   * the flat queue without building it (the same bytes as the list built; kwargs `{}` for none).
   * The calls' values nest as in that list: a call at depth 2, its arguments at 3.
   */
  private batchCallItems(call: CallEnvelope, batch: QueuedCalls): void {
    this.listHead(4);
    this.value(call.object, 1);
    this.value(call.method, 1);
    const chunks = batch.chunks;
    // room for the whole list at once (3 bytes per queued value is enough for small calls), so a
    // batch of 40,000 calls is not copied a dozen times as the writer grows by a quarter
    let slots = 0;
    for (let c = 0; c < chunks.length; c++) slots += batch.end(c);
    this.w.ensure(3 * slots + 16);
    this.listHead(batch.length);
    for (let c = 0; c < chunks.length; c++) {
      const items = chunks[c]!;
      const end = batch.end(c);
      let i = 0;
      while (i < end) i = this.queuedCall(items, i);
    }
    this.value(call.kwargs, 1);
  }

  /**
   * Writes the queued call at `items[i]` as `[method, [args…], kwargs]`; returns where the next
   * starts. One call per invocation: it is optimized during the first batches, so a large batch
   * never runs its 40,000 calls in a loop still waiting for on-stack replacement.
   */
  private queuedCall(items: unknown[], i: number): number {
    this.listHead(3);
    this.value(items[i++], 2);
    const n = items[i++] as number;
    this.listHead(n);
    for (let k = 0; k < n; k++) this.value(items[i++], 3);
    const kwargs = items[i++];
    if (kwargs === null) this.emptyMap();
    else this.value(kwargs, 2);
    return i;
  }
}

/** Turns anything thrown while encoding into a typed error (stack overflow, hook errors stay typed). */
export function wrapEncodeError(err: unknown): unknown {
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new SerializeError('value nests too deeply for the call stack', { cause: err });
  }
  return err;
}
