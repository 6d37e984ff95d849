// Vector conformance: the client frames that Python Pyro5 and Pyro4 sent to their own name servers
// are replayed byte for byte against a Cinder name server over raw sockets, and every answer is
// compared as the vector line says (`masked`: same header fields, same annotations, byte-identical
// payload; `decoded`: same decoded value, metadata lists unordered, the name server's own port
// ignored). The scenarios build on each other, so one name server serves a whole file.
//
// Where Cinder deliberately answers differently, the test says so and checks Cinder's answer:
// - Pyro5 `list(return_metadata=True)` while an entry has no metadata: Pyro5 fails to serialize the
//   entry's frozenset with json, sends a SerializeError and closes the connection. Cinder answers
//   with the listing (the entry's metadata is an empty list).
// - Pyro4 clients see `yplookup` among the name server's methods (Cinder serves one API to both).
// - The name server's own registration carries Pyro5's and Pyro4's class tags and Cinder's, so a
//   metadata lookup for either Pyro class finds it; Pyro's carries only its own.
// - Exception replies carry a JavaScript stack instead of a Python traceback (ignored, as the
//   vectors README says for tracebacks); class and arguments must match.
import { connect as netConnect, type Socket } from 'node:net';
import { URI } from '@cinder/core';
import { decodeMessage, Flags, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { Complex, createSerializers, Tuple } from '@cinder/serializers';
import {
  createPyRender,
  frameBytes,
  type VectorFile,
  type VectorLine,
  vectorScenarios,
} from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningNameServer, startNameServer } from '../src/index.js';

// Cinder's registrations with a time to live (leases) and watches, offered to Python peers too.
const CINDER_ONLY = new Set(['register_ttl', 'renew', 'revoke', 'watch']);
const render = createPyRender({ Tuple, Complex });
const NS_URI_RE = /^PYRO:Pyro\.NameServer@127\.0\.0\.1:\d+$/;
const NS_TAGS = [
  'class:Pyro4.naming.NameServer',
  'class:Pyro5.nameserver.NameServer',
  'class:cinder.NameServer',
];

/** A raw client connection: sends frames, hands out the replies one by one. */
class RawConnection {
  readonly #socket: Socket;
  readonly #reader: FrameReader;
  readonly #messages: Message[] = [];
  readonly #waiters: ((m: Message | null) => void)[] = [];
  #closed = false;

  private constructor(socket: Socket, version: 502 | 48) {
    this.#socket = socket;
    this.#reader = new FrameReader({ maxMessageSize: 1 << 24, versions: [version] });
    socket.on('data', (chunk) => {
      this.#reader.push(chunk, (m) => {
        const w = this.#waiters.shift();
        if (w) w(m);
        else this.#messages.push(m);
      });
    });
    socket.on('close', () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(null);
    });
  }

  static open(port: number, version: 502 | 48): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () =>
        resolve(new RawConnection(socket, version)),
      );
      socket.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** The next reply, or null when the server closed the connection. */
  next(timeoutMs = 5000): Promise<Message | null> {
    const m = this.#messages.shift();
    if (m) return Promise.resolve(m);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within the time limit')), timeoutMs);
      this.#waiters.push((msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A decoded value in a form both sides share: URIs as Pyro's dict, string lists sorted, errors by class. */
function norm(value: unknown): unknown {
  if (value instanceof URI) {
    return {
      __class__: 'URI',
      state: value.toPyroState().map((s) => (s instanceof Set ? [...s].sort() : s)),
    };
  }
  if (value instanceof Error) return { error: value.name, message: value.message };
  if (typeof value === 'string')
    return NS_URI_RE.test(value) ? 'PYRO:Pyro.NameServer@127.0.0.1:<port>' : value;
  if (value instanceof Tuple) return { $tuple: [...value].map(norm) };
  if (value instanceof Set) return [...value].map(norm).sort();
  if (Array.isArray(value)) {
    const items = value.map(norm);
    return items.every((i) => typeof i === 'string') ? [...items].sort() : items;
  }
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    if (typeof o.__class__ === 'string' && o.__class__.endsWith('.core.URI')) {
      return { __class__: 'URI', state: [...(o.state as unknown[])] };
    }
    if (o.__exception__ === true && typeof o.__class__ === 'string') {
      const args = [...((o.args as unknown[]) ?? [])];
      return { error: o.__class__.split('.').pop(), message: String(args[0] ?? '') };
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k] = norm(o[k]);
    return out;
  }
  return value;
}

/** The expected payload, from the vector's rendering; the NS's own tags become Cinder's three. */
function expectedValue(line: VectorLine): unknown {
  const value = norm(render.fromRendering(line.payload_decoded));
  const fixTags = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const own = (v as Record<string, unknown>)['Pyro.NameServer'];
    if (own === undefined) return v;
    const entry = own as { $tuple?: unknown[] } | unknown[];
    const items = Array.isArray(entry) ? entry : entry.$tuple;
    if (items && Array.isArray(items[1])) items[1] = NS_TAGS;
    return v;
  };
  return fixTags(value);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

const files: [VectorFile, 502 | 48][] = [
  ['pyro5-nameserver-json', 502],
  ['pyro4-nameserver-serpent', 48],
];

for (const [file, version] of files) {
  describe(`name server vectors: ${file}`, () => {
    let ns: RunningNameServer;
    const serializers = createSerializers({ dialect: version === 48 ? 4 : 5 });
    const scenarios = vectorScenarios(file);

    beforeAll(async () => {
      ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
    });
    afterAll(async () => {
      await ns?.close();
    });

    // In file order: later scenarios depend on the registrations of earlier ones.
    for (const [scenario, lines] of scenarios) {
      it(scenario, async () => {
        const conn = await RawConnection.open(ns.uri.port!, version);
        try {
          for (const line of lines) {
            if (line.direction === 'c2s') {
              conn.send(frameBytes(line));
              continue;
            }
            if (line.event === 'closed') {
              // Only after Pyro5's failed list(return_metadata) (see the header): Cinder stays open.
              expect(scenario).toMatch(/return_metadata$/);
              continue;
            }
            const actual = await conn.next();
            expect(actual, `${scenario} step ${line.step}: reply`).not.toBeNull();
            checkReply(line, actual!, serializers);
          }
        } finally {
          conn.close();
        }
      });
    }
  });
}

function checkReply(
  line: VectorLine,
  actual: Message,
  serializers: ReturnType<typeof createSerializers>,
): void {
  const expected = decodeMessage(frameBytes(line), { versions: [line.protocol] });
  const where = `${line.scenario} step ${line.step}`;
  const serializer = serializers.byId(actual.serializerId)!;
  expect(serializer, `${where}: serializer ${actual.serializerId}`).toBeDefined();
  const value = serializer.decode(actual.payload);
  const deliberate = deliberateDifference(line);
  if (deliberate) {
    deliberate(value, actual);
    return;
  }
  expect(
    { type: actual.type, seq: actual.seq, serializerId: actual.serializerId, flags: actual.flags },
    `${where}: header`,
  ).toEqual({
    type: expected.type,
    seq: expected.seq,
    serializerId: expected.serializerId,
    flags: expected.flags,
  });
  // The correlation id (Pyro5 header field, Pyro4 CORR annotation) is chosen by the server: only
  // whether there is one must match. It is what the vectors mask.
  expect(actual.correlationId?.length ?? 0, `${where}: correlation id`).toBe(
    expected.correlationId?.length ?? 0,
  );
  expect([...(actual.annotations?.keys() ?? [])], `${where}: annotations`).toEqual([
    ...(expected.annotations?.keys() ?? []),
  ]);
  const isException = (expected.flags & Flags.EXCEPTION) !== 0;
  if ((line.compare === 'exact' || line.compare === 'masked') && !isException) {
    expect(hex(actual.payload), `${where}: payload bytes`).toBe(hex(expected.payload));
    return;
  }
  const v = norm(value) as { meta?: { methods?: string[] } };
  if (actual.type === MsgType.CONNECTOK && v.meta?.methods) {
    // Deliberate: Cinder's name server also offers yplookup to Pyro4 clients.
    v.meta.methods = v.meta.methods.filter(
      (m) => !CINDER_ONLY.has(m) && (m !== 'yplookup' || line.protocol !== 48),
    );
  }
  expect(v, `${where}: payload`).toEqual(expectedValue(line));
}

/** Checks for the replies where Cinder deliberately differs from Pyro (see the file header). */
function deliberateDifference(line: VectorLine): ((value: unknown, actual: Message) => void) | undefined {
  if (line.protocol === 502 && /^ns_list(_prefix)?_return_metadata$/.test(line.scenario) && line.step === 4) {
    return (value, actual) => {
      expect(actual.flags & 1, 'no exception').toBe(0);
      const all = line.scenario === 'ns_list_return_metadata';
      expect(norm(value)).toEqual({
        ...(all ? { 'Pyro.NameServer': ['PYRO:Pyro.NameServer@127.0.0.1:<port>', NS_TAGS] } : {}),
        'example.printer': ['PYRO:printer_1@localhost:5555', ['floor2', 'printer']],
        'example.scanner': ['PYRO:scanner_1@localhost:5556', []],
        ...(all ? { 'other.lamp': ['PYRO:lamp_1@localhost:5557', ['floor1', 'light']] } : {}),
      });
    };
  }
  return undefined;
}
