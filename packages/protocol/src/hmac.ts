// Pyro4's message HMAC: HMAC-SHA1 over the payload as sent (compressed if it is), then over the
// value of every other annotation in sorted-id order. Pyro5 dropped it; it exists for Pyro4 peers.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CORR_ANNOTATION, HMAC_ANNOTATION } from './constants.js';

/**
 * The HMAC annotation value Pyro4 puts on a message. `annotations` are the frame's annotations;
 * an `HMAC` entry among them is skipped. When `correlationId` is given it counts as the `CORR`
 * annotation (the codec carries it outside the map).
 */
export function pyro4Hmac(
  key: Uint8Array,
  payload: Uint8Array,
  annotations: ReadonlyMap<string, Uint8Array> | null,
  correlationId?: Uint8Array | null,
): Buffer {
  const mac = createHmac('sha1', key).update(payload);
  const corr = correlationId ?? null;
  if (annotations === null || annotations.size === 0) {
    if (corr !== null) mac.update(corr);
    return mac.digest();
  }
  const ids: string[] = [];
  for (const id of annotations.keys()) {
    if (id !== HMAC_ANNOTATION && !(corr !== null && id === CORR_ANNOTATION)) ids.push(id);
  }
  if (corr !== null) ids.push(CORR_ANNOTATION);
  // Python sorts str keys by code point; for ASCII ids that is plain `<` ordering.
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const id of ids)
    mac.update(id === CORR_ANNOTATION && corr !== null ? corr : (annotations.get(id) as Uint8Array));
  return mac.digest();
}

/** Constant-time comparison of a received HMAC with the expected one. */
export function hmacMatches(received: Uint8Array, expected: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected);
}
