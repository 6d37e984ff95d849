// Incremental frame reader for one byte stream (one connection). It accepts chunks exactly as
// the socket delivers them, split or coalesced, and hands out complete Messages. The size limit
// is checked from the header before a frame's bytes are gathered, chunks are joined at most once
// per frame, and a frame that lies inside one chunk is decoded in place without copying.
import { CinderError, ConfigError, ProtocolError } from '@cinder/core';
import { view, viewSource } from './bytes.js';
import { asBuffer, decodeBody, frameSize, keyOrNull } from './codec.js';
import { HEADER_SIZE_502, PREFIX_SIZE } from './constants.js';
import { checkPrefix, headerSize, newFrameHeader, parseHeader } from './header.js';
import type { Message, ProtocolVersion } from './message.js';

export interface FrameReaderOptions {
  /** Largest annotations + payload accepted (checked from the header, and again after inflating). */
  maxMessageSize: number;
  /** Largest payload a compressed frame may inflate to (default: what maxMessageSize allows). */
  maxInflatedSize?: number | undefined;
  /**
   * Versions accepted. With one, every frame must use it; with both, the first frame decides and
   * the rest of the stream must stay with that version.
   */
  versions: readonly ProtocolVersion[];
  /** Protocol 48 only: require and verify an `HMAC` annotation on every frame. */
  hmacKey?: Uint8Array | undefined;
}

/** Frames at least this large that span chunks are gathered into their own buffer as they arrive. */
const ASSEMBLE_FROM = 64 * 1024;
/** Size of the slabs that direct reads (`readTarget`) land in between large frames. */
const READ_SLAB_SIZE = 64 * 1024;
/** A slab with less room than this left is replaced rather than offered for the next read. */
const READ_SLAB_MIN = 16 * 1024;
/**
 * The first read of a connection lands in a small buffer cut from Node's shared pool: a
 * connection that only shakes hands and makes a call or two never gets a 64 KiB slab of its own,
 * whose external memory would make V8 run full GCs every few hundred connections.
 */
const FIRST_READ_SIZE = 2 * 1024;
/**
 * The first slab's rest is offered for the next read while it has this much room: a handshake and
 * a few small calls are read into it, and only a connection that reads more gets a 64 KiB slab.
 */
const FIRST_READ_MIN = 1024;
const NO_BYTES = Buffer.alloc(0);

export class FrameReader {
  readonly #max: number;
  readonly #maxInflated: number;
  readonly #hmacKey: Uint8Array | null;
  #accept502: boolean;
  #accept48: boolean;
  #version: ProtocolVersion | undefined;
  /** Unconsumed input; the first `#head` bytes of `#chunks[0]` are already consumed. */
  #chunks: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  /** Size of the frame being gathered once its header is parsed, 0 before. */
  #frameLength = 0;
  #prefixChecked = false;
  readonly #header = newFrameHeader();
  /** Where `#peek` found the bytes asked for: a chunk (in place) or the scratch buffer. */
  #peekBuf: Buffer = NO_BYTES;
  #peekOff = 0;
  /** Holds a header that spans chunks (made the first time one does). */
  #scratch: Buffer | null = null;
  #error: CinderError | undefined;
  /**
   * A large frame that spans chunks is gathered here as its bytes arrive, so socket chunks are
   * released at once instead of piling up until the frame is complete (less memory, less GC).
   */
  #assembly: Buffer | null = null;
  #assembled = 0;
  /** Direct reads: the slab the socket reads small frames and headers into, and how much is used. */
  #readSlab: Buffer = NO_BYTES;
  #readSlabUsed = 0;
  /** The slab's ArrayBuffer and offset, kept with it (views built from them cost half). */
  #readSlabArrayBuffer: ArrayBufferLike = NO_BYTES.buffer;
  #readSlabOffset = 0;
  /**
   * The buffer `readTarget` handed out last (a plain Uint8Array: the socket only reads into it),
   * and whether it is the rest of `#assembly`.
   */
  #target: Uint8Array = NO_BYTES;
  #targetIsAssembly = false;

  constructor(options: FrameReaderOptions) {
    const { maxMessageSize, versions } = options;
    if (!(maxMessageSize >= 0))
      throw new ConfigError(`maxMessageSize must be a number >= 0, got ${maxMessageSize}`);
    // one pass, no callback: a reader is made per connection
    let accept502 = false;
    let accept48 = false;
    let unknown = versions.length === 0;
    for (let i = 0; i < versions.length; i++) {
      const v = versions[i];
      if (v === 502) accept502 = true;
      else if (v === 48) accept48 = true;
      else unknown = true;
    }
    if (unknown) {
      throw new ConfigError(`versions must name 502 and/or 48, got [${versions.join(', ')}]`);
    }
    this.#max = maxMessageSize;
    const maxInflated = options.maxInflatedSize ?? maxMessageSize;
    if (!(maxInflated >= 0))
      throw new ConfigError(`maxInflatedSize must be a number >= 0, got ${maxInflated}`);
    this.#maxInflated = maxInflated;
    this.#hmacKey = keyOrNull(options.hmacKey);
    this.#accept502 = accept502;
    this.#accept48 = accept48;
    this.#version = accept502 !== accept48 ? (accept502 ? 502 : 48) : undefined;
  }

  /** The stream's protocol version: fixed when one version is accepted, else known after 6 bytes. */
  get version(): ProtocolVersion | undefined {
    return this.#version;
  }

  /** Bytes received but not yet handed out as messages. */
  get buffered(): number {
    return this.#buffered + (this.#assembly !== null ? this.#assembled : 0);
  }

  /** The error that stopped this reader, if any. */
  get error(): CinderError | undefined {
    return this.#error;
  }

  /**
   * Adds received bytes and calls `onMessage` for every frame they complete, in order. Throws
   * ProtocolError / MessageTooLargeError / SecurityError on invalid input; after that the reader
   * is poisoned and every later call throws the same error. If `onMessage` throws, the error
   * propagates, the reader stays usable, and frames still buffered are delivered by the next
   * `push` (an empty chunk will do).
   *
   * `ready`, when given, is asked before each frame is decoded; false stops delivery likewise
   * (flow control): the frames left stay as the bytes received — not decoded, not inflated — until
   * a later `push`. A reader told to wait holds what was read, never what it would decode to.
   */
  push(chunk: Uint8Array, onMessage: (message: Message) => void, ready?: () => boolean): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#assembly !== null && chunk.length > 0) {
      const assembly = this.#assembly;
      const count = Math.min(chunk.length, assembly.length - this.#assembled);
      assembly.set(count === chunk.length ? chunk : chunk.subarray(0, count), this.#assembled);
      this.#assembled += count;
      if (this.#assembled < assembly.length) return;
      chunk = chunk.subarray(count);
    }
    if (chunk.length > 0) {
      this.#chunks.push(asBuffer(chunk));
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (ready !== undefined && !ready()) return;
      let message: Message | null;
      try {
        message = this.#next();
      } catch (err) {
        throw this.#fail(err);
      }
      if (message === null) return;
      onMessage(message);
    }
  }

  /**
   * Direct reads: where the socket should put the next bytes it reads (Node's `onread.buffer`).
   * While a large frame is being gathered this is the rest of that frame's own buffer, so its
   * bytes go from the kernel straight to where the message will be decoded from, with no copy
   * and no short-lived chunk for the GC. Otherwise it is the free part of a slab; the bytes read
   * there are never overwritten (decoded messages may keep views into them). The read must not
   * overrun the returned buffer, and `commitRead` must be told about it before the next call.
   */
  readTarget(): Uint8Array {
    const assembly = this.#assembly;
    if (assembly !== null && this.#assembled < assembly.length && this.#error === undefined) {
      this.#target = new Uint8Array(
        assembly.buffer,
        assembly.byteOffset + this.#assembled,
        assembly.length - this.#assembled,
      );
      this.#targetIsAssembly = true;
      return this.#target;
    }
    const slabSize = this.#readSlab.length;
    if (slabSize - this.#readSlabUsed < (slabSize === FIRST_READ_SIZE ? FIRST_READ_MIN : READ_SLAB_MIN))
      this.#newReadSlab();
    const used = this.#readSlabUsed;
    this.#target = new Uint8Array(
      this.#readSlabArrayBuffer,
      this.#readSlabOffset + used,
      this.#readSlab.length - used,
    );
    this.#targetIsAssembly = false;
    return this.#target;
  }

  #newReadSlab(): void {
    const slab =
      this.#readSlab === NO_BYTES
        ? Buffer.allocUnsafe(FIRST_READ_SIZE)
        : Buffer.allocUnsafeSlow(READ_SLAB_SIZE);
    this.#readSlab = slab;
    this.#readSlabArrayBuffer = slab.buffer;
    this.#readSlabOffset = slab.byteOffset;
    this.#readSlabUsed = 0;
  }

  /**
   * Direct reads: `n` bytes were read into `buffer`. When that is the buffer `readTarget` returned
   * last they are taken in place. Any other buffer is one the caller gives up, the bytes past `n`
   * included (a read taken before the reader was attached): the reader's first such buffer, before
   * it has a slab, becomes its slab — its frames decoded in place, its free rest offered by
   * `readTarget` — and later ones are taken like a chunk given to `push`. Then complete frames are
   * handed to `onMessage` as `push` does.
   */
  commitRead(
    buffer: Uint8Array,
    n: number,
    onMessage: (message: Message) => void,
    ready?: () => boolean,
  ): void {
    if (buffer !== this.#target) {
      if (this.#readSlab !== NO_BYTES || this.#assembly !== null || !(n >= 0 && n <= buffer.length)) {
        this.push(buffer.subarray(0, n), onMessage, ready);
        return;
      }
      // a connection's first read, in a buffer of its own: its slab from now on
      const slab = asBuffer(buffer);
      this.#readSlab = slab;
      this.#readSlabArrayBuffer = slab.buffer;
      this.#readSlabOffset = slab.byteOffset;
      this.#readSlabUsed = 0;
      this.#targetIsAssembly = false;
    }
    this.#target = NO_BYTES;
    if (this.#error !== undefined) throw this.#error;
    if (this.#targetIsAssembly) {
      this.#assembled += n;
      if (this.#assembled < (this.#assembly as Buffer).length) return;
      this.push(NO_BYTES, onMessage, ready);
      return;
    }
    const start = this.#readSlabUsed;
    this.#readSlabUsed = start + n;
    if (this.#buffered === 0 && this.#frameLength === 0 && this.#assembly === null) {
      this.#deliverInPlace(start, start + n, onMessage, ready);
    } else {
      this.push(view(this.#readSlab, start, start + n), onMessage, ready);
    }
  }

  /**
   * A read into the slab with nothing else buffered (a sequential call's request or reply, a
   * burst of whole frames): the frames that lie wholly in it are decoded where they are, with no
   * chunk view or queue entry. The bytes of a frame the read did not complete go on as `push`
   * takes them (a large frame's assembly starts there); when `onMessage` throws or `ready` says
   * stop, what is left is kept as a chunk for the next `push`, as `push` keeps it.
   */
  #deliverInPlace(
    start: number,
    end: number,
    onMessage: (message: Message) => void,
    ready: (() => boolean) | undefined,
  ): void {
    const slab = this.#readSlab;
    let pos = start;
    viewSource(slab, this.#readSlabArrayBuffer, this.#readSlabOffset);
    try {
      for (;;) {
        if (ready !== undefined && !ready()) break;
        const left = end - pos;
        let message: Message | null = null;
        try {
          if (left >= PREFIX_SIZE) {
            const version = this.#checkPrefix(slab, pos);
            if (left >= headerSize(version)) {
              const header = this.#header;
              parseHeader(slab, pos, version, this.#max, header);
              const total = frameSize(header);
              if (left >= total) {
                message = decodeBody(slab, pos, header, this.#max, this.#hmacKey, this.#maxInflated);
                pos += total;
              }
            }
          }
        } catch (err) {
          throw this.#fail(err);
        }
        if (message === null) {
          // an incomplete frame: from here on as any other chunk
          if (pos === end) return;
          const rest = pos;
          pos = end;
          this.push(view(slab, rest, end), onMessage, ready);
          return;
        }
        onMessage(message);
      }
    } finally {
      if (pos < end) {
        this.#chunks.push(view(slab, pos, end));
        this.#buffered += end - pos;
      }
      viewSource(null);
    }
  }

  /** Checks a frame's prefix at `buf[off]`; the first frame fixes the version when both are accepted. */
  #checkPrefix(buf: Buffer, off: number): ProtocolVersion {
    const version = checkPrefix(buf, off, this.#accept502, this.#accept48);
    if (this.#version === undefined) {
      this.#version = version;
      this.#accept502 = version === 502;
      this.#accept48 = version === 48;
    }
    return version;
  }

  /** Poisons the reader with `err` (a CinderError, anything else as a ProtocolError) and returns it. */
  #fail(err: unknown): CinderError {
    // Anything else would be a bug here; it still must not escape as an untyped crash.
    this.#error =
      err instanceof CinderError ? err : new ProtocolError(`invalid frame: ${String(err)}`, { cause: err });
    return this.#error;
  }

  /** The next complete message, or null when more bytes are needed. */
  #next(): Message | null {
    if (this.#frameLength === 0) {
      if (!this.#prefixChecked) {
        if (this.#buffered < PREFIX_SIZE) return null;
        this.#peek(PREFIX_SIZE);
        this.#checkPrefix(this.#peekBuf, this.#peekOff);
        this.#prefixChecked = true;
      }
      const version = this.#version!;
      const size = headerSize(version);
      if (this.#buffered < size) return null;
      this.#peek(size);
      parseHeader(this.#peekBuf, this.#peekOff, version, this.#max, this.#header);
      this.#frameLength = frameSize(this.#header);
      this.#prefixChecked = false;
    }
    if (this.#assembly !== null) {
      if (this.#assembled < this.#assembly.length) return null;
      const frame = this.#assembly;
      this.#assembly = null;
      this.#frameLength = 0;
      return decodeBody(frame, 0, this.#header, this.#max, this.#hmacKey, this.#maxInflated);
    }
    if (this.#buffered < this.#frameLength) {
      if (this.#frameLength >= ASSEMBLE_FROM && this.#buffered > 0) this.#startAssembly();
      return null;
    }
    this.#take(this.#frameLength);
    this.#frameLength = 0;
    return decodeBody(
      this.#peekBuf,
      this.#peekOff,
      this.#header,
      this.#max,
      this.#hmacKey,
      this.#maxInflated,
    );
  }

  /** Moves what is buffered of the current (large, incomplete) frame into its own buffer. */
  #startAssembly(): void {
    const frame = Buffer.allocUnsafeSlow(this.#frameLength);
    let filled = 0;
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      filled += chunk.copy(frame, filled, i === 0 ? this.#head : 0);
    }
    this.#chunks = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#assembly = frame;
    this.#assembled = filled;
  }

  /** Makes the first `n` buffered bytes readable at `#peekBuf[#peekOff]` without consuming them. */
  #peek(n: number): void {
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= n) {
      this.#peekBuf = first;
      this.#peekOff = this.#head;
      return;
    }
    const scratch = (this.#scratch ??= Buffer.alloc(HEADER_SIZE_502));
    let filled = first.copy(scratch, 0, this.#head);
    for (let i = 1; filled < n; i++) {
      const chunk = this.#chunks[i]!;
      filled += chunk.copy(scratch, filled, 0, Math.min(chunk.length, n - filled));
    }
    this.#peekBuf = scratch;
    this.#peekOff = 0;
  }

  /**
   * Consumes the next `n` bytes and makes them readable at `#peekBuf[#peekOff]`: in place when
   * they lie in the first chunk, else joined once into a buffer of exactly `n` bytes.
   */
  #take(n: number): void {
    const chunks = this.#chunks;
    const first = chunks[0]!;
    this.#buffered -= n;
    if (first.length - this.#head >= n) {
      this.#peekBuf = first;
      this.#peekOff = this.#head;
      this.#head += n;
      if (this.#head === first.length) {
        chunks.shift();
        this.#head = 0;
      }
      return;
    }
    const frame = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    let head = this.#head;
    while (filled < n) {
      const chunk = chunks[used]!;
      const count = Math.min(chunk.length - head, n - filled);
      chunk.copy(frame, filled, head, head + count);
      filled += count;
      head += count;
      if (head === chunk.length) {
        used++;
        head = 0;
      }
    }
    chunks.splice(0, used);
    this.#head = head;
    this.#peekBuf = frame;
    this.#peekOff = 0;
  }
}
