// Replaying the Pyro wire vectors (tooling/test-utils/vectors, README there): raw frames over a raw
// socket, frame splitting without the protocol package (so a framing bug there cannot hide itself),
// and the three ways a frame is compared — exact bytes, bytes with the mask zeroed, or decoded
// (header fields and a canonical form of the payload).
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';
import { Complex, Tuple, URI } from '@cinder/cinder';
import { decodeMessage, type Message, pyro4Hmac } from '@cinder/protocol';
import { ExceptionWrapper, type SerializerSet } from '@cinder/serializers';
import { applyMask, createPyRender, frameBytes, type VectorLine } from '@cinder/test-utils';

export const render = createPyRender({ Tuple, Complex });

/** The number of bytes a complete frame starting at `buf[0]` needs, or undefined if unknown yet. */
function frameLength(buf: Buffer): number | undefined {
  if (buf.length < 6) return undefined;
  const version = buf.readUInt16BE(4);
  if (version === 502) return buf.length < 40 ? undefined : 40 + buf.readUInt32BE(16) + buf.readUInt32BE(12);
  if (version === 48) return buf.length < 24 ? undefined : 24 + buf.readUInt16BE(18) + buf.readInt32BE(12);
  throw new Error(
    `peer sent a frame with protocol version ${version}: ${buf.subarray(0, 40).toString('hex')}`,
  );
}

/** A client socket that hands out whole frames (as raw bytes) or the fact that the peer closed. */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private closed = false;
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    const end = () => {
      this.closed = true;
      this.waiter?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static wrap(socket: Socket): RawConnection {
    return new RawConnection(socket);
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame, `'closed'` when the peer closed first, or `'timeout'`. */
  async next(timeoutMs = 3000): Promise<Buffer | 'closed' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const length = frameLength(this.buffer);
      if (length !== undefined && this.buffer.length >= length) {
        const frame = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        return Buffer.from(frame);
      }
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The decoded header fields a `decoded` comparison looks at (lengths and ids left out). */
export interface HeaderView {
  type: number;
  flags: number;
  seq: number;
  serializerId: number;
  hasCorrelationId: boolean;
  annotations: string[];
}

export function headerView(m: Message): HeaderView {
  return {
    type: m.type,
    flags: m.flags,
    seq: m.seq,
    serializerId: m.serializerId,
    hasCorrelationId: m.correlationId !== null,
    annotations: [...(m.annotations?.keys() ?? [])].sort(),
  };
}

export interface NormalizeOptions {
  /** Replace every string (the `info()` text carries a port and the server's description). */
  ignoreStrings?: boolean;
  /** Treat tuples as lists (where Python accepts either). */
  tuplesAsLists?: boolean;
}

const META_KEYS = 'attrs,methods,oneway';

/**
 * A comparable form of a decoded payload: errors become their exception dict without traceback
 * (and without Cinder's `_jsClass` hint), metadata lists and sets become sorted lists, URIs their
 * text. Everything else keeps what `render.canon` can tell apart (tuples, sets, maps, bigints, -0).
 */
export function normalize(value: unknown, set: SerializerSet, options: NormalizeOptions = {}): unknown {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return options.ignoreStrings ? '<text>' : v;
    if (typeof v !== 'object' || v === null) return v;
    if (v instanceof Error) {
      const dict = set.encodeError(v);
      const attributes = { ...(dict.attributes as Record<string, unknown>) };
      delete attributes._pyroTraceback;
      delete attributes._jsClass;
      return walk({ ...dict, attributes });
    }
    if (v instanceof ExceptionWrapper) return { wrapped: walk(v.exception) };
    if (v instanceof URI) return `uri:${v.toString()}`;
    if (v instanceof Tuple)
      return options.tuplesAsLists ? [...v].map(walk) : Tuple.fromArray([...v].map(walk));
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Set) return new Set([...v].map(walk));
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [walk(k), walk(x)]));
    if (v instanceof Uint8Array || v instanceof Complex) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if ([...keys].sort().join(',') === META_KEYS) {
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const items = o[k];
        out[k] = [...(items instanceof Set ? items : (items as unknown[]))].map(String).sort();
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = walk(o[k]);
    return out;
  };
  return walk(value);
}

export interface DecodedFrame {
  message: Message;
  header: HeaderView;
  /** Canonical text of the normalized payload (PING payloads: their hex). */
  payload: string;
}

/** Decodes a frame and its payload with Cinder's codecs (`hmacKey` for signed Pyro4 frames). */
export function decodeFrame(
  frame: Uint8Array,
  sets: { 4: SerializerSet; 5: SerializerSet },
  options: NormalizeOptions & { hmacKey?: Uint8Array } = {},
): DecodedFrame {
  const message = decodeMessage(frame, options.hmacKey ? { hmacKey: options.hmacKey } : {});
  const version = Buffer.from(frame).readUInt16BE(4);
  const set = version === 48 ? sets[4] : sets[5];
  let payload: string;
  if (message.serializerId === 42) {
    payload = `ping:${Buffer.from(message.payload).toString('hex')}`;
  } else {
    const serializer = set.byId(message.serializerId);
    if (!serializer) throw new Error(`no serializer with id ${message.serializerId}`);
    let value: unknown;
    try {
      value =
        message.type === 4 ? serializer.decodeCall(message.payload) : serializer.decode(message.payload);
    } catch (err) {
      value = `undecodable: ${(err as Error).message}`;
    }
    payload = render.canon(normalize(value, set, options));
  }
  return { message, header: headerView(message), payload };
}

/** Why a frame differs: undefined when it matches as the line's `compare` says. */
export function compareFrame(
  line: VectorLine,
  actual: Buffer,
  mode: 'exact' | 'masked' | 'decoded' | 'decoded-lists',
  sets: { 4: SerializerSet; 5: SerializerSet },
  options: NormalizeOptions & { hmacKey?: Uint8Array } = {},
): string | undefined {
  const expected = frameBytes(line);
  if (mode === 'exact') {
    return expected.equals(actual)
      ? undefined
      : `bytes differ:\n  want ${hex(expected)}\n  got  ${hex(actual)}`;
  }
  if (mode === 'masked') {
    if (expected.length !== actual.length)
      return `length ${actual.length}, want ${expected.length}:\n  want ${hex(expected)}\n  got  ${hex(actual)}`;
    const a = applyMask(actual, line.mask);
    const e = applyMask(expected, line.mask);
    return e.equals(a) ? undefined : `masked bytes differ:\n  want ${hex(e)}\n  got  ${hex(a)}`;
  }
  let want: DecodedFrame;
  let got: DecodedFrame;
  const decodeOptions = mode === 'decoded-lists' ? { ...options, tuplesAsLists: true } : options;
  try {
    want = decodeFrame(expected, sets, decodeOptions);
    got = decodeFrame(actual, sets, decodeOptions);
  } catch (err) {
    return `cannot decode: ${(err as Error).message}\n  want ${hex(expected)}\n  got  ${hex(actual)}`;
  }
  const wh = JSON.stringify(want.header);
  const gh = JSON.stringify(got.header);
  if (wh !== gh) return `header differs:\n  want ${wh}\n  got  ${gh}`;
  if (want.payload !== got.payload) return `payload differs:\n  want ${want.payload}\n  got  ${got.payload}`;
  return undefined;
}

function hex(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return h.length > 400 ? `${h.slice(0, 400)}… (${b.length} bytes)` : h;
}

/** The stream id of a RESULT that started a stream (`STRM` annotation), from the line's record. */
export function recordedStreamId(line: VectorLine): string | undefined {
  const value = line.annotations?.STRM;
  return value === undefined ? undefined : Buffer.from(value, 'hex').toString('latin1');
}

/**
 * A recorded client frame with stream ids replaced (same length, so the header stays valid);
 * signed Pyro4 frames are re-encoded so their HMAC covers the new payload.
 */
export function substituteStreamIds(
  line: VectorLine,
  ids: ReadonlyMap<string, string>,
  hmacKey: Uint8Array | undefined,
): Buffer {
  const frame = frameBytes(line);
  let text = frame.toString('latin1');
  let changed = false;
  for (const [recorded, actual] of ids) {
    if (text.includes(recorded)) {
      text = text.split(recorded).join(actual);
      changed = true;
    }
  }
  if (!changed) return frame;
  const replaced = Buffer.from(text, 'latin1');
  if (line.protocol !== 48 || hmacKey === undefined) return replaced;
  return resignPyro4(replaced, hmacKey);
}

/** Recomputes the `HMAC` annotation of a Pyro4 frame in place (its payload changed). */
function resignPyro4(frame: Buffer, key: Uint8Array): Buffer {
  const annotationsEnd = 24 + frame.readUInt16BE(18);
  const others = new Map<string, Uint8Array>();
  let macAt = -1;
  for (let p = 24; p < annotationsEnd; ) {
    const id = frame.toString('latin1', p, p + 4);
    const length = frame.readUInt16BE(p + 4);
    if (id === 'HMAC') macAt = p + 6;
    else others.set(id, frame.subarray(p + 6, p + 6 + length));
    p += 6 + length;
  }
  if (macAt < 0) return frame;
  const payload = frame.subarray(annotationsEnd, annotationsEnd + frame.readInt32BE(12));
  pyro4Hmac(key, payload, others).copy(frame, macAt);
  return frame;
}

// -------------------------------------------------------------------------------------------------
// Server replay: a scenario's client frames go to a Cinder daemon over a raw socket, its answers are
// compared with what the Python daemon answered.

/** What Cinder's answer to one recorded server frame (or event) is checked against instead. */
export interface Deviation {
  /** Scenarios it applies to (default: every scenario `match` accepts). */
  scenarios?: readonly string[];
  /** Vector files it applies to (default: every file the test replays). */
  files?: readonly string[];
  /** Steps it applies to (default: every server step of the scenario). */
  steps?: readonly number[];
  /** Any other condition on the recorded line. */
  match?: (line: VectorLine) => boolean;
  /**
   * `decoded`: compare decoded instead of bytes (`decoded-lists`: tuples count as lists).
   * `same-size`: the bytes, or else the same length
   * and the same decoded frame. `skip`: the recorded step does not happen with Cinder (e.g. a close
   * Pyro performs and Cinder does not). A function: a custom check of what Cinder sent (returns the
   * problem, or undefined).
   */
  expect:
    | 'decoded'
    | 'decoded-lists'
    | 'same-size'
    | 'skip'
    | ((actual: Buffer | 'closed' | 'timeout', line: VectorLine) => string | undefined);
  /**
   * Client replay only, on a recorded server frame: the answer to send instead, made from the
   * client's last request (for a request that differs on purpose, e.g. in its sequence number).
   */
  reply?: (request: Buffer, line: VectorLine) => Buffer;
  /** Why Cinder differs here (also listed in packages/cinder/docs/interop.md). */
  why: string;
}

export interface ReplayContext {
  port: number;
  sets: { 4: SerializerSet; 5: SerializerSet };
  hmacKey?: Uint8Array;
  deviations: readonly Deviation[];
  /** How long to wait for an answer (ms). */
  timeoutMs?: number;
}

function deviationFor(line: VectorLine, deviations: readonly Deviation[]): Deviation | undefined {
  return deviations.find(
    (d) =>
      (d.scenarios === undefined || d.scenarios.includes(line.scenario)) &&
      (d.files === undefined || d.files.includes(line.file)) &&
      (d.steps === undefined || d.steps.includes(line.step)) &&
      (d.match === undefined || d.match(line)),
  );
}

/**
 * Replays one scenario against a daemon and returns every difference found (empty: conformant).
 * Recorded stream ids in client frames are replaced by the ones the daemon handed out.
 */
export async function replayAgainstServer(
  lines: readonly VectorLine[],
  ctx: ReplayContext,
): Promise<string[]> {
  const problems: string[] = [];
  const streamIds = new Map<string, string>();
  const conn = await RawConnection.open(ctx.port);
  const timeoutMs = ctx.timeoutMs ?? 3000;
  const options = {
    ...(ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {}),
    ...(lines[0]?.scenario === 'daemon_info' ? { ignoreStrings: true } : {}),
  };
  try {
    for (const line of lines) {
      const where = `step ${line.step}`;
      if (line.direction === 'c2s') {
        if (line.frame_hex !== null) conn.send(substituteStreamIds(line, streamIds, ctx.hmacKey));
        continue;
      }
      const deviation = deviationFor(line, ctx.deviations);
      if (deviation?.expect === 'skip') continue;
      const waitMs = line.event === 'no-reply' ? 300 : timeoutMs;
      const actual = await conn.next(waitMs);
      if (typeof deviation?.expect === 'function') {
        const problem = deviation.expect(actual, line);
        if (problem) problems.push(`${where} (deviation: ${deviation.why}): ${problem}`);
        continue;
      }
      if (line.event === 'closed') {
        if (actual !== 'closed')
          problems.push(`${where}: expected the daemon to close, got ${describe(actual)}`);
        continue;
      }
      if (line.event === 'no-reply') {
        if (actual !== 'timeout') problems.push(`${where}: expected no reply, got ${describe(actual)}`);
        continue;
      }
      if (line.event !== undefined) {
        problems.push(`${where}: unhandled event ${line.event}`);
        continue;
      }
      if (typeof actual === 'string') {
        problems.push(
          `${where}: expected a frame, the daemon ${actual === 'closed' ? 'closed' : 'sent nothing'}`,
        );
        break;
      }
      const recordedId = recordedStreamId(line);
      if (recordedId !== undefined) {
        const m = decodeMessage(actual, ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {});
        const id = m.annotations?.get('STRM');
        if (id !== undefined) streamIds.set(recordedId, Buffer.from(id).toString('latin1'));
      }
      // Python tracebacks cannot be reproduced: such frames are compared decoded, traceback ignored.
      const mode =
        deviation?.expect === 'decoded' || deviation?.expect === 'decoded-lists'
          ? deviation.expect
          : line.nondeterministic.includes('traceback') || line.compare === 'event'
            ? 'decoded'
            : line.compare;
      let problem = compareFrame(line, actual, mode, ctx.sets, options);
      if (problem && deviation?.expect === 'same-size') {
        const size = frameBytes(line).length === actual.length ? undefined : 'the sizes differ';
        problem = size ?? compareFrame(line, actual, 'decoded', ctx.sets, options);
      }
      if (problem) problems.push(`${where} (${mode}): ${problem}`);
    }
  } finally {
    conn.close();
  }
  return problems;
}

function describe(actual: Buffer | 'closed' | 'timeout'): string {
  return typeof actual === 'string' ? actual : `a frame ${actual.subarray(0, 48).toString('hex')}…`;
}

/**
 * A custom check: Cinder answered with a RESULT (flags `flags`, Pyro5 numbering) whose payload
 * decodes to `expected` (compared canonically).
 */
export function answersWith(
  sets: { 4: SerializerSet; 5: SerializerSet },
  expected: unknown,
  flags: number,
  hmacKey?: Uint8Array,
): (actual: Buffer | 'closed' | 'timeout', line: VectorLine) => string | undefined {
  return (actual, line) => {
    if (typeof actual === 'string') return `expected a RESULT, the daemon ${actual}`;
    const got = decodeFrame(actual, sets, hmacKey && line.file.includes('hmac') ? { hmacKey } : {});
    const set = line.protocol === 48 ? sets[4] : sets[5];
    const want = render.canon(normalize(expected, set));
    if (got.header.type !== 5 || got.header.flags !== flags)
      return `expected RESULT with flags ${flags}, got ${JSON.stringify(got.header)}`;
    return got.payload === want ? undefined : `payload ${got.payload}, want ${want}`;
  };
}

/** A custom check: the same bytes as recorded once flags and correlation id are left out. */
export function sameWithoutCorrelation(
  actual: Buffer | 'closed' | 'timeout',
  line: VectorLine,
): string | undefined {
  if (typeof actual === 'string') return `expected a frame, the daemon ${actual}`;
  const blank = (frame: Buffer) => {
    const copy = Buffer.from(frame);
    copy.fill(0, 8, 10); // flags
    copy.fill(0, 20, 36); // correlation id
    return copy;
  };
  const want = blank(frameBytes(line));
  const got = blank(actual);
  return want.equals(got) ? undefined : `want ${want.toString('hex')}\n  got  ${got.toString('hex')}`;
}

// -------------------------------------------------------------------------------------------------
// Client replay: a fake server answers a Cinder proxy with the recorded server frames, and the
// proxy's frames are compared with what Pyro's own client sent.

/**
 * A frame without one annotation chunk (Cinder's `CNDR` capability offer, which a Pyro peer
 * ignores): lengths fixed, a Pyro4 header checksum and HMAC recomputed.
 */
export function withoutAnnotation(frame: Buffer, id: string, hmacKey?: Uint8Array): Buffer {
  const v48 = frame.readUInt16BE(4) === 48;
  const headerSize = v48 ? 24 : 40;
  const annotationsLength = v48 ? frame.readUInt16BE(18) : frame.readUInt32BE(16);
  const chunkHeader = v48 ? 6 : 8;
  const kept: Buffer[] = [];
  let removed = 0;
  for (let p = headerSize; p < headerSize + annotationsLength; ) {
    const length = v48 ? frame.readUInt16BE(p + 4) : frame.readUInt32BE(p + 4);
    const chunk = frame.subarray(p, p + chunkHeader + length);
    if (frame.toString('latin1', p, p + 4) === id) removed += chunk.length;
    else kept.push(chunk);
    p += chunk.length;
  }
  if (removed === 0) return frame;
  const header = Buffer.from(frame.subarray(0, headerSize));
  if (v48) {
    header.writeUInt16BE(annotationsLength - removed, 18);
    // checksum = type + version + data length + annotations length + serializer + flags + seq + magic
    const sum =
      header.readUInt16BE(6) +
      48 +
      header.readInt32BE(12) +
      (annotationsLength - removed) +
      header.readUInt16BE(16) +
      header.readUInt16BE(8) +
      header.readUInt16BE(10) +
      0x34e9;
    header.writeUInt16BE(sum & 0xffff, 22);
  } else {
    header.writeUInt32BE(annotationsLength - removed, 16);
  }
  const out = Buffer.concat([header, ...kept, frame.subarray(headerSize + annotationsLength)]);
  return v48 && hmacKey ? resignPyro4(out, hmacKey) : out;
}

export interface FakeServer {
  readonly port: number;
  /** A frame the client sent beyond the recorded ones (for requests Pyro's client never sent). */
  extraFrame(timeoutMs?: number): Promise<Buffer | 'closed' | 'timeout'>;
  /** Ends the replay (call after the proxy was released) and returns every difference found. */
  finish(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Serves one connection: checks each frame the client sends against the next recorded client
 * frame, and answers with the recorded server frames (and closes where the server closed).
 */
export async function fakeServer(
  lines: readonly VectorLine[],
  ctx: {
    sets: { 4: SerializerSet; 5: SerializerSet };
    hmacKey?: Uint8Array;
    deviations: readonly Deviation[];
  },
): Promise<FakeServer> {
  const problems: string[] = [];
  let conn: RawConnection | undefined;
  let resolveConn: (c: RawConnection) => void = () => {};
  const connected = new Promise<RawConnection>((resolve) => {
    resolveConn = resolve;
  });
  const server = createServer((socket) => {
    if (conn) {
      problems.push('the client opened a second connection');
      socket.destroy();
      return;
    }
    conn = RawConnection.wrap(socket);
    resolveConn(conn);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const options = ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {};
  let stopped = false;
  let lastRequest: Buffer | undefined;
  const run = (async () => {
    const c = await connected;
    for (const line of lines) {
      if (stopped) return;
      const where = `step ${line.step}`;
      const deviation = deviationFor(line, ctx.deviations);
      if (line.direction === 's2c') {
        if (deviation?.reply && lastRequest) c.send(deviation.reply(lastRequest, line));
        else if (deviation?.expect === 'skip') continue;
        else if (line.event === 'closed') c.socket.end();
        else if (line.frame_hex !== null) c.send(frameBytes(line));
        continue;
      }
      if (deviation?.expect === 'skip') continue;
      const got = await c.next(5000);
      if (typeof got === 'string') {
        if (typeof deviation?.expect === 'function') {
          const problem = deviation.expect(got, line);
          if (problem) problems.push(`${where} (deviation: ${deviation.why}): ${problem}`);
          continue;
        }
        problems.push(
          `${where}: the client ${got === 'closed' ? 'closed' : 'sent nothing'} instead of a frame`,
        );
        return;
      }
      const actual = withoutAnnotation(got, 'CNDR', ctx.hmacKey);
      lastRequest = actual;
      if (typeof deviation?.expect === 'function') {
        const problem = deviation.expect(actual, line);
        if (problem) problems.push(`${where} (deviation: ${deviation.why}): ${problem}`);
        continue;
      }
      const mode =
        deviation?.expect === 'decoded' || deviation?.expect === 'decoded-lists'
          ? deviation.expect
          : line.compare === 'decoded' || line.compare === 'event'
            ? 'decoded'
            : 'exact';
      let problem = compareFrame(line, actual, mode, ctx.sets, options);
      if (problem && deviation?.expect === 'same-size') {
        problem =
          frameBytes(line).length === actual.length
            ? compareFrame(line, actual, 'decoded', ctx.sets, options)
            : 'the sizes differ';
      }
      if (problem) problems.push(`${where} (${mode}): ${problem}`);
    }
  })();
  return {
    port,
    async extraFrame(timeoutMs = 3000) {
      await run;
      return (await connected).next(timeoutMs);
    },
    async finish() {
      await Promise.race([run, new Promise((resolve) => setTimeout(resolve, 2000))]);
      stopped = true;
      if (conn) {
        const extra = await conn.next(300);
        if (extra !== 'closed' && extra !== 'timeout') {
          problems.push(`the client sent an unexpected frame: ${extra.subarray(0, 60).toString('hex')}`);
        }
      }
      return problems;
    },
    async close() {
      conn?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A custom check: the recorded bytes, once Cinder's `CORR` annotation is taken out of its frame. */
export function sameWithoutCorrAnnotation(
  actual: Buffer | 'closed' | 'timeout',
  line: VectorLine,
): string | undefined {
  if (typeof actual === 'string') return `expected a frame, the daemon ${actual}`;
  const got = withoutAnnotation(actual, 'CORR');
  const want = frameBytes(line);
  return want.equals(got) ? undefined : `want ${want.toString('hex')}\n  got  ${got.toString('hex')}`;
}

/** A custom check: a CONNECTFAIL with this text (in any serializer), then the daemon closes. */
export function refusesWith(
  sets: { 4: SerializerSet; 5: SerializerSet },
  text: RegExp,
  hmacKey?: Uint8Array,
): (actual: Buffer | 'closed' | 'timeout', line: VectorLine) => string | undefined {
  return (actual, line) => {
    if (typeof actual === 'string') return `expected a CONNECTFAIL, the daemon ${actual}`;
    const m = decodeMessage(actual, hmacKey && line.file.includes('hmac') ? { hmacKey } : {});
    const set = actual.readUInt16BE(4) === 48 ? sets[4] : sets[5];
    const reason = set.byId(m.serializerId)?.decode(m.payload);
    return m.type === 3 && typeof reason === 'string' && text.test(reason)
      ? undefined
      : `expected CONNECTFAIL ${text}, got type ${m.type}: ${String(reason)}`;
  };
}
