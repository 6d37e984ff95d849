// What the security tests share: the attacked daemon in its own process, a raw socket client that
// misbehaves on purpose, and a relay that sits between a proxy and a daemon to record, replay or
// alter the frames going by.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, type ProxyOptions, type Remote, URI } from '@cinder/cinder';
import { encodeMessage, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { createSerializers, type Serializer } from '@cinder/serializers';
import { connectSocket, RawFrameClient, type StartedChild, startChild } from '@cinder/test-utils';
import { expect } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import type { SecurityServerOptions } from './fixtures/security-server.js';

export type { SecurityServerOptions };

const serverScript = fileURLToPath(new URL('./fixtures/security-server.ts', import.meta.url));

export interface SecurityServer {
  child: StartedChild;
  uri: string;
  host: string;
  port: number;
}

/** Starts the security fixture daemon in its own process and waits for its URI. */
export async function startSecurityServer(
  options: SecurityServerOptions = {},
  env: Record<string, string | undefined> = {},
): Promise<SecurityServer> {
  const child = startChild(serverScript, [], { env: { ...env, SECURITY_SERVER: JSON.stringify(options) } });
  const [, uri] = (await child.waitForLine(/^URI = (.+)$/, 20_000)) as unknown as [string, string];
  const parsed = URI.parse(uri);
  return { child, uri, host: parsed.host ?? '', port: parsed.port ?? 0 };
}

export const serializers = createSerializers({ dialect: 5 });
export const json: Serializer = serializers.byName('json')!;
export const marshal: Serializer = serializers.byName('marshal')!;

/** One Pyro5 frame as a single buffer. */
export function frame(message: Message, maxMessageSize = 2 ** 32 - 1): Buffer {
  return Buffer.concat(encodeMessage(message, { version: 502, maxMessageSize }));
}

export function connectMessage(serializer: Serializer, object: string, seq = 0): Message {
  return {
    type: MsgType.CONNECT,
    flags: 0,
    seq,
    serializerId: serializer.id,
    correlationId: null,
    annotations: null,
    payload: serializer.encode({ handshake: 'hello', object }),
  };
}

export function invokeMessage(
  serializer: Serializer,
  method: string,
  params: unknown[],
  options: { seq?: number; flags?: number; kwargs?: Record<string, unknown>; object?: string } = {},
): Message {
  return {
    type: MsgType.INVOKE,
    flags: options.flags ?? 0,
    seq: options.seq ?? 1,
    serializerId: serializer.id,
    correlationId: null,
    annotations: null,
    payload: serializer.encodeCall({
      object: options.object ?? 'sec.target',
      method,
      params,
      kwargs: options.kwargs ?? {},
    }),
  };
}

/** The text of a CONNECTFAIL or the message of an exception RESULT. */
export function replyText(message: Message): string {
  const s = serializers.byId(message.serializerId);
  if (!s) return `<serializer ${message.serializerId}>`;
  const value = s.decode(message.payload);
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}

/** A hand-driven client socket: writes whatever it is told, reads Pyro5 frames. */
export class RawClient extends RawFrameClient<Message> {
  static async open(target: { host: string; port: number } | { path: string }): Promise<RawClient> {
    const reader = new FrameReader({ maxMessageSize: 2 ** 32 - 1, versions: [502] });
    return new RawClient(await connectSocket(target), {
      push: (chunk, onFrame) => reader.push(chunk, onFrame),
      encode: frame,
    });
  }
}

/** Connects and completes a plain (unkeyed) handshake in json. */
export async function rawSession(
  target: { host: string; port: number },
  object = 'sec.target',
): Promise<RawClient> {
  const raw = await RawClient.open(target);
  raw.send(connectMessage(json, object));
  const reply = await raw.next();
  if (reply.type !== MsgType.CONNECTOK) {
    raw.destroy();
    throw new Error(`handshake failed: ${replyText(reply)}`);
  }
  return raw;
}

/** Sends one INVOKE; resolves with the decoded value (or exception) of its RESULT. */
export async function rawCall(
  raw: RawClient,
  message: Message,
  serializer: Serializer = json,
): Promise<{ value: unknown; exception: boolean }> {
  raw.send(message);
  const reply = await raw.next();
  if (reply.type !== MsgType.RESULT) throw new Error(`expected RESULT, got type ${reply.type}`);
  return { value: serializer.decode(reply.payload), exception: (reply.flags & 1) !== 0 };
}

/**
 * What a relay may do to each frame going one way: return it (possibly changed), an array of
 * frames to send instead (duplicates, injections), or null to drop it.
 */
export type FrameTransform = (message: Message, index: number) => Message | Message[] | null;

/**
 * A TCP relay between clients and a daemon. It records every byte going by, both ways, exactly as
 * sent. With a transform for a direction it works on whole frames there: each frame is
 * decoded, handed to the transform and re-encoded (the shared-key MAC covers the fields, not the encoding,
 * so an unchanged frame stays valid).
 */
export class Relay {
  /** Raw client→daemon bytes, per relayed connection. */
  readonly recorded: Buffer[][] = [];
  /** Raw daemon→client bytes, per relayed connection. */
  readonly answers: Buffer[][] = [];
  /** Relayed connections that the daemon closed. */
  daemonClosed = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  static async start(
    target: { host: string; port: number },
    transforms: { toDaemon?: FrameTransform; toClient?: FrameTransform } = {},
  ): Promise<Relay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const relay = new Relay(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => relay.#pipe(client, target, transforms));
    return relay;
  }

  #pipe(
    client: Socket,
    target: { host: string; port: number },
    transforms: { toDaemon?: FrameTransform; toClient?: FrameTransform },
  ): void {
    const upstream = netConnect(target);
    this.#sockets.add(client).add(upstream);
    const record: Buffer[] = [];
    const answer: Buffer[] = [];
    this.recorded.push(record);
    this.answers.push(answer);
    forward(client, upstream, record, transforms.toDaemon);
    forward(upstream, client, answer, transforms.toClient);
    let clientGone = false;
    client.on('close', () => {
      clientGone = true;
      upstream.destroy();
    });
    upstream.on('close', () => {
      if (!clientGone) this.daemonClosed++;
      client.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => {});
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Decodes a byte stream of Pyro5 frames (e.g. what a relay recorded). */
export function framesOf(chunks: readonly Buffer[]): Message[] {
  const out: Message[] = [];
  const reader = new FrameReader({ maxMessageSize: 2 ** 32 - 1, versions: [502] });
  for (const chunk of chunks) reader.push(chunk, (m) => out.push(m));
  return out;
}

/** Copies `from` to `to`, recording the bytes; with a transform, frame by frame. */
function forward(from: Socket, to: Socket, record: Buffer[], transform: FrameTransform | undefined): void {
  const reader = new FrameReader({ maxMessageSize: 2 ** 32 - 1, versions: [502] });
  let index = 0;
  from.on('data', (chunk: Buffer) => {
    record.push(Buffer.from(chunk));
    if (!transform) {
      to.write(chunk);
      return;
    }
    reader.push(chunk, (m) => {
      const out = transform(m, index++);
      for (const f of out === null ? [] : Array.isArray(out) ? out : [out]) to.write(frame(f));
    });
  });
}

/** A copy of a message with its own annotation map and payload (so changing it changes nothing else). */
export function cloneMessage(m: Message): Message {
  return {
    ...m,
    annotations: m.annotations ? new Map(m.annotations) : null,
    payload: Buffer.from(m.payload),
    correlationId: m.correlationId ? Buffer.from(m.correlationId) : null,
  };
}

/**
 * After an attack: the daemon still serves a well-behaved client, on a fresh connection (made with
 * `options`) and on the connection `good` has held since before the attack.
 */
export async function expectStillServes(
  uri: string,
  good: Remote<Target>,
  options: ProxyOptions = {},
): Promise<void> {
  await using fresh = connect<Target>(uri, options);
  expect(await fresh.add(40, 2)).toBe(42);
  expect(await good.echo('alive')).toBe('alive');
}
