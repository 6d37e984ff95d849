// The Serializer interface: how values and call envelopes become payload bytes, per format.
// Every format (cbor, json, msgpack, serpent, marshal) implements it and runs one compliance suite.

/** A remote call as Pyro lays it out (§2.7): object id, method, positional and keyword arguments. */
export interface CallEnvelope {
  object: string;
  method: string;
  params: unknown[];
  /** Keyword arguments; `null` for Pyro's `__getattr__`, `__setattr__` and `<batch>` calls. */
  kwargs: Record<string, unknown> | null;
  /**
   * Set on a received `<batch>` call decoded lazily (`decodeBatchCall`): its list of calls, each
   * decoded when iterated; `params` is then empty.
   */
  batch?: BatchCalls;
}

/**
 * The calls of a received `<batch>` call, decoded one at a time as they are iterated, so a large
 * batch is never held decoded as a whole. The whole payload was checked (budget, depth, validity)
 * before it was made: iterating it cannot fail.
 */
export interface BatchCalls extends Iterable<unknown> {
  /** How many calls the batch holds. */
  readonly length: number;
}

/** Which Pyro dialect a serializer instance speaks: decides class names such as `Pyro5.core.URI`. */
export type PyroDialect = 4 | 5;

/**
 * Hooks one encode/decode call may use: the daemon and the proxy put per-connection behaviour here
 * (autoproxy of registered objects, callbacks, proxies received as values).
 */
export interface CodecHooks {
  /**
   * Called for every object outside the value model: class instances (registered or not), typed
   * arrays and buffers, and functions (which can only travel as whatever this returns, e.g. a
   * callback reference). Not called for plain values, Map, Set, Tuple, Complex, Uint8Array, Date or
   * Error. Return a replacement to encode instead, or `undefined` to fall back to the registry and
   * the default object encoding (for functions: a SerializeError).
   */
  replace?(value: object): unknown;
  /** Called for every `__class__` dict the registry does not know; return a value or `undefined`. */
  revive?(className: string, dict: Record<string, unknown>): unknown;
}

export interface Serializer {
  /** Lower-case name: `cbor`, `json`, `msgpack`, `serpent`, `marshal`. */
  readonly name: string;
  /** Pyro5-numbered id (see `SerializerId` in @cinder/protocol). */
  readonly id: number;
  /** Whether the format keeps `Uint8Array` binary on the wire (false: base64 dict). */
  readonly binary: boolean;
  encode(value: unknown, hooks?: CodecHooks): Uint8Array;
  decode(data: Uint8Array, hooks?: CodecHooks): unknown;
  encodeCall(call: CallEnvelope, hooks?: CodecHooks): Uint8Array;
  decodeCall(data: Uint8Array, hooks?: CodecHooks): CallEnvelope;
  /**
   * Like `encode`, but large byte strings are referenced instead of copied: the payload is the
   * concatenation of the parts (send them with `payloadTail`). The referenced buffers belong to the
   * caller and must not change until the parts are written. Binary formats only.
   */
  encodeParts?(value: unknown, hooks?: CodecHooks): Uint8Array[];
  /**
   * `decodeCall` for a message flagged as a batch: the list of calls is left in the payload and
   * decoded call by call as it is iterated (`batch`). Returns null when the payload is anything but
   * a plain batch (a tag, an ext, a class dict, an error or a budget overrun anywhere in it): then
   * decode it with `decodeCall`, which refuses or reads it as always. Binary formats only.
   */
  decodeBatchCall?(data: Uint8Array, hooks?: CodecHooks): CallEnvelope | null;
  /** `encodeCall` with large byte strings referenced (see `encodeParts`). */
  encodeCallParts?(call: CallEnvelope, hooks?: CodecHooks): Uint8Array[];
}
