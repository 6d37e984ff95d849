// MessageAuthenticator on its own: what the MAC covers, what it deliberately ignores, both hashing
// paths (inline and streamed), and the property that no single-bit change survives verification.
import { createSecretKey, randomBytes } from 'node:crypto';
import { SecurityError } from '@cinder/core';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deriveSessionKeys,
  MAC_ANNOTATION,
  MAC_LENGTH,
  MessageAuthenticator,
  parseKey,
} from '../src/index.js';
import { clone, invoke, msg } from './messages.js';

function pair(): { a: MessageAuthenticator; b: MessageAuthenticator } {
  const keys = deriveSessionKeys(parseKey('a test key of some length'), randomBytes(32), randomBytes(32), 1);
  return {
    a: new MessageAuthenticator(keys.clientToServer, keys.serverToClient),
    b: new MessageAuthenticator(keys.serverToClient, keys.clientToServer),
  };
}

function richMessage(payloadSize: number): Message {
  return msg(MsgType.INVOKE, {
    flags: Flags.ONEWAY | Flags.KEEPSERIALIZED | Flags.CORR_ID,
    seq: 0xfffe,
    correlationId: randomBytes(16),
    annotations: new Map([
      ['BLBI', randomBytes(40)],
      ['XTRA', new Uint8Array(0)],
      ['BIGA', randomBytes(payloadSize > 2000 ? 3000 : 10)],
    ]),
    payload: randomBytes(payloadSize),
  });
}

function rejects(auth: MessageAuthenticator, m: Message): boolean {
  try {
    auth.verify(m);
    return false;
  } catch (err) {
    expect(err).toBeInstanceOf(SecurityError);
    return true;
  }
}

describe('MessageAuthenticator', () => {
  it('signs with a 32-byte CMAC kept last and verifies small and large messages', () => {
    for (const size of [0, 60, 900, 1024, 5000, 70_000]) {
      const { a, b } = pair();
      const m = richMessage(size);
      a.sign(m);
      expect([...m.annotations!.keys()]).toEqual(['BLBI', 'XTRA', 'BIGA', 'CMAC']);
      expect(m.annotations!.get(MAC_ANNOTATION)!.length).toBe(MAC_LENGTH);
      const received = clone(m);
      b.verify(received);
      expect([...received.annotations!.keys()]).toEqual(['BLBI', 'XTRA', 'BIGA']);
    }
  });

  it('creates the annotation map for a message without annotations and replaces an old CMAC', () => {
    const { a, b } = pair();
    const m = invoke(1);
    expect(m.annotations).toBeNull();
    a.sign(m);
    expect(m.annotations?.size).toBe(1);
    const stale = invoke(2);
    stale.annotations = new Map([
      [MAC_ANNOTATION, new Uint8Array(32)],
      ['ANNO', new Uint8Array([1])],
    ]);
    a.sign(stale);
    expect([...stale.annotations!.keys()]).toEqual(['ANNO', 'CMAC']);
    b.verify(clone(m));
    b.verify(clone(stale));
  });

  it('gives the same MAC on the inline and the streamed path (boundary sizes)', () => {
    // Two authenticators with identical keys and counters must agree whatever path each size takes.
    const keys = deriveSessionKeys(parseKey('boundary key'), randomBytes(32), randomBytes(32), 1);
    for (const size of [1023 - 44, 1024 - 44, 1025 - 44, 1024, 1025]) {
      const signer = new MessageAuthenticator(keys.clientToServer, keys.serverToClient);
      const verifier = new MessageAuthenticator(keys.serverToClient, keys.clientToServer);
      const m = msg(MsgType.RESULT, { payload: randomBytes(size) });
      signer.sign(m);
      verifier.verify(clone(m));
    }
  });

  it('ignores only the COMPRESSED and CORR_ID flag bits (encoding details covered elsewhere)', () => {
    const { a, b } = pair();
    const m = richMessage(100);
    a.sign(m);
    const received = clone(m);
    received.flags ^= Flags.COMPRESSED;
    received.flags &= ~Flags.CORR_ID;
    b.verify(received);
    // …but dropping the correlation id itself is detected.
    const m2 = richMessage(100);
    a.sign(m2);
    const changed = clone(m2);
    changed.correlationId = null;
    expect(rejects(b, changed)).toBe(true);
  });

  it('detects reordered, removed, added and renamed annotations', () => {
    const variants: Array<(m: Message) => void> = [
      (m) => {
        const entries = [...m.annotations!];
        m.annotations = new Map([entries[1]!, entries[0]!, ...entries.slice(2)]);
      },
      (m) => m.annotations!.delete('XTRA'),
      (m) => {
        const mac = m.annotations!.get(MAC_ANNOTATION)!;
        m.annotations!.delete(MAC_ANNOTATION);
        m.annotations!.set('NEWA', new Uint8Array([0]));
        m.annotations!.set(MAC_ANNOTATION, mac);
      },
      (m) => {
        const entries = [...m.annotations!].map(([k, v]) => [k === 'XTRA' ? 'XTRB' : k, v] as const);
        m.annotations = new Map(entries);
      },
      // Moving bytes between an annotation and the payload keeps the total but not the MAC.
      (m) => {
        m.annotations!.set('XTRA', m.payload.subarray(0, 1));
        m.payload = m.payload.subarray(1);
      },
    ];
    for (const change of variants) {
      const { a, b } = pair();
      const m = richMessage(100);
      a.sign(m);
      const received = clone(m);
      change(received);
      expect(rejects(b, received)).toBe(true);
    }
  });

  it('refuses garbage in a received message with a SecurityError, not a crash', () => {
    const { a, b } = pair();
    const m = richMessage(10);
    a.sign(m);
    const weird = clone(m);
    weird.annotations = new Map([['\u00ff\u00ff\u00ff\u00ff', new Uint8Array(1)], ...weird.annotations!]);
    expect(rejects(b, weird)).toBe(true);
    expect(b.failed).toBe(true);
    const { a: a2, b: b2 } = pair();
    const m2 = richMessage(10);
    a2.sign(m2);
    const badCorr = clone(m2);
    badCorr.correlationId = new Uint8Array(15);
    expect(rejects(b2, badCorr)).toBe(true);
  });

  it('refuses to sign a message with an invalid annotation id', () => {
    const { a } = pair();
    const m = invoke(1);
    m.annotations = new Map([['TOOLONG', new Uint8Array(1)]]);
    expect(() => a.sign(m)).toThrow(/4 ASCII characters/);
  });

  it('uses distinct keys per direction and per connection', () => {
    const key = parseKey('same key');
    const n1 = randomBytes(32);
    const n2 = randomBytes(32);
    const k1 = deriveSessionKeys(key, n1, n2, 1);
    const k2 = deriveSessionKeys(key, n1, n2, 1);
    const k3 = deriveSessionKeys(key, n2, n1, 1);
    const k4 = deriveSessionKeys(key, n1, n2, 2);
    const hex = (k: { export(): Buffer }) => k.export().toString('hex');
    expect(hex(k1.clientToServer)).toBe(hex(k2.clientToServer));
    expect(hex(k1.clientToServer)).not.toBe(hex(k1.serverToClient));
    expect(hex(k1.clientToServer)).not.toBe(hex(k3.clientToServer));
    expect(hex(k1.clientToServer)).not.toBe(hex(k4.clientToServer));
    const k5 = deriveSessionKeys(parseKey('other key'), n1, n2, 1);
    expect(hex(k1.clientToServer)).not.toBe(hex(k5.clientToServer));
  });

  it('works with raw KeyObjects and counts messages', () => {
    const k = createSecretKey(randomBytes(32));
    const a = new MessageAuthenticator(k, k);
    const m = invoke(1);
    a.sign(m);
    a.verify(clone(m));
    expect(a.sent).toBe(1);
    expect(a.received).toBe(1);
  });

  // Every bit of the message model that reaches the wire, except the two flag bits the MAC ignores
  // on purpose (the codec owns them), and every bit of the MAC itself.
  const messageArb = fc.record({
    type: fc.integer({ min: 1, max: 6 }),
    flags: fc.integer({ min: 0, max: 0x7f }),
    seq: fc.integer({ min: 0, max: 0xffff }),
    serializerId: fc.constantFrom(1, 2, 3, 4, 16, 42),
    correlationId: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: null }),
    annotations: fc.option(
      fc.uniqueArray(fc.tuple(fc.stringMatching(/^[A-Z]{4}$/), fc.uint8Array({ maxLength: 40 })), {
        selector: ([id]) => id,
        maxLength: 4,
      }),
      { nil: null },
    ),
    payload: fc.uint8Array({ maxLength: 2000 }),
  });

  type Field = { name: string; bits: number; flip: (m: Message, bit: number) => void };

  function fieldsOf(m: Message): Field[] {
    const flipBytes = (get: (m: Message) => Uint8Array) => (x: Message, bit: number) => {
      get(x)[bit >> 3]! ^= 1 << (bit & 7);
    };
    const fields: Field[] = [
      { name: 'type', bits: 8, flip: (x, bit) => (x.type ^= 1 << bit) },
      {
        name: 'flags',
        bits: 14,
        // Skip 0x02 (COMPRESSED) and 0x40 (CORR_ID).
        flip: (x, bit) =>
          (x.flags ^= [
            0x01, 0x04, 0x08, 0x10, 0x20, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000,
          ][bit]!),
      },
      { name: 'seq', bits: 16, flip: (x, bit) => (x.seq ^= 1 << bit) },
      { name: 'serializerId', bits: 8, flip: (x, bit) => (x.serializerId ^= 1 << bit) },
      { name: 'payload', bits: m.payload.length * 8, flip: flipBytes((x) => x.payload) },
      { name: 'mac', bits: MAC_LENGTH * 8, flip: flipBytes((x) => x.annotations!.get(MAC_ANNOTATION)!) },
    ];
    if (m.correlationId) fields.push({ name: 'corr', bits: 128, flip: flipBytes((x) => x.correlationId!) });
    for (const [id, value] of m.annotations ?? []) {
      if (id === MAC_ANNOTATION) continue;
      fields.push({
        name: `value ${id}`,
        bits: value.length * 8,
        flip: flipBytes((x) => x.annotations!.get(id)!),
      });
      fields.push({
        name: `id ${id}`,
        bits: 32,
        flip: (x, bit) => {
          const chars = [...id].map((c) => c.charCodeAt(0));
          chars[bit >> 3]! ^= 1 << (bit & 7);
          const renamed = String.fromCharCode(...chars);
          // Renaming onto an existing id would merge two annotations, a different edit; keep it a flip.
          x.annotations = new Map([...x.annotations!].map(([k, v]) => [k === id ? renamed : k, v]));
        },
      });
    }
    return fields.filter((f) => f.bits > 0);
  }

  // One key derivation for all runs: fresh authenticators restart their counters at zero.
  const propertyKeys = deriveSessionKeys(parseKey('property key'), randomBytes(32), randomBytes(32), 1);
  const freshPair = () => ({
    a: new MessageAuthenticator(propertyKeys.clientToServer, propertyKeys.serverToClient),
    b: new MessageAuthenticator(propertyKeys.serverToClient, propertyKeys.clientToServer),
  });

  it('property: any single-bit change to a signed message fails verification', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), fc.nat(), (fields, fieldPick, bitPick) => {
        const { a, b } = freshPair();
        const m: Message = {
          ...fields,
          annotations: fields.annotations ? new Map(fields.annotations) : null,
        };
        a.sign(m);
        const candidates = fieldsOf(m);
        const field = candidates[fieldPick % candidates.length]!;
        const bit = bitPick % field.bits;
        const changed = clone(m);
        field.flip(changed, bit);
        if (field.name.startsWith('id ') && changed.annotations!.size !== m.annotations!.size) return true;
        expect(rejects(b, changed), `${field.name} bit ${bit}`).toBe(true);
        return true;
      }),
      { numRuns: 3000 },
    );
  });

  it('property: an unchanged message always verifies', () => {
    fc.assert(
      fc.property(messageArb, (fields) => {
        const { a, b } = freshPair();
        const m: Message = {
          ...fields,
          annotations: fields.annotations ? new Map(fields.annotations) : null,
        };
        a.sign(m);
        b.verify(clone(m));
      }),
      { numRuns: 500 },
    );
  });
});
