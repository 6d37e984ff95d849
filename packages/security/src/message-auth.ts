// Per-message authentication between Cinder peers once the shared-key handshake has agreed on
// session keys: every message carries an HMAC-SHA256 over all of its fields and an implicit
// per-direction counter, so tampering, replay, reordering and cross-connection replay all fail.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { ProtocolError, SecurityError } from '@cinder/core';
import type { Message } from '@cinder/protocol';
import type { BatchAuthenticator } from './batch-auth.js';
import { FIELDS_LENGTH, writeAnnotationHeader, writeFields, writeU64 } from './canonical.js';
import { constantTimeEqual } from './constant-time.js';
import type { SharedKey } from './shared-key.js';

/** Annotation carrying the message authentication code. */
export const MAC_ANNOTATION = 'CMAC';
// The length of a MAC (full HMAC-SHA256 output; shorter values are refused) is in canonical.ts,
// shared with the batch MAC.
export { MAC_LENGTH } from './canonical.js';

// counter u64 | the message's fixed fields (canonical.ts)
const FIXED_LENGTH = 8 + FIELDS_LENGTH;
// Messages up to this size are copied into one scratch buffer and hashed in one update call:
// crossing into the native hash once is cheaper than copying a few hundred bytes.
const INLINE_LIMIT = 1024;

/** The two session keys of one connection. */
export interface SessionKeys {
  clientToServer: KeyObject;
  serverToClient: KeyObject;
}

/**
 * Derives the session keys of one connection: HKDF-SHA256 with the shared key as input, both
 * nonces as salt and the direction and scheme version as info. Fresh nonces on every connection
 * make every connection's keys different.
 */
export function deriveSessionKeys(
  key: SharedKey,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
  version: number,
): SessionKeys {
  const salt = Buffer.concat([clientNonce, serverNonce]);
  const derive = (direction: string) =>
    createSecretKey(
      Buffer.from(hkdfSync('sha256', key.secret, salt, `cinder shared-key v${version} ${direction}`, 32)),
    );
  return { clientToServer: derive('client->server'), serverToClient: derive('server->client') };
}

/**
 * Signs outgoing and verifies incoming messages of one connection. Counters are implicit: the
 * n-th message sent in a direction is MAC'd with counter n, so `sign` must run in exactly the
 * order messages go on the wire (call it right before `Connection.send`), and `verify` in the
 * order they arrive. After a failed verification every later `verify` fails too: the connection
 * must be closed.
 */
export class MessageAuthenticator {
  readonly #sendKey: KeyObject;
  readonly #receiveKey: KeyObject;
  #sendCounter = 0;
  #receiveCounter = 0;
  #failure: SecurityError | null = null;
  /**
   * Set when both peers agreed on batch authentication at the key hello: then only the first
   * message of each direction (CONNECT, and CONNECTOK or CONNECTFAIL) is signed and verified here,
   * and every later one is covered by a batch MAC.
   */
  batches: BatchAuthenticator | null = null;
  // sign and verify are synchronous, so one scratch buffer per connection serves both.
  readonly #scratch = Buffer.allocUnsafe(FIXED_LENGTH + INLINE_LIMIT);

  constructor(sendKey: KeyObject, receiveKey: KeyObject) {
    this.#sendKey = sendKey;
    this.#receiveKey = receiveKey;
  }

  /** Messages signed so far. */
  get sent(): number {
    return this.#sendCounter;
  }

  /** Messages verified so far. */
  get received(): number {
    return this.#receiveCounter;
  }

  /** True once a verification failed. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /**
   * Adds the `CMAC` annotation to `message` (replacing any). The annotation map is modified in
   * place, so it must belong to this message alone; a message without annotations gets a new map.
   */
  sign(message: Message): void {
    const mac = this.#compute(this.#sendKey, this.#sendCounter, message);
    this.#sendCounter++;
    const annotations = message.annotations;
    if (annotations === null) {
      message.annotations = new Map([[MAC_ANNOTATION, mac]]);
    } else {
      // Re-inserting keeps CMAC last, which keeps the wire order of the other annotations intact.
      annotations.delete(MAC_ANNOTATION);
      annotations.set(MAC_ANNOTATION, mac);
    }
  }

  /**
   * Checks the `CMAC` annotation of a received message and removes it, so it never reaches
   * application code. Throws SecurityError when it is missing or wrong.
   */
  verify(message: Message): void {
    if (this.#failure) throw this.#failure;
    const mac = message.annotations?.get(MAC_ANNOTATION);
    if (mac === undefined) {
      throw this.#fail('message is not authenticated (no CMAC annotation, but a shared key is in use)');
    }
    let expected: Buffer;
    try {
      expected = this.#compute(this.#receiveKey, this.#receiveCounter, message);
    } catch (err) {
      // A malformed field (non-ASCII annotation id, bad correlation id) cannot have been signed.
      throw this.#fail('message authentication failed', err);
    }
    // Length is checked inside constantTimeEqual; a truncated MAC simply fails.
    if (!constantTimeEqual(expected, mac)) throw this.#fail('message authentication failed');
    this.#receiveCounter++;
    message.annotations!.delete(MAC_ANNOTATION);
  }

  #fail(reason: string, cause?: unknown): SecurityError {
    this.#failure = new SecurityError(reason, cause === undefined ? undefined : { cause });
    return this.#failure;
  }

  #compute(key: KeyObject, counter: number, message: Message): Buffer {
    const s = this.#scratch;
    const annotations = message.annotations;
    const payload = message.payload;
    let count = 0;
    let annotationBytes = 0;
    if (annotations !== null) {
      for (const [id, value] of annotations) {
        if (id === MAC_ANNOTATION) continue;
        if (id.length !== 4)
          throw new ProtocolError(`annotation id must be 4 ASCII characters: ${JSON.stringify(id)}`);
        count++;
        annotationBytes += 8 + value.length;
      }
    }
    writeU64(s, counter, 0);
    writeFields(s, 8, message, count, payload.length);

    const hmac = createHmac('sha256', key);
    const total = FIXED_LENGTH + annotationBytes + payload.length;
    if (total <= s.length) {
      let offset = FIXED_LENGTH;
      if (annotations !== null) {
        for (const [id, value] of annotations) {
          if (id === MAC_ANNOTATION) continue;
          offset = writeAnnotationHeader(s, offset, id, value.length);
          s.set(value, offset);
          offset += value.length;
        }
      }
      s.set(payload, offset);
      hmac.update(s.subarray(0, total));
    } else {
      hmac.update(s.subarray(0, FIXED_LENGTH));
      if (annotations !== null) {
        for (const [id, value] of annotations) {
          if (id === MAC_ANNOTATION) continue;
          // update() copies into the hash state at once, so the scratch area can be reused.
          hmac.update(s.subarray(FIXED_LENGTH, writeAnnotationHeader(s, FIXED_LENGTH, id, value.length)));
          hmac.update(value);
        }
      }
      hmac.update(payload);
    }
    return hmac.digest();
  }
}
