// What the codec attack tests share: the real apps as child processes, hand-built hostile frames
// (compressed or not, Pyro5 or Pyro4 framing, any serializer), a good client that keeps pinging
// while an attack runs, and the process's resident memory from /proc.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { deflateSync } from 'node:zlib';
import { connect, URI } from '@cinder/cinder';
import { encodeMessage, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { createSerializers, type Serializer } from '@cinder/serializers';
import { connectSocket, RawFrameClient, type StartedChild, startChild } from '@cinder/test-utils';
import { appEnv, appsRoot } from './attack-helpers.js';

// The built apps of this checkout, or of ATTACK_APPS_ROOT (the "before" column), as harden-daemon's
// attack harness runs them.
export const echoMain = join(appsRoot, 'apps/echoserver/dist/main.js');
export const nsMain = join(appsRoot, 'apps/nameserver/dist/ns.js');

export interface App {
  child: StartedChild;
  uri: string;
  host: string;
  port: number;
  object: string;
  /** TLS options a good client needs (absent: plain TCP). */
  tls?: object | undefined;
  /** A cheap call a good client makes: `echo(1)` on the echo server, `ping()` on the name server. */
  cheap: [method: string, args: unknown[]];
}

/** Starts an app (echoserver or name server) and waits for the line with its URI. */
export async function startApp(
  main: string,
  args: string[],
  options: { env?: Record<string, string>; tls?: object; cheap?: [string, unknown[]] } = {},
): Promise<App> {
  const { env = {}, tls, cheap = ['echo', [1]] } = options;
  const child = startChild(main, args, { env: appEnv(env) });
  const [, uri] = (await child.waitForLine(/URI\s*=\s*(\S+)/, 30_000)) as unknown as [string, string];
  const parsed = URI.parse(uri);
  return {
    child,
    uri,
    host: parsed.host ?? '127.0.0.1',
    port: parsed.port ?? 0,
    object: parsed.object ?? '',
    tls,
    cheap,
  };
}

/** Resident memory of a process in MiB (VmRSS), or NaN once it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export const sets = { 4: createSerializers({ dialect: 4 }), 5: createSerializers({ dialect: 5 }) };
export type SerializerName = 'cbor' | 'json' | 'msgpack' | 'serpent' | 'marshal';

const MARK = '@@VALUE@@';
/** Bytes of the placeholder's header before MARK and after it, per serializer. */
const AROUND: Record<SerializerName, [number, number]> = {
  cbor: [1, 0],
  msgpack: [1, 0],
  json: [1, 1],
  serpent: [1, 1],
  marshal: [2, 0],
};

/**
 * The payload of an INVOKE of `method(value)` on `object`, where `value` is given as its raw
 * encoding in that serializer (so it can be anything, however large or malformed).
 */
export function invokePayload(
  dialect: 4 | 5,
  name: SerializerName,
  object: string,
  method: string,
  rawValue: Buffer,
): Buffer {
  const s = sets[dialect].byName(name)!;
  const call = Buffer.from(s.encodeCall({ object, method, params: [MARK], kwargs: {} }));
  const at = call.indexOf(MARK);
  if (at < 0) throw new Error(`placeholder not found in the ${name} call`);
  const [before, after] = AROUND[name];
  return Buffer.concat([call.subarray(0, at - before), rawValue, call.subarray(at + MARK.length + after)]);
}

/** One frame; with `compress`, the payload is deflated here and the frame marked COMPRESSED. */
export function frameOf(version: 502 | 48, message: Message, compress = false): Buffer {
  const payload = compress ? deflateSync(message.payload, { level: 9 }) : message.payload;
  const bytes = Buffer.concat(
    encodeMessage({ ...message, payload }, { version, maxMessageSize: 2 ** 32 - 1 }),
  );
  if (compress) {
    // Set COMPRESSED (0x02 in both versions) in the header; protocol 48 also has a checksum over it.
    bytes.writeUInt16BE(bytes.readUInt16BE(8) | 0x02, 8);
    if (version === 48) bytes.writeUInt16BE((bytes.readUInt16BE(22) + 2) & 0xffff, 22);
  }
  return bytes;
}

export function message(type: number, serializer: Serializer, payload: Uint8Array, seq = 0): Message {
  return {
    type,
    flags: 0,
    seq,
    serializerId: serializer.id,
    correlationId: null,
    annotations: null,
    payload,
  };
}

/** A raw connection to an app that has completed its handshake (json) for `app.object`. */
export class Attacker extends RawFrameClient<Message> {
  static async open(app: App, version: 502 | 48): Promise<Attacker> {
    const socket =
      app.tls !== undefined
        ? await new Promise<import('node:net').Socket>((resolve, reject) => {
            const s = tlsConnect({ host: app.host, port: app.port, rejectUnauthorized: false }, () =>
              resolve(s),
            );
            s.once('error', reject);
          })
        : await connectSocket({ host: app.host, port: app.port });
    const reader = new FrameReader({ maxMessageSize: 2 ** 32 - 1, versions: [version] });
    const raw = new Attacker(socket, {
      push: (chunk, onFrame) => reader.push(chunk, onFrame),
      encode: (m) => frameOf(version, m),
    });
    const json = sets[version === 48 ? 4 : 5].byName('json')!;
    const connectMsg = message(
      MsgType.CONNECT,
      json,
      json.encode({ handshake: 'hello', object: app.object }),
    );
    if (version === 48) connectMsg.flags = 0x10; // META_ON_CONNECT, as Pyro4 sends it
    raw.send(connectMsg);
    const ok = await raw.next(15_000);
    if (ok.type !== MsgType.CONNECTOK) throw new Error(`handshake refused (type ${ok.type})`);
    return raw;
  }

  /**
   * Sends one prepared frame and waits for what follows: the reply (an exception RESULT is what a
   * refused payload should get), or the connection closing.
   */
  async attack(frame: Buffer, timeoutMs = 60_000): Promise<{ closed: true } | { reply: Message }> {
    this.write(frame);
    const outcome = await Promise.race([
      this.next(timeoutMs).then(
        (reply) => ({ reply }),
        () => ({ closed: true as const }),
      ),
      this.closed.then(() => ({ closed: true as const })),
    ]);
    return outcome;
  }
}

/** The decoded reply of a RESULT, and whether it is an exception. */
export function resultOf(reply: Message, dialect: 4 | 5 = 5): { exception: boolean; value: unknown } {
  const s = sets[dialect].byId(reply.serializerId)!;
  return { exception: (reply.flags & 0x01) !== 0, value: s.decode(reply.payload) };
}

/**
 * A well-behaved client on its own connection that calls a cheap method every `everyMs` while an
 * attack runs; `stop()` tells the longest time one call took (the stall others saw).
 */
export class Pinger {
  #running = true;
  #worst = 0;
  #calls = 0;
  #loop: Promise<void>;

  private constructor(call: () => Promise<unknown>, everyMs: number) {
    this.#loop = (async () => {
      while (this.#running) {
        const t0 = performance.now();
        await call();
        this.#worst = Math.max(this.#worst, performance.now() - t0);
        this.#calls++;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  static async start(app: App, everyMs = 10): Promise<Pinger & AsyncDisposable> {
    const p = goodClient(app);
    const [method, args] = app.cheap;
    const call = () => (p[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    await call();
    const pinger = new Pinger(call, everyMs) as Pinger & AsyncDisposable;
    pinger[Symbol.asyncDispose] = async () => {
      await pinger.stop();
      await (p.$release as () => Promise<void>)();
    };
    return pinger;
  }

  async stop(): Promise<{ worstMs: number; calls: number }> {
    this.#running = false;
    await this.#loop;
    return { worstMs: this.#worst, calls: this.#calls };
  }
}

function goodClient(app: App): Record<string, unknown> & AsyncDisposable {
  return connect<Record<string, unknown>>(app.uri, {
    ...(app.tls ? { tls: app.tls } : {}),
    connectTimeoutMs: 10_000,
  } as never) as Record<string, unknown> & AsyncDisposable;
}

/** How long a brand-new client takes to connect and get an answer to a cheap call (best of 3). */
export async function freshClientMs(app: App): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await using p = goodClient(app);
    const [method, args] = app.cheap;
    await (p[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    best = Math.min(best, performance.now() - t0);
    if (best < 100) break;
  }
  return best;
}
