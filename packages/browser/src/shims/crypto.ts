// node:crypto in the browser build: random bytes from the platform; everything else (HMACs, key
// exchange, certificates: the shared-key handshake and Pyro4 HMAC) is not available there.
import { Buffer } from './buffer.js';

export function randomFillSync<T extends Uint8Array>(
  buffer: T,
  offset = 0,
  size = buffer.length - offset,
): T {
  for (let p = offset; p < offset + size; p += 65536) {
    crypto.getRandomValues(buffer.subarray(p, Math.min(offset + size, p + 65536)));
  }
  return buffer;
}

export function randomBytes(size: number): Buffer {
  return randomFillSync(Buffer.alloc(size));
}

function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser build (no shared keys or Pyro4 HMAC there)`);
}

export const createHash = (): never => unavailable('createHash');
export const createHmac = (): never => unavailable('createHmac');
export const createSecretKey = (): never => unavailable('createSecretKey');
export const createPrivateKey = (): never => unavailable('createPrivateKey');
export const hkdfSync = (): never => unavailable('hkdfSync');
export const timingSafeEqual = (): never => unavailable('timingSafeEqual');
export class X509Certificate {
  constructor() {
    unavailable('X509Certificate');
  }
}
