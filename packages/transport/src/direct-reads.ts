// Direct reads: a TCP or Unix socket that reads into buffers we hand it (Node's `onread` option)
// instead of allocating a fresh chunk for every read. The connection's FrameReader chooses each
// buffer: the rest of a large frame's own buffer while one is being gathered, so bulk data goes
// from the kernel to where the message is decoded from without a copy in between, and without a
// 64 KiB chunk per read for the GC to collect (see FrameReader.readTarget).
import type { OnReadOpts, Socket } from 'node:net';

/** Where a socket's reads go once its connection exists. */
export interface ReadSink {
  /** The buffer for the next read. */
  target(): Uint8Array;
  /** `n` bytes were read into `buffer` (the order of Node's `onread.callback`). */
  read(n: number, buffer: Uint8Array): void;
}

/**
 * Reads taken before a sink is attached (a socket dialed with `onread` reads from its connect on)
 * land in buffers of this size (never reused), cut from Node's shared pool: a slab of its own per
 * connection would make V8 run full GCs for its external memory. An accepted socket is adopted
 * with its sink (SocketConnection.startReading), so its reads never go here.
 */
const EARLY_READ_SIZE = 2 * 1024;
/**
 * Reading stops once this much waits for a sink (the socket's Readable would stop at its
 * highWaterMark likewise); the connection resumes the socket when it attaches.
 */
const EARLY_READ_LIMIT = 64 * 1024;

/**
 * The `onread` option of one socket. Until the connection attaches its sink (when it gets its
 * handler), reads go to fresh buffers that are kept, up to EARLY_READ_LIMIT bytes, and handed to
 * the sink as they are. Reading goes on meanwhile so that the peer's FIN is seen, as it would be
 * by a socket that buffers in its Readable.
 */
export class DirectReads {
  #sink: ReadSink | null = null;
  /** Reads taken before the sink was attached (made by the first one: a dialed socket reads after). */
  #early: Array<{ buffer: Uint8Array; n: number }> | null = null;
  #earlyBytes = 0;

  /** `onread.buffer`: called once when the socket gets its handle, then after every read. */
  readonly buffer = (): Uint8Array => this.#sink?.target() ?? Buffer.allocUnsafe(EARLY_READ_SIZE);

  /** `onread.callback`: false stops reading (Node then calls readStop), only before a sink exists. */
  readonly callback = (n: number, buffer: Uint8Array): boolean => {
    if (this.#sink !== null) {
      this.#sink.read(n, buffer);
      return true;
    }
    (this.#early ??= []).push({ buffer, n });
    this.#earlyBytes += n;
    return this.#earlyBytes < EARLY_READ_LIMIT;
  };

  attach(sink: ReadSink): void {
    this.#sink = sink;
    const early = this.#early;
    if (early === null) return;
    this.#early = null;
    this.#earlyBytes = 0;
    for (const { buffer, n } of early) sink.read(n, buffer);
  }
}

/**
 * `net.connect`'s `onread` option that makes the socket read through `reads`: the DirectReads
 * itself (its own `buffer` and `callback`), no object per connection.
 */
export function onreadOption(reads: DirectReads): OnReadOpts {
  return reads;
}

interface ReadSlots {
  kBuffer: symbol;
  kBufferCb: symbol;
  kBufferGen: symbol;
}

/**
 * net.Socket's private read slots, found by name on the first socket and kept: every socket of this
 * Node has the same symbols (looking them up cost a symbol list and a Map per connection).
 */
let readSlots: ReadSlots | null | undefined;

function readSlotsOf(socket: Socket): ReadSlots | null {
  if (readSlots !== undefined) {
    const own = Object.prototype.hasOwnProperty;
    return readSlots !== null &&
      own.call(socket, readSlots.kBuffer) &&
      own.call(socket, readSlots.kBufferCb) &&
      own.call(socket, readSlots.kBufferGen)
      ? readSlots
      : null;
  }
  let kBuffer: symbol | undefined;
  let kBufferCb: symbol | undefined;
  let kBufferGen: symbol | undefined;
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === 'kBuffer') kBuffer = s;
    else if (s.description === 'kBufferCb') kBufferCb = s;
    else if (s.description === 'kBufferGen') kBufferGen = s;
  }
  readSlots =
    kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined
      ? { kBuffer, kBufferCb, kBufferGen }
      : null;
  return readSlots;
}

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * The read slots of an accepted socket that can be switched to direct reads: null when this Node
 * does not have them, or when the socket has read something already (it waits in the socket's
 * buffer: the socket then emits 'data').
 */
function adoptableSlots(socket: Socket): ReadSlots | null {
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (typeof handle?.useUserBuffer !== 'function') return null;
  const found = readSlotsOf(socket);
  if (found === null) return null;
  const slots = socket as unknown as Record<symbol, unknown>;
  if (slots[found.kBuffer] != null || slots[found.kBufferCb] != null || slots[found.kBufferGen] != null)
    return null;
  if (socket.readableLength > 0) return null;
  return found;
}

/**
 * Makes `socket` read into what `buffer` gives and report each read to `callback`, the way
 * `new net.Socket({ onread })` sets itself up: the socket's own `kBuffer`, `kBufferCb` and
 * `kBufferGen` slots (Node 18–22 read them in `onStreamRead`), then the handle's user buffer.
 */
function readInto(
  socket: Socket,
  found: ReadSlots,
  buffer: () => Uint8Array,
  callback: (n: number, buffer: Uint8Array) => unknown,
): void {
  const slots = socket as unknown as Record<symbol, unknown>;
  const first = buffer();
  slots[found.kBufferGen] = buffer;
  slots[found.kBufferCb] = callback;
  slots[found.kBuffer] = first;
  // the handle adoptableSlots found
  (socket as unknown as { _handle: UserBufferHandle })._handle.useUserBuffer(first);
}

/**
 * Switches an accepted socket (net.Server has no `onread` option) to direct reads into `sink` from
 * the first read on: the sink's own `target` and `read` are the socket's buffer and callback (no
 * DirectReads, nothing kept early). Returns false, and changes nothing, when it cannot (see adoptableSlots).
 */
export function adoptReadsInto(socket: Socket, sink: ReadSink): boolean {
  const found = adoptableSlots(socket);
  if (found === null) return false;
  readInto(socket, found, sink.target, sink.read);
  return true;
}

/**
 * Whether the handle under `socket` is reading now (Node's `handle.reading`). Direct reads bypass
 * the socket's Readable: while its handle reads, `socket.resume()` would only switch the Readable
 * to flowing (a tick, a 'resume' event and a read(0)) for data that never goes through it. The end
 * of the stream does not need it either: on EOF Node pushes null and calls read(0) itself.
 */
export function handleReading(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { reading?: boolean } | null })._handle;
  return handle?.reading === true;
}
