// Comparisons of secrets that take the same time whatever the bytes are, so a peer cannot learn a
// MAC or token byte by byte from response times.
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two byte strings whose length is public (MACs, digests). Different
 * lengths return false at once: the length of a MAC reveals nothing.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Constant-time equality of two secrets whose length must not leak either (tokens, passwords):
 * both are hashed first so the comparison always runs over 32 bytes.
 */
export function secretEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
