// Call envelopes as each format lays them out on the wire (pyro-reference §2.7), and the strict
// check of a received one: it comes from the network, so every part is verified before use.
//   json:    {"object": id, "method": name, "params": [args], "kwargs": {…} | null}
//   serpent: (id, name, (args,), {…})   marshal: (id, name, [args] (Pyro4: (args,)), {…})
//   (`<batch>` calls carry their args as a list, as Pyro's batch proxy passes them)
//   msgpack, cbor: [id, name, [args], {…}]
import { SerializeError } from '@cinder/core';
import { Tuple } from './pyvalues.js';
import { QueuedCalls } from './queued-calls.js';
import type { CallEnvelope } from './serializer.js';

const getProto = Object.getPrototypeOf;

/** Checks the caller's envelope before encoding, so a bad call fails locally with a clear message. */
export function checkOutgoingCall(call: CallEnvelope): void {
  if (typeof call !== 'object' || call === null) throw new SerializeError('call envelope must be an object');
  if (typeof call.object !== 'string') throw new SerializeError('call envelope: object id must be a string');
  if (typeof call.method !== 'string') throw new SerializeError('call envelope: method must be a string');
  if (!Array.isArray(call.params)) throw new SerializeError('call envelope: params must be an array');
  if (call.kwargs !== null && !isDict(call.kwargs)) {
    throw new SerializeError('call envelope: kwargs must be a plain object or null');
  }
}

/** The four parts of a received call as a CallEnvelope, or a SerializeError saying what is wrong. */
export function callFromParts(
  format: string,
  object: unknown,
  method: unknown,
  params: unknown,
  kwargs: unknown,
): CallEnvelope {
  if (typeof object !== 'string') throw new SerializeError(`${format} call: object id must be a string`);
  if (typeof method !== 'string') throw new SerializeError(`${format} call: method must be a string`);
  if (!Array.isArray(params)) throw new SerializeError(`${format} call: params must be a list or tuple`);
  if (kwargs !== null && !isDict(kwargs)) {
    throw new SerializeError(`${format} call: kwargs must be a dict with string keys or None`);
  }
  return { object, method, params, kwargs };
}

/** A call received as a 4-item array or tuple (serpent, marshal, msgpack, cbor). */
export function callFromSequence(format: string, value: unknown): CallEnvelope {
  if (!Array.isArray(value) || value.length !== 4) {
    throw new SerializeError(`${format} call: expected a 4-item sequence (object, method, params, kwargs)`);
  }
  return callFromParts(format, value[0], value[1], value[2], value[3]);
}

const JSON_CALL_KEYS = ['object', 'method', 'params', 'kwargs'];

/** A call received as json's object with exactly the keys object, method, params, kwargs. */
export function callFromObject(format: string, value: unknown): CallEnvelope {
  if (!isDict(value))
    throw new SerializeError(`${format} call: expected an object with object, method, params, kwargs`);
  const keys = Object.keys(value);
  for (const key of JSON_CALL_KEYS) {
    if (!Object.hasOwn(value, key)) throw new SerializeError(`${format} call: missing key "${key}"`);
  }
  if (keys.length !== JSON_CALL_KEYS.length) {
    const extra = keys.filter((k) => !JSON_CALL_KEYS.includes(k));
    throw new SerializeError(
      `${format} call: unexpected key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  return callFromParts(format, value.object, value.method, value.params, value.kwargs);
}

/**
 * A call's positional params as the envelope carries them: `params`, or for a batch whose calls
 * are in `batch`, the list of them (`(method, (args…), kwargs)` tuples when `tuples`).
 */
export function outgoingParams(call: CallEnvelope, tuples: boolean): unknown[] {
  const batch = call.batch;
  if (batch === undefined) return call.params;
  if (batch instanceof QueuedCalls) return batch.toList(tuples);
  return [...batch];
}

/** The envelope with its batch (if any) as params, for the formats that build the envelope. */
export function withParams(call: CallEnvelope, tuples: boolean): CallEnvelope {
  if (call.batch === undefined) return call;
  return {
    object: call.object,
    method: call.method,
    params: outgoingParams(call, tuples),
    kwargs: call.kwargs,
  };
}

/** The json envelope, keys in Pyro's order. */
export function jsonEnvelope(call: CallEnvelope): Record<string, unknown> {
  return { object: call.object, method: call.method, params: call.params, kwargs: call.kwargs };
}

/**
 * Pyro writes the positional args as the caller passed them: a tuple for ordinary calls (Python's
 * `*args`), a list for `<batch>`. A Tuple stays a tuple; a plain array follows that rule.
 */
function pythonArgs(call: CallEnvelope): unknown[] {
  if (call.params instanceof Tuple || call.method === BATCH) return call.params;
  return Tuple.fromArray(call.params);
}

const BATCH = '<batch>';

/** serpent's envelope: `(object, method, args, kwargs)`. */
export function serpentEnvelope(call: CallEnvelope): Tuple {
  return Tuple.of<unknown>(call.object, call.method, pythonArgs(call), call.kwargs);
}

/** marshal's envelope: Pyro5 always sends the args as a list, Pyro4 as the caller passed them. */
export function marshalEnvelope(call: CallEnvelope, dialect: 4 | 5): Tuple {
  let params: unknown[];
  if (dialect === 4) params = pythonArgs(call);
  else params = call.params instanceof Tuple ? [...call.params] : call.params;
  return Tuple.of<unknown>(call.object, call.method, params, call.kwargs);
}

/** A plain object (or one without a prototype): what a decoded dict with string keys is. */
export function isDict(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = getProto(value) as unknown;
  return proto === Object.prototype || proto === null;
}
