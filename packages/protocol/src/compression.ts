// zlib for payloads: Pyro compresses payloads (never annotations) as an RFC 1950 stream. Inflating
// is bounded so a small compressed frame cannot make the receiver allocate more than its limit.
import { deflateSync, inflateSync } from 'node:zlib';
import { ProtocolError } from '@cinder/core';

/** zlib-compresses `data` at `level` (Pyro5: 4; Pyro4: zlib's default, -1). */
export function deflatePayload(data: Uint8Array, level: number): Buffer {
  return deflateSync(data, { level });
}

/**
 * Inflates a compressed payload, refusing to produce more than `maxOutput` bytes. Node stops
 * inflating as soon as the output passes `maxOutputLength` (it checks after every internal chunk),
 * so a zlib bomb costs at most that much memory and the time to inflate it, never the whole stream.
 */
export function inflatePayload(data: Uint8Array, maxOutput: number): Buffer {
  let out: Buffer;
  try {
    // maxOutputLength must be at least 1; a limit of 0 is enforced by the check below.
    out = inflateSync(data, { maxOutputLength: Math.max(1, maxOutput) });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ProtocolError(
        `compressed payload inflates to more than the message size or inflate limit (max=${maxOutput})`,
        {
          cause: err,
        },
      );
    }
    throw new ProtocolError(`invalid compressed payload: ${(err as Error).message}`, { cause: err });
  }
  if (out.length > maxOutput) {
    throw new ProtocolError(
      `compressed payload inflates to more than the message size or inflate limit (max=${maxOutput})`,
    );
  }
  return out;
}
