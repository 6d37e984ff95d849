// Helpers for the daemon tests: a raw Pyro5 socket client that can misbehave on purpose (send any
// bytes, read frames and CONNECTFAIL texts), frame builders, and small timing utilities.
import { connect as netConnect, type Socket } from 'node:net';
import { encodeMessage, Flags, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { createSerializers, type Serializer } from '@cinder/serializers';
import type { Endpoint } from '@cinder/transport';

export const serializers = createSerializers({ dialect: 5 });
export const marshal: Serializer = serializers.byName('marshal')!;
export const json: Serializer = serializers.byName('json')!;
export const cbor: Serializer = serializers.byName('cbor')!;

/** Encodes one Pyro5 frame as a single buffer. */
export function frame(message: Message, maxMessageSize = 1 << 30): Buffer {
  return Buffer.concat(encodeMessage(message, { version: 502, maxMessageSize }));
}

export function connectMessage(
  serializer: Serializer,
  object: string,
  options: { handshake?: unknown; seq?: number; annotations?: Map<string, Uint8Array> } = {},
): Message {
  return {
    type: MsgType.CONNECT,
    flags: 0,
    seq: options.seq ?? 0,
    serializerId: serializer.id,
    correlationId: null,
    annotations: options.annotations ?? null,
    payload: serializer.encode({ handshake: options.handshake ?? 'hello', object }),
  };
}

export function invokeMessage(
  serializer: Serializer,
  object: string,
  method: string,
  params: unknown[] = [],
  options: { kwargs?: Record<string, unknown> | null; seq?: number; flags?: number } = {},
): Message {
  return {
    type: MsgType.INVOKE,
    flags: options.flags ?? 0,
    seq: options.seq ?? 1,
    serializerId: serializer.id,
    correlationId: null,
    annotations: null,
    payload: serializer.encodeCall({
      object,
      method,
      params,
      kwargs: options.kwargs === undefined ? {} : options.kwargs,
    }),
  };
}

/** A hand-driven client socket: writes whatever it is told, reads Pyro5 frames. */
export class RawClient {
  readonly socket: Socket;
  readonly received: Message[] = [];
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<void>;
  private readonly reader = new FrameReader({ maxMessageSize: 1 << 30, versions: [502] });
  private waiter: (() => void) | undefined;
  private isClosed = false;
  private readError: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (m) => this.received.push(m));
      } catch (err) {
        this.readError = err as Error;
        socket.destroy();
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  /** Connects to `endpoint`; `localAddress` binds the client side (e.g. 127.0.0.2, another client). */
  static open(endpoint: Endpoint, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket =
        endpoint.kind === 'unix'
          ? netConnect({ path: endpoint.path })
          : netConnect({
              host: endpoint.host,
              port: endpoint.port,
              ...(localAddress ? { localAddress } : {}),
            });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(message: Message): void {
    this.write(frame(message));
  }

  /** The next frame the daemon sends; rejects when the socket closes first or after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.shift();
      if (m) return m;
      if (this.readError) throw this.readError;
      if (this.isClosed) throw new Error('socket closed before a frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Resolves true if the socket closes within `timeoutMs`, false otherwise. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timedOut]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Reads a CONNECTFAIL (or exception RESULT) text: marshal or the message's own serializer. */
export function failureText(message: Message): string {
  const s = serializers.byId(message.serializerId);
  if (!s) throw new Error(`unknown serializer id ${message.serializerId}`);
  const value = s.decode(message.payload);
  return value instanceof Error ? value.message : String(value);
}

export { Flags, MsgType };

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Connects a raw client to `object`, completes the handshake (json) and returns it, so a test can
 * send INVOKEs the proxy would refuse locally (private, dotted, unexposed names).
 */
export async function rawSession(endpoint: Endpoint, object: string): Promise<RawClient> {
  const raw = await RawClient.open(endpoint);
  raw.send(connectMessage(json, object));
  const reply = await raw.next();
  if (reply.type !== MsgType.CONNECTOK) {
    raw.destroy();
    throw new Error(`handshake failed: ${failureText(reply)}`);
  }
  return raw;
}

/** Sends one INVOKE on a raw session; resolves with the decoded value or the decoded exception. */
export async function rawInvoke(
  raw: RawClient,
  object: string,
  method: string,
  params: unknown[] = [],
  kwargs: Record<string, unknown> | null = {},
  seq = 1,
): Promise<{ value: unknown; exception: boolean; message: Message }> {
  raw.send(invokeMessage(json, object, method, params, { kwargs, seq }));
  const message = await raw.next();
  if (message.type !== MsgType.RESULT) throw new Error(`expected RESULT, got type ${message.type}`);
  return {
    value: json.decode(message.payload),
    exception: (message.flags & Flags.EXCEPTION) !== 0,
    message,
  };
}
