// Typed access to the Pyro wire vectors (see ../vectors/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vectorsDir } from './paths.js';

export type VectorFile =
  | 'pyro5-json'
  | 'pyro5-serpent'
  | 'pyro5-msgpack'
  | 'pyro5-marshal'
  | 'pyro4-json'
  | 'pyro4-serpent'
  | 'pyro4-msgpack'
  | 'pyro4-hmac-json'
  | 'pyro5-nameserver-json'
  | 'pyro4-nameserver-serpent'
  | 'broadcast';

export const vectorFiles: readonly VectorFile[] = [
  'pyro5-json',
  'pyro5-serpent',
  'pyro5-msgpack',
  'pyro5-marshal',
  'pyro4-json',
  'pyro4-serpent',
  'pyro4-msgpack',
  'pyro4-hmac-json',
  'pyro5-nameserver-json',
  'pyro4-nameserver-serpent',
  'broadcast',
];

export interface VectorMask {
  offset: number;
  length: number;
  what: string;
}

export interface VectorLine {
  file: VectorFile;
  scenario: string;
  description: string;
  step: number;
  conn: number;
  direction: 'c2s' | 's2c';
  protocol: 502 | 48;
  serializer: string;
  transport?: 'udp';
  origin?: 'pyro-client' | 'pyro-server' | 'raw-client';
  event?: 'closed' | 'reset' | 'no-reply' | 'send-failed' | 'nothing-sent';
  compare: 'exact' | 'masked' | 'decoded' | 'event';
  malformed?: string;
  frame_hex: string | null;
  header: Record<string, unknown> | null;
  header_problems?: unknown;
  annotations: Record<string, string> | null;
  hmac_key?: string;
  payload_uncompressed_hex?: string;
  payload_text?: string;
  payload_decoded?: unknown;
  payload_decode_error?: string;
  pyro_decoded?: string;
  mask: VectorMask[];
  nondeterministic: string[];
  notes: string[] | string;
  client_outcomes?: unknown;
}

const cache = new Map<VectorFile, VectorLine[]>();

/** Every line of one vector file, in file order. */
export function loadVectors(file: VectorFile): VectorLine[] {
  let lines = cache.get(file);
  if (!lines) {
    lines = readFileSync(join(vectorsDir, `${file}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => ({ ...(JSON.parse(l) as Omit<VectorLine, 'file'>), file }));
    cache.set(file, lines);
  }
  return lines;
}

/** The lines of a file grouped by scenario, in file order. */
export function vectorScenarios(file: VectorFile): Map<string, VectorLine[]> {
  const out = new Map<string, VectorLine[]>();
  for (const line of loadVectors(file)) {
    const list = out.get(line.scenario) ?? [];
    list.push(line);
    out.set(line.scenario, list);
  }
  return out;
}

/** A frame's bytes. */
export function frameBytes(line: VectorLine): Buffer {
  if (line.frame_hex === null) throw new Error(`${line.file}/${line.scenario}#${line.step} has no frame`);
  return Buffer.from(line.frame_hex, 'hex');
}

/** A copy of `bytes` with the vector's mask ranges zeroed. */
export function applyMask(bytes: Uint8Array, mask: readonly VectorMask[]): Buffer {
  const out = Buffer.from(bytes);
  for (const m of mask) out.fill(0, m.offset, Math.min(out.length, m.offset + m.length));
  return out;
}
