// Output buffer for the binary encoders (msgpack, cbor). Payloads are carved out of a shared slab:
// each encode appends to the slab and returns a view of what it wrote, so a small message costs no
// allocation and no copy. Views handed out are never written again; a full slab is simply replaced.

const SLAB_SIZE = 32 * 1024;
/** Messages larger than this get a buffer of their own instead of wasting the rest of a slab. */
const OWN_BUFFER_THRESHOLD = 16 * 1024;
/** Strings up to this many UTF-16 units are encoded in JavaScript; longer ones natively. */
const JS_STRING_LIMIT = 48;
/**
 * Byte strings at least this long are referenced, not copied, when the caller asked for parts
 * (`begin(true)` … `finishParts()`): the payload then leaves as several chunks in one writev.
 */
export const REFERENCE_THRESHOLD = 64 * 1024;
const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);

export class ByteWriter {
  // The slab is allocated on first use: a serializer set that never encodes costs nothing.
  buf: Buffer = EMPTY;
  view: DataView = EMPTY_VIEW;
  /**
   * `buf`'s ArrayBuffer and offset in it, kept with it: a payload view built from them costs half
   * of one built from `buf.buffer` and `buf.byteOffset` (two accessor calls per message).
   */
  private ab: ArrayBufferLike = EMPTY.buffer;
  private abOffset = EMPTY.byteOffset;
  /** Write position in `buf`. */
  pos = 0;
  /** Where the message being written starts in `buf`. */
  private start = 0;
  /**
   * True between begin() and finish()/abort(). An encode started from inside another (a hook that
   * encodes) must use a writer of its own.
   */
  busy = false;
  /** Whether large byte strings may be referenced instead of copied (this message only). */
  private references = false;
  /** Finished segments and referenced byte strings, in order, once a reference was made. */
  private parts: Uint8Array[] | null = null;

  /** Starts a new message; with `references`, large byte strings are referenced (see finishParts). */
  begin(references = false): void {
    this.references = references;
    // Keep messages 8-byte aligned within the slab so typed-array views over them stay possible.
    let p = (this.pos + 7) & ~7;
    if (this.buf.length - p < 256) {
      this.replace(SLAB_SIZE);
      p = 0;
    }
    this.start = this.pos = p;
    this.busy = true;
  }

  /**
   * Ends a message begun with `begin(true)`: its payload is the concatenation of the parts, some of
   * which are the caller's own byte strings (never copied, so they must not change until written).
   */
  finishParts(): Uint8Array[] {
    const parts = this.parts;
    if (parts === null) return [this.finish()];
    this.parts = null;
    if (this.pos > this.start) parts.push(this.finish());
    else this.busy = false;
    return parts;
  }

  /** Ends the message and returns it; the bytes are never touched again by this writer. */
  finish(): Uint8Array {
    if (this.parts !== null) {
      // references were made, but the caller wants one buffer: join (rare, e.g. a nested encode)
      const parts = this.finishParts();
      return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    }
    // A plain Uint8Array view: cheaper to make than Buffer#subarray's Buffer.
    const out = new Uint8Array(this.ab, this.abOffset + this.start, this.pos - this.start);
    this.start = this.pos;
    this.busy = false;
    return out;
  }

  /** Abandons the message being written (after an error), so its bytes can be reused. */
  abort(): void {
    this.parts = null;
    this.pos = this.start;
    this.busy = false;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const used = this.pos - this.start;
    const needed = used + n;
    const size =
      needed <= SLAB_SIZE - 256 ? SLAB_SIZE : Math.max(needed + (needed >>> 2), OWN_BUFFER_THRESHOLD);
    const old = this.buf;
    const oldStart = this.start;
    this.replace(size);
    old.copy(this.buf, 0, oldStart, oldStart + used);
    this.start = 0;
    this.pos = used;
  }

  private replace(size: number): void {
    const buf = Buffer.allocUnsafeSlow(size);
    this.buf = buf;
    this.ab = buf.buffer;
    this.abOffset = buf.byteOffset;
    this.view = new DataView(this.ab, this.abOffset, buf.byteLength);
    this.start = this.pos = 0;
  }

  u8(v: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  u8u8(a: number, b: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    this.buf[this.pos++] = a;
    this.buf[this.pos++] = b;
  }

  u8u16(a: number, v: number): void {
    if (this.pos + 3 > this.buf.length) this.grow(3);
    this.buf[this.pos] = a;
    this.view.setUint16(this.pos + 1, v);
    this.pos += 3;
  }

  u8u32(a: number, v: number): void {
    if (this.pos + 5 > this.buf.length) this.grow(5);
    this.buf[this.pos] = a;
    this.view.setUint32(this.pos + 1, v);
    this.pos += 5;
  }

  u8u64(a: number, v: bigint): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    this.buf[this.pos] = a;
    this.view.setBigUint64(this.pos + 1, v);
    this.pos += 9;
  }

  /** A type byte followed by an unsigned integer < 2^64 given as a non-negative safe number. */
  u8u64n(a: number, v: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    this.buf[this.pos] = a;
    this.view.setUint32(this.pos + 1, Math.floor(v / 0x1_0000_0000));
    this.view.setUint32(this.pos + 5, v >>> 0);
    this.pos += 9;
  }

  u8f32(a: number, v: number): void {
    if (this.pos + 5 > this.buf.length) this.grow(5);
    this.buf[this.pos] = a;
    this.view.setFloat32(this.pos + 1, v);
    this.pos += 5;
  }

  u8f64(a: number, v: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    this.buf[this.pos] = a;
    this.view.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  f64le(v: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  i64le(v: bigint): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    if (this.references && b.length >= REFERENCE_THRESHOLD) {
      // close the segment written so far (it stays in the slab, never rewritten) and reference b
      const parts = (this.parts ??= []);
      if (this.pos > this.start) {
        parts.push(new Uint8Array(this.ab, this.abOffset + this.start, this.pos - this.start));
        this.start = this.pos;
      }
      parts.push(b);
      return;
    }
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  latin1(s: string): void {
    if (this.pos + s.length > this.buf.length) this.grow(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /**
   * Writes `s` as UTF-8 after a length header. Strings of fewer than `smallLimit` bytes get the
   * one-byte header `smallBase | length`; for longer ones `header(w, byteLength)` writes it.
   */
  utf8(
    s: string,
    smallBase: number,
    smallLimit: number,
    header: (w: ByteWriter, byteLength: number) => void,
  ): void {
    const n = s.length;
    if (n < smallLimit) {
      // Fast path for short ASCII (most names and keys): header byte, then one byte per char.
      if (this.pos + 1 + n > this.buf.length) this.grow(1 + n);
      const buf = this.buf;
      const at = this.pos;
      let p = at + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[at] = smallBase | n;
        this.pos = p;
        return;
      }
    }
    if (n <= JS_STRING_LIMIT) {
      this.shortUtf8(s, smallBase, smallLimit, header);
      return;
    }
    const len = Buffer.byteLength(s, 'utf8');
    if (len < smallLimit) this.u8(smallBase | len);
    else header(this, len);
    if (this.pos + len > this.buf.length) this.grow(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** Short non-ASCII strings: encoded in JavaScript after room for a 2-byte header, then moved up if 1 byte sufficed. */
  private shortUtf8(
    s: string,
    smallBase: number,
    smallLimit: number,
    header: (w: ByteWriter, byteLength: number) => void,
  ): void {
    const n = s.length;
    if (this.pos + 2 + n * 3 > this.buf.length) this.grow(2 + n * 3);
    const buf = this.buf;
    const headerAt = this.pos;
    let p = headerAt + 2;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c < 0xe000) {
        const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d < 0xe000) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        } else {
          // A lone surrogate cannot be UTF-8: U+FFFD, as Buffer and TextEncoder write it.
          buf[p++] = 0xef;
          buf[p++] = 0xbf;
          buf[p++] = 0xbd;
        }
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    const len = p - headerAt - 2;
    this.pos = headerAt;
    if (len < smallLimit) this.u8(smallBase | len);
    else header(this, len);
    const gap = headerAt + 2 - this.pos;
    if (gap !== 0) buf.copyWithin(this.pos, headerAt + 2, p);
    this.pos = p - gap;
  }
}
