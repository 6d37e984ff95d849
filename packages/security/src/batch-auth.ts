// Batch authentication between Cinder peers that agreed on it at the key hello: instead of one
// HMAC per message, the messages a side sends in one tick form a batch, and one HMAC-SHA256 over
// all of them (and the batch's number) follows them in a trailer. The receiver holds a batch's
// messages until its trailer verifies, so nothing of a tampered, reordered, truncated, replayed or
// injected batch is ever acted on. See docs/security.md ("Authenticated pipelining").
import { createHmac, type Hmac, type KeyObject } from 'node:crypto';
import { PING_SERIALIZER_ID, SecurityError } from '@cinder/core';
import { controlMessage, Flags, type Message, MsgType } from '@cinder/protocol';
import {
  ANNOTATION_HEADER_LENGTH,
  FIELDS_LENGTH,
  MAC_LENGTH,
  writeAnnotationHeader,
  writeFields,
  writeU64,
} from './canonical.js';
import { constantTimeEqual } from './constant-time.js';

/** Annotation of a batch trailer (its value is the batch's MAC). */
export const BATCH_ANNOTATION = 'CBAT';
/**
 * Annotation on the key hello PING listing the batch schemes the client supports (one byte each),
 * and on the daemon's answer naming the one it chose.
 */
export const BATCH_OFFER_ANNOTATION = 'CBAV';
/** The batch scheme described here. */
export const BATCH_SCHEME_VERSION = 1;
/** A batch is sealed before it holds more messages than this… */
export const MAX_BATCH_MESSAGES = 1024;
/** …or before a message is added once it covers this many bytes (so one large message may follow). */
export const MAX_BATCH_BYTES = 256 * 1024;

/**
 * First byte of every batch MAC's input. The per-message MAC's input starts with a 64-bit counter
 * whose first byte is 0, so no batch MAC can stand for a message MAC, or the reverse.
 */
const BATCH_DOMAIN = 0xb1;
/** Canonical bytes are gathered in a scratch buffer of this size and hashed in one update. */
const SCRATCH_SIZE = 16 * 1024;
/** Values larger than this are hashed where they are rather than copied into the scratch buffer. */
const COPY_LIMIT = 2048;

/** True when `message` is a batch trailer (whatever its validity). */
export function isBatchTrailer(message: Message): boolean {
  return message.type === MsgType.PING && message.annotations?.has(BATCH_ANNOTATION) === true;
}

/** The running MAC of one direction's open batch. */
class BatchMac {
  readonly #key: KeyObject;
  #hmac: Hmac | null = null;
  /** Batches sealed (or verified) so far: the number of the open batch. */
  counter = 0;
  /** Messages and canonical bytes in the open batch. */
  count = 0;
  bytes = 0;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
  #pos = 0;

  constructor(key: KeyObject) {
    this.#key = key;
  }

  get full(): boolean {
    return this.count >= MAX_BATCH_MESSAGES || this.bytes >= MAX_BATCH_BYTES;
  }

  /** Adds one message's canonical bytes (payload and `tail` as one payload). */
  absorb(message: Message, tail: readonly Uint8Array[] | undefined): void {
    if (this.#hmac === null) {
      this.#hmac = createHmac('sha256', this.#key);
      this.#scratch[0] = BATCH_DOMAIN;
      writeU64(this.#scratch, this.counter, 1);
      this.#pos = 9;
    }
    const annotations = message.annotations;
    let annotationCount = 0;
    let annotationBytes = 0;
    if (annotations !== null) {
      for (const value of annotations.values()) {
        annotationCount++;
        annotationBytes += ANNOTATION_HEADER_LENGTH + value.length;
      }
    }
    const payload = message.payload;
    let payloadLength = payload.length;
    if (tail !== undefined) for (let i = 0; i < tail.length; i++) payloadLength += tail[i]!.length;
    this.count++;
    this.bytes += FIELDS_LENGTH + annotationBytes + payloadLength;

    this.#room(FIELDS_LENGTH);
    writeFields(this.#scratch, this.#pos, message, annotationCount, payloadLength);
    this.#pos += FIELDS_LENGTH;
    if (annotations !== null) {
      for (const [id, value] of annotations) {
        this.#room(ANNOTATION_HEADER_LENGTH);
        this.#pos = writeAnnotationHeader(this.#scratch, this.#pos, id, value.length);
        this.#append(value);
      }
    }
    this.#append(payload);
    if (tail !== undefined) for (let i = 0; i < tail.length; i++) this.#append(tail[i]!);
  }

  /** Closes the open batch: its MAC. */
  digest(): Buffer {
    this.#room(4);
    this.#scratch.writeUInt32BE(this.count, this.#pos);
    this.#pos += 4;
    const hmac = this.#hmac as Hmac;
    hmac.update(this.#scratch.subarray(0, this.#pos));
    const mac = hmac.digest();
    this.#hmac = null;
    this.#pos = 0;
    this.count = 0;
    this.bytes = 0;
    this.counter++;
    return mac;
  }

  /** Makes room for `n` bytes in the scratch buffer (hashing what it holds if needed). */
  #room(n: number): void {
    if (this.#pos + n > SCRATCH_SIZE) {
      (this.#hmac as Hmac).update(this.#scratch.subarray(0, this.#pos));
      this.#pos = 0;
    }
  }

  #append(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n <= COPY_LIMIT) {
      this.#room(n);
      this.#scratch.set(bytes, this.#pos);
      this.#pos += n;
      return;
    }
    // large: hash what is gathered, then the bytes where they are (update() does not keep them)
    const hmac = this.#hmac as Hmac;
    if (this.#pos > 0) hmac.update(this.#scratch.subarray(0, this.#pos));
    this.#pos = 0;
    hmac.update(bytes);
  }
}

/**
 * Signs outgoing and verifies incoming batches of one connection (one instance per connection, made
 * by the key exchange with that connection's session keys).
 *
 * Sending: for every message, in wire order, `sealIfFull()` (a trailer to send first, when the open
 * batch is full), then the message is sent, then `add(message)`; at the end of the tick `seal()`
 * gives the trailer that closes the batch. Receiving: every message read goes to `receive()`, which
 * holds it and returns null, or — for a trailer that verifies — returns the batch's messages in
 * order. After a failure every later `receive` fails: the connection must be closed.
 */
export class BatchAuthenticator {
  readonly #send: BatchMac;
  readonly #receive: BatchMac;
  #held: Message[] = [];
  #failure: SecurityError | null = null;

  constructor(sendKey: KeyObject, receiveKey: KeyObject) {
    this.#send = new BatchMac(sendKey);
    this.#receive = new BatchMac(receiveKey);
  }

  /** Batches sealed so far. */
  get sealed(): number {
    return this.#send.counter;
  }

  /** Batches verified so far. */
  get verified(): number {
    return this.#receive.counter;
  }

  /** True once a verification failed. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Adds a message just sent to the open batch (a payload tail counts as part of the payload). */
  add(message: Message): void {
    this.#send.absorb(message, message.payloadTail);
  }

  /** The trailer closing the open batch when it is full (send it before the next message), else null. */
  sealIfFull(): Message | null {
    return this.#send.full ? this.seal() : null;
  }

  /** The trailer closing the open batch, or null when nothing was added since the last one. */
  seal(): Message | null {
    if (this.#send.count === 0) return null;
    return controlMessage(BATCH_ANNOTATION, this.#send.digest());
  }

  /**
   * Takes a message read: null while the batch is open (the message is held), the batch's messages
   * once its trailer verifies. Throws SecurityError for a wrong or malformed trailer, an empty
   * batch, or a batch longer than a sender may make.
   */
  receive(message: Message): Message[] | null {
    if (this.#failure) throw this.#failure;
    const mac = this.#receive;
    if (isBatchTrailer(message)) {
      const value = message.annotations!.get(BATCH_ANNOTATION)!;
      if (
        message.flags !== Flags.ONEWAY ||
        message.seq !== 0 ||
        message.serializerId !== PING_SERIALIZER_ID ||
        message.correlationId !== null ||
        message.annotations!.size !== 1 ||
        message.payload.length !== 0 ||
        value.length !== MAC_LENGTH
      ) {
        throw this.#fail('malformed batch trailer');
      }
      if (mac.count === 0) throw this.#fail('batch trailer without a batch');
      if (!constantTimeEqual(mac.digest(), value)) throw this.#fail('batch authentication failed');
      const batch = this.#held;
      this.#held = [];
      return batch;
    }
    if (mac.full) {
      throw this.#fail(
        `batch not sealed after ${mac.count} messages (${mac.bytes} bytes): longer than a peer may send`,
      );
    }
    try {
      mac.absorb(message, undefined);
    } catch (err) {
      // a malformed field (non-ASCII annotation id, bad correlation id) cannot have been signed
      throw this.#fail('batch authentication failed', err);
    }
    this.#held.push(message);
    return null;
  }

  #fail(reason: string, cause?: unknown): SecurityError {
    this.#held = [];
    this.#failure = new SecurityError(reason, cause === undefined ? undefined : { cause });
    return this.#failure;
  }
}
