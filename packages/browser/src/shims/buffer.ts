// The subset of Node's Buffer the engine uses, on Uint8Array and the platform's TextEncoder/
// TextDecoder/atob/btoa. Injected by the browser build in place of the global `Buffer` (and
// `node:buffer`), so the bundle pulls in no Node built-in. Subarrays stay Buffers (species), and
// `slice` copies (Uint8Array's meaning) where Node's returns a view: the engine only reads them.
const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8');
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

type Encoding = 'utf8' | 'utf-8' | 'latin1' | 'binary' | 'ascii' | 'hex' | 'base64' | 'utf16le';

function latin1Decode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return out;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export class Buffer extends Uint8Array {
  static alloc(size: number, fill?: number): Buffer {
    const b = new Buffer(size);
    if (fill !== undefined && fill !== 0) b.fill(fill);
    return b;
  }

  static allocUnsafe(size: number): Buffer {
    return new Buffer(size);
  }

  static allocUnsafeSlow(size: number): Buffer {
    return new Buffer(size);
  }

  static isBuffer(value: unknown): value is Buffer {
    return value instanceof Buffer;
  }

  static byteLength(value: string | Uint8Array, encoding: Encoding = 'utf8'): number {
    if (typeof value !== 'string') return value.byteLength;
    if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') return value.length;
    if (encoding === 'utf16le') return value.length * 2;
    if (encoding === 'hex') return value.length >>> 1;
    if (encoding === 'base64') return Buffer.from(value, 'base64').length;
    return utf8Length(value);
  }

  static compare(a: Uint8Array, b: Uint8Array): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }

  static concat(list: readonly Uint8Array[], total?: number): Buffer {
    const size = total ?? list.reduce((n, b) => n + b.length, 0);
    const out = new Buffer(size);
    let p = 0;
    for (const b of list) {
      if (p >= size) break;
      const part = b.length > size - p ? b.subarray(0, size - p) : b;
      out.set(part, p);
      p += part.length;
    }
    return out;
  }

  static override from(value: unknown, encodingOrOffset?: unknown, length?: number): Buffer {
    if (typeof value === 'string') return fromString(value, (encodingOrOffset as Encoding) ?? 'utf8');
    if (
      value instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
    ) {
      const offset = (encodingOrOffset as number | undefined) ?? 0;
      return new Buffer(value as ArrayBuffer, offset, length ?? (value as ArrayBuffer).byteLength - offset);
    }
    if (ArrayBuffer.isView(value)) {
      const src = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      const out = new Buffer(src.length);
      out.set(src);
      return out;
    }
    if (Array.isArray(value)) return new Buffer(value as number[]);
    throw new TypeError('Buffer.from: unsupported value');
  }

  override toString(encoding: Encoding = 'utf8', start = 0, end = this.length): string {
    const bytes = start === 0 && end === this.length ? this : this.subarray(start, end);
    switch (encoding) {
      case 'latin1':
      case 'binary':
        return latin1Decode(bytes);
      case 'ascii':
        return latin1Decode(bytes.map((b) => b & 0x7f));
      case 'hex': {
        let out = '';
        for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
        return out;
      }
      case 'base64':
        return btoa(latin1Decode(bytes));
      case 'utf16le': {
        let out = '';
        for (let i = 0; i + 1 < bytes.length; i += 2) {
          out += String.fromCharCode((bytes[i] as number) | ((bytes[i + 1] as number) << 8));
        }
        return out;
      }
      default:
        return utf8.decode(bytes);
    }
  }

  /** write(string, offset?, length?, encoding?) and write(string, offset, encoding). */
  write(text: string, offset = 0, lengthOrEncoding?: number | Encoding, maybeEncoding?: Encoding): number {
    let length = this.length - offset;
    let encoding: Encoding = 'utf8';
    if (typeof lengthOrEncoding === 'string') encoding = lengthOrEncoding;
    else {
      if (lengthOrEncoding !== undefined) length = Math.min(length, lengthOrEncoding);
      if (maybeEncoding !== undefined) encoding = maybeEncoding;
    }
    if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') {
      const n = Math.min(length, text.length);
      for (let i = 0; i < n; i++) this[offset + i] = text.charCodeAt(i) & 0xff;
      return n;
    }
    const bytes = fromString(text, encoding);
    const n = Math.min(length, bytes.length);
    this.set(bytes.subarray(0, n), offset);
    return n;
  }

  copy(target: Uint8Array, targetStart = 0, sourceStart = 0, sourceEnd = this.length): number {
    const n = Math.max(0, Math.min(sourceEnd - sourceStart, target.length - targetStart));
    target.set(this.subarray(sourceStart, sourceStart + n), targetStart);
    return n;
  }

  equals(other: Uint8Array): boolean {
    return Buffer.compare(this, other) === 0;
  }

  compare(other: Uint8Array): number {
    return Buffer.compare(this, other);
  }

  writeUInt16BE(value: number, offset = 0): number {
    this[offset] = (value >>> 8) & 0xff;
    this[offset + 1] = value & 0xff;
    return offset + 2;
  }

  writeUInt32BE(value: number, offset = 0): number {
    this[offset] = (value >>> 24) & 0xff;
    this[offset + 1] = (value >>> 16) & 0xff;
    this[offset + 2] = (value >>> 8) & 0xff;
    this[offset + 3] = value & 0xff;
    return offset + 4;
  }

  readUInt16BE(offset = 0): number {
    return ((this[offset] as number) << 8) | (this[offset + 1] as number);
  }

  readUInt32BE(offset = 0): number {
    return (
      (this[offset] as number) * 0x1000000 +
      (((this[offset + 1] as number) << 16) |
        ((this[offset + 2] as number) << 8) |
        (this[offset + 3] as number))
    );
  }
}

function fromString(text: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'latin1':
    case 'binary':
    case 'ascii': {
      const out = new Buffer(text.length);
      for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
      return out;
    }
    case 'hex': {
      const n = text.length >>> 1;
      const out = new Buffer(n);
      for (let i = 0; i < n; i++) {
        const byte = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
        if (Number.isNaN(byte)) return out.subarray(0, i) as Buffer;
        out[i] = byte;
      }
      return out;
    }
    case 'base64': {
      const clean = text.replace(/[^A-Za-z0-9+/]/g, '');
      return fromString(atob(clean + '='.repeat((4 - (clean.length % 4)) % 4)), 'latin1');
    }
    default: {
      const bytes = encoder.encode(text);
      return new Buffer(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }
}

/** node:buffer's isUtf8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
