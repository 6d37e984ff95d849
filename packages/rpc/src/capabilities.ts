// Cinder's capability negotiation. A Cinder client puts a `CNDR` annotation on its CONNECT; a Cinder
// daemon answers with the features both sides support in the CONNECTOK. Python Pyro peers ignore
// the annotation, so with them everything stays plain Pyro (one call at a time per connection).

export const CAPS_ANNOTATION = 'CNDR';
export const CAPS_VERSION = 1;

export const Capability = {
  /** Many calls in flight on one connection, replies matched by seq in any order. */
  MULTIPLEX: 0x01,
  /** The server may call back into objects the client passed (callbacks over the same connection). */
  CALLBACKS: 0x02,
  /** Streamed results are pushed with credit-based flow control instead of pulled item by item. */
  PUSH_STREAMS: 0x04,
  /** The client may cancel a call in progress. */
  CANCEL: 0x08,
} as const;

export const ALL_CAPABILITIES =
  Capability.MULTIPLEX | Capability.CALLBACKS | Capability.PUSH_STREAMS | Capability.CANCEL;

export function encodeCapabilities(flags: number): Uint8Array {
  return Uint8Array.of(CAPS_VERSION, (flags >>> 8) & 0xff, flags & 0xff);
}

/** The capability flags in an annotation value, or 0 when it is absent or malformed. */
export function decodeCapabilities(value: Uint8Array | undefined): number {
  if (value === undefined || value.length < 3 || value[0]! < 1) return 0;
  return ((value[1]! << 8) | value[2]!) & ALL_CAPABILITIES;
}
