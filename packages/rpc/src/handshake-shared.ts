// What both halves of the handshake agree on: the shapes of CONNECT, CONNECTOK and CONNECTFAIL
// and how each is read. The client half is handshake-client.ts, the server half handshake-server.ts;
// like the codec, one module for both directions, so a change of the wire shape is made in one place.
//   CONNECT     payload { handshake, object }, CNDR capabilities annotation, META_ON_CONNECT (Pyro4)
//   CONNECTOK   payload { handshake: response, meta: { methods, oneway, attrs } } (or the bare
//               response: Pyro4 without META_ON_CONNECT), capabilities agreed in CNDR
//   CONNECTFAIL payload the reason as a string, in the client's serializer (marshal when unknown)
import { type ObjectMetadata, ProtocolError } from '@cinder/core';
import type { Message } from '@cinder/protocol';
import type { SerializerSet } from '@cinder/serializers';
import type { PeerCertificate } from '@cinder/transport';
import { ALL_CAPABILITIES, Capability } from './capabilities.js';

/** Pyro's marshal serializer id: early CONNECTFAILs use it when the client's serializer is unknown. */
export const MARSHAL_SERIALIZER_ID = 2;

/** The handshake data of a client that sends none (Pyro's `_pyroHandshake` default). */
export const DEFAULT_HANDSHAKE = 'hello';

/** The CONNECT payload. */
export interface ConnectData {
  handshake: unknown;
  object: string;
}

/** What a server's handshake validator sees. */
export interface HandshakeContext {
  /** The client's handshake data (Pyro's `_pyroHandshake`, default "hello"). */
  readonly data: unknown;
  readonly objectId: string;
  readonly remoteAddress: string;
  /** Known once the CONNECT has arrived (the first frame decides the version). */
  readonly protocolVersion: 48 | 502;
  readonly peerCertificate: PeerCertificate | null;
  readonly annotations: ReadonlyMap<string, Uint8Array>;
}

/** The capabilities an end offers: all of them, without pipelining when it is switched off. */
export function offeredCapabilities(multiplex: boolean): number {
  return multiplex ? ALL_CAPABILITIES : ALL_CAPABILITIES & ~Capability.MULTIPLEX;
}

/** The text of a CONNECTFAIL: its serializer's string, else the raw bytes. */
export function failureText(serializers: SerializerSet, message: Message): string {
  try {
    const value = serializers.byId(message.serializerId)?.decode(message.payload);
    if (value !== undefined) return typeof value === 'string' ? value : String(value);
  } catch {
    // not decodable: fall through to the raw bytes
  }
  return Buffer.from(message.payload).toString('latin1');
}

/** Reads the `meta` of a CONNECTOK: lists (or Python sets) of names, checked. */
export function parseMetadata(value: unknown): ObjectMetadata {
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined || v === null) return [];
    const items = v instanceof Set ? [...v] : v;
    if (!Array.isArray(items) || !items.every((s) => typeof s === 'string')) {
      throw new ProtocolError(`invalid metadata in handshake: ${what} is not a list of names`);
    }
    return items as string[];
  };
  if (typeof value !== 'object' || value === null) throw new ProtocolError('invalid metadata in handshake');
  const m = value as Record<string, unknown>;
  return {
    methods: list(m.methods, 'methods'),
    oneway: list(m.oneway, 'oneway'),
    attrs: list(m.attrs, 'attrs'),
  };
}

/** A CONNECTOK payload read: the server's response and, when it sent them, the object's metadata. */
export function parseConnectOk(data: unknown): { response: unknown; metadata: ObjectMetadata | undefined } {
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'meta' in data) {
    const d = data as Record<string, unknown>;
    return { response: d.handshake, metadata: parseMetadata(d.meta) };
  }
  return { response: data, metadata: undefined }; // Pyro4 without META_ON_CONNECT
}

/** A CONNECT payload read: a dict (the object and handshake are checked by the server half). */
export function parseConnectData(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ProtocolError('invalid handshake data');
  return value as Record<string, unknown>;
}
