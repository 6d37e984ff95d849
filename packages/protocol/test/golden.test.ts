// Golden tests over every frame captured from real Pyro5/Pyro4 peers: decoding yields the header
// fields, annotations and payload the vectors document (in Cinder's Pyro5 numbering), re-encoding
// the decoded message reproduces the captured bytes, and malformed frames fail with Pyro's texts.
import { MessageTooLargeError, ProtocolError, SecurityError } from '@cinder/core';
import { applyMask, frameBytes, type VectorLine } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  Flags,
  HEADER_SIZE_48,
  HEADER_SIZE_502,
  type Message,
  PYRO4_ONLY_SERIALIZER_BASE,
  SerializerId,
} from '../src/index.js';
import { frameLines, lineKey, lineName, plain } from './helpers.js';

const lines = frameLines();
const good = lines.filter((l) => expectedError(l) === null);
const bad = lines.filter((l) => expectedError(l) !== null);

/** Pyro5 serializer ids by the vectors' serializer names. */
const PYRO5_SERIALIZERS: Record<string, number> = { serpent: 1, marshal: 2, json: 3, msgpack: 4 };

function header(line: VectorLine): Record<string, any> {
  return line.header as Record<string, any>;
}

/** What `decodeMessage` must return, derived from the vector's own decoded fields. */
function expectedMessage(line: VectorLine): Message {
  const h = header(line);
  const wire = Object.entries(line.annotations ?? {});
  const isPyro4 = line.protocol === 48;
  const corrHex = isPyro4
    ? (line.annotations?.['CORR'] ?? null)
    : (h['flag_names'] as string[]).includes('CORR_ID')
      ? (h['correlation_id'] as string)
      : null;
  let flags = 0;
  for (const name of h['flag_names'] as string[]) {
    if (name !== 'COMPRESSED') flags |= Flags[name as keyof typeof Flags];
  }
  if (corrHex !== null) flags |= Flags.CORR_ID;
  const name = h['serializer_name'] as string;
  const wireSerializer = h['serializer_id'] as number;
  const serializerId =
    PYRO5_SERIALIZERS[name] ??
    (wireSerializer === 42
      ? SerializerId.PING
      : isPyro4
        ? PYRO4_ONLY_SERIALIZER_BASE + wireSerializer
        : wireSerializer);
  const annotations = wire.filter(([k]) => !isPyro4 || (k !== 'CORR' && k !== 'HMAC'));
  const bodyStart = (isPyro4 ? HEADER_SIZE_48 : HEADER_SIZE_502) + (h['annotations_length'] as number);
  const payloadHex = line.payload_uncompressed_hex ?? line.frame_hex!.slice(bodyStart * 2);
  return {
    type: h['msg_type'] as number,
    flags,
    seq: h['seq'] as number,
    serializerId,
    correlationId: corrHex === null ? null : Buffer.from(corrHex, 'hex'),
    annotations:
      annotations.length === 0 ? null : new Map(annotations.map(([k, v]) => [k, Buffer.from(v, 'hex')])),
    payload: Buffer.from(payloadHex, 'hex'),
  };
}

/** The error a deliberately broken frame must raise, or null when the codec must accept it. */
function expectedError(
  line: VectorLine,
): { type: typeof ProtocolError | typeof SecurityError; text: string } | null {
  const defect = line.malformed;
  if (defect === undefined) return null;
  const p5 = line.protocol === 502;
  const pyro4Prefix = 'invalid data or unsupported protocol version';
  if (defect.startsWith('bad tag')) return { type: ProtocolError, text: p5 ? 'invalid data' : pyro4Prefix };
  if (defect.startsWith('protocol version')) {
    return {
      type: ProtocolError,
      text: p5 ? `invalid protocol version: ${header(line)['version']}` : pyro4Prefix,
    };
  }
  if (defect.startsWith('bad magic'))
    return { type: ProtocolError, text: 'invalid message or protocol version' };
  if (defect === 'bad header checksum') return { type: ProtocolError, text: 'header checksum mismatch' };
  if (defect.startsWith('annotation chunk length')) {
    return { type: ProtocolError, text: "annotation chunk 'XBAD' length 100 exceeds the annotations area" };
  }
  if (defect === 'HMAC does not match') return { type: SecurityError, text: 'message hmac mismatch' };
  // Unknown serializer ids and messages out of order are refused above the codec (daemon).
  return null;
}

describe('golden vectors', () => {
  it('cover every vector file and both protocols', () => {
    expect(new Set(lines.map((l) => l.file)).size).toBe(10);
    expect(lines.length).toBeGreaterThan(3000);
    expect(bad.length).toBeGreaterThan(40);
  });

  it.each(good.map((l) => [lineName(l), l] as const))('decodes %s', (_name, line) => {
    const message = decodeMessage(frameBytes(line), { versions: [line.protocol], hmacKey: lineKey(line) });
    expect(plain(message)).toEqual(plain(expectedMessage(line)));
  });

  it.each(good.map((l) => [lineName(l), l] as const))('re-encodes %s', (_name, line) => {
    const original = frameBytes(line);
    const key = lineKey(line);
    const message = decodeMessage(original, { versions: [line.protocol], hmacKey: key });
    const compressed = (header(line)['flags'] & Flags.COMPRESSED) !== 0;
    const out = Buffer.concat(
      encodeMessage(message, {
        version: line.protocol,
        hmacKey: key,
        // Pyro's own thresholds: Pyro5 above 100 bytes, Pyro4 from 200 bytes on.
        compressAbove: compressed ? (line.protocol === 502 ? 100 : 199) : 0,
      }),
    );
    if (compressed) {
      // Node bundles zlib 1.3.1, the captures used Python's zlib 1.2.13: the deflate streams may
      // legitimately differ, so compressed frames are compared after inflating (the frame must
      // still be compressed, and decode to the same message).
      expect(out.readUInt16BE(8) & Flags.COMPRESSED).toBe(Flags.COMPRESSED);
      expect(plain(decodeMessage(out, { hmacKey: key }))).toEqual(plain(message));
    } else {
      // Uncompressed frames are reproduced byte for byte; masks only cover values the server
      // picked (a stale correlation id without its flag) that the message model does not carry.
      expect(applyMask(out, line.mask).toString('hex')).toBe(applyMask(original, line.mask).toString('hex'));
    }
  });

  it.each(bad.map((l) => [`${lineName(l)} (${l.malformed})`, l] as const))('rejects %s', (_name, line) => {
    const expected = expectedError(line)!;
    let error: unknown;
    try {
      decodeMessage(frameBytes(line), { versions: [line.protocol], hmacKey: lineKey(line) });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(expected.type);
    expect(error).not.toBeInstanceOf(MessageTooLargeError);
    expect((error as Error).message.startsWith(expected.text)).toBe(true);
  });
});

describe('HMAC vectors (Pyro4)', () => {
  const hmacLines = lines.filter((l) => l.file === 'pyro4-hmac-json' && l.malformed === undefined);
  const signed = hmacLines.filter((l) => l.hmac_key === 'secret');
  const unsigned = hmacLines.filter((l) => l.hmac_key === undefined);
  const wrong = hmacLines.filter((l) => l.hmac_key === 'wrong-key');

  it('has signed, unsigned and wrongly signed frames', () => {
    expect(signed.length).toBeGreaterThan(300);
    expect(unsigned.length).toBeGreaterThan(0);
    expect(wrong.length).toBeGreaterThan(0);
  });

  it('refuses a signed frame when no key is configured', () => {
    for (const line of signed) {
      expect(() => decodeMessage(frameBytes(line), { versions: [48] }), lineName(line)).toThrow(
        new SecurityError('hmac key config not symmetric'),
      );
    }
  });

  it('refuses an unsigned frame when a key is configured', () => {
    for (const line of unsigned) {
      expect(
        () => decodeMessage(frameBytes(line), { hmacKey: Buffer.from('secret') }),
        lineName(line),
      ).toThrow(new SecurityError('hmac key config not symmetric'));
    }
  });

  it('refuses a frame signed with another key', () => {
    for (const line of wrong) {
      expect(
        () => decodeMessage(frameBytes(line), { hmacKey: Buffer.from('secret') }),
        lineName(line),
      ).toThrow(new SecurityError('message hmac mismatch'));
    }
  });

  it('treats an empty key as no key, like Pyro4', () => {
    const line = unsigned[0]!;
    expect(decodeMessage(frameBytes(line), { hmacKey: new Uint8Array(0) }).type).toBe(
      header(line)['msg_type'],
    );
  });
});
