// Helpers for the daemon tests: a raw Pyro5 socket client that can misbehave on purpose (send any
// bytes, read frames and CONNECTFAIL texts), frame builders, and small timing utilities.
import { encodeMessage, Flags, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { createSerializers, type Serializer } from '@cinder/serializers';
import { connectSocket, RawFrameClient } from '@cinder/test-utils';
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
export class RawClient extends RawFrameClient<Message> {
  /** Connects to `endpoint`; `localAddress` binds the client side (e.g. 127.0.0.2, another client). */
  static async open(endpoint: Endpoint, localAddress?: string): Promise<RawClient> {
    const socket = await connectSocket(
      endpoint.kind === 'unix'
        ? { path: endpoint.path }
        : { host: endpoint.host, port: endpoint.port, ...(localAddress ? { localAddress } : {}) },
    );
    const reader = new FrameReader({ maxMessageSize: 1 << 30, versions: [502] });
    return new RawClient(socket, { push: (chunk, onFrame) => reader.push(chunk, onFrame), encode: frame });
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
