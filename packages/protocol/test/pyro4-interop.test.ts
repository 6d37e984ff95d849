// Interop with the real Pyro4 4.82 (Debian's /usr/bin/python3): frames built by Pyro4's own
// Message class must equal Cinder's encoding byte for byte (checksum, annotation order, HMAC over
// sorted annotations), and Pyro4 must read Cinder's frames back, HMAC verified.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  fromPyro4Flags,
  fromPyro4SerializerId,
  type Message,
} from '../src/index.js';
import { prng } from './helpers.js';

const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import json, sys
import Pyro4.message as pm

class Conn:
    def __init__(self, data):
        self.data, self.pos = data, 0
    def recv(self, size):
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

out = []
for case in json.load(sys.stdin):
    key = bytes.fromhex(case["key"]) if case["key"] is not None else None
    annotations = {k: bytes.fromhex(v) for k, v in case["annotations"]}
    msg = pm.Message(case["type"], bytes.fromhex(case["payload"]), case["serializer"], case["flags"],
                     case["seq"], annotations=annotations, hmac_key=key)
    result = {"built": msg.to_bytes().hex()}
    try:
        got = pm.Message.recv(Conn(bytes.fromhex(case["ours"])), hmac_key=key)
        result["read"] = {"type": got.type, "flags": got.flags, "seq": got.seq, "serializer": got.serializer_id,
                          "annotations": [[k, v.hex()] for k, v in got.annotations.items()], "payload": got.data.hex()}
    except Exception as e:
        result["read"] = type(e).__name__ + ": " + str(e)
    out.append(result)
json.dump(out, sys.stdout)
`;

interface Case {
  type: number;
  flags: number;
  seq: number;
  serializer: number;
  annotations: [string, string][];
  payload: string;
  key: string | null;
  ours: string;
}

function randomCase(random: () => number): {
  c: Omit<Case, 'ours'>;
  message: Message;
  key: Buffer | undefined;
} {
  const int = (n: number) => Math.floor(random() * n);
  const hex = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))).toString('hex');
  const idChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';
  const annotations: [string, string][] = [];
  for (let i = int(4); i > 0; i--) {
    const id = Array.from({ length: 4 }, () => idChars[int(idChars.length)]).join('');
    if (id !== 'CORR' && id !== 'HMAC' && !annotations.some(([k]) => k === id))
      annotations.push([id, hex(int(40))]);
  }
  const corr = random() < 0.5 ? hex(16) : null;
  const wireFlags = [0, 0x01, 0x04, 0x08, 0x0c, 0x10, 0x21, 0x40, 0x10 | 0x40][int(9)]!;
  const serializer = [1, 2, 3, 6, 42][int(5)]!;
  const key = random() < 0.6 ? Buffer.from(hex(1 + int(30)), 'hex') : undefined;
  const c = {
    type: 1 + int(6),
    flags: wireFlags,
    seq: int(0x10000),
    serializer,
    // Pyro4 puts CORR after the context's own annotations (core.py __annotations).
    annotations: corr === null ? annotations : [...annotations, ['CORR', corr] as [string, string]],
    payload: hex(int(300)),
    key: key === undefined ? null : key.toString('hex'),
  };
  const message: Message = {
    type: c.type,
    flags: fromPyro4Flags(wireFlags),
    seq: c.seq,
    serializerId: fromPyro4SerializerId(serializer),
    correlationId: corr === null ? null : Buffer.from(corr, 'hex'),
    annotations:
      annotations.length === 0 ? null : new Map(annotations.map(([k, v]) => [k, Buffer.from(v, 'hex')])),
    payload: Buffer.from(c.payload, 'hex'),
  };
  return { c, message, key };
}

describe.skipIf(!existsSync(PYTHON))('Pyro4 4.82 interop', () => {
  it('builds the same frames as Pyro4 and Pyro4 reads ours', () => {
    const random = prng(48);
    const cases = Array.from({ length: 200 }, () => randomCase(random));
    const input: Case[] = cases.map(({ c, message, key }) => ({
      ...c,
      ours: Buffer.concat(encodeMessage(message, { version: 48, hmacKey: key })).toString('hex'),
    }));
    const output = JSON.parse(
      execFileSync(PYTHON, ['-c', SCRIPT], {
        input: JSON.stringify(input),
        timeout: 20_000,
        encoding: 'utf8',
      }),
    ) as { built: string; read: unknown }[];
    expect(output).toHaveLength(cases.length);
    output.forEach((result, i) => {
      const { c, message, key } = cases[i]!;
      expect(input[i]!.ours, `case ${i}`).toBe(result.built);
      const hmacEntries = key === undefined ? [] : [expect.arrayContaining(['HMAC'])];
      expect(result.read, `case ${i}`).toEqual({
        type: c.type,
        flags: c.flags,
        seq: c.seq,
        serializer: c.serializer,
        annotations: [...c.annotations, ...hmacEntries],
        payload: c.payload,
      });
      // And the frame Pyro4 built decodes to the message it was built from.
      const decoded = decodeMessage(Buffer.from(result.built, 'hex'), { versions: [48], hmacKey: key });
      expect(Buffer.from(decoded.payload).equals(message.payload)).toBe(true);
      expect(decoded.correlationId === null ? null : Buffer.from(decoded.correlationId).toString('hex')).toBe(
        c.annotations.find(([k]) => k === 'CORR')?.[1] ?? null,
      );
    });
  });

  it('Pyro4 rejects a frame signed with another key', () => {
    const { c, message } = randomCase(prng(7));
    const ours = Buffer.concat(
      encodeMessage(message, { version: 48, hmacKey: Buffer.from('one key') }),
    ).toString('hex');
    const output = JSON.parse(
      execFileSync(PYTHON, ['-c', SCRIPT], {
        input: JSON.stringify([{ ...c, key: Buffer.from('another key').toString('hex'), ours }]),
        timeout: 20_000,
        encoding: 'utf8',
      }),
    ) as { read: unknown }[];
    expect(output[0]!.read).toBe('SecurityError: message hmac mismatch');
  });
});
