// Differential tests against the real thing: /usr/bin/python3 with json, serpent 1.41 and marshal.
// One Python process gets every case in one batch: for each generated value it encodes the value with
// Python's own library (compared byte for byte with ours) and decodes our bytes (compared with the
// value). It also answers repr() of floats, str and bytes, and CPython's printable table.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson, encodeJson } from '../../src/formats/json.js';
import { decodeMarshal, encodeMarshal } from '../../src/formats/marshal.js';
import { pyFloatRepr } from '../../src/formats/py-float.js';
import { PY_PRINTABLE_TOGGLES, PY_UNICODE_VERSION } from '../../src/formats/py-printable.js';
import { pyBytesRepr, pyStrRepr } from '../../src/formats/py-repr.js';
import { decodeSerpent, encodeSerpent } from '../../src/formats/serpent.js';
import { Complex, Tuple } from '../../src/pyvalues.js';
import {
  canon,
  type Format,
  fromRendering,
  modelValue,
  normalizeFor,
  pyString,
  toRendering,
} from './helpers.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./py/differential.py', import.meta.url));

function probe(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import serpent, json, marshal'], { timeout: 10_000 });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} has no serpent module`;
  return undefined;
}

const unavailable = probe();
const seed = Date.now() % 2 ** 31;

interface Case {
  format: Format;
  value: unknown;
  ours: Uint8Array;
}

interface CaseAnswer {
  ordered: boolean;
  python?: string;
  pyerror?: string;
  decoded?: unknown;
  decerror?: string;
}

interface Answer {
  cases: CaseAnswer[];
  floats: string[];
  strs: string[];
  bytes: string[];
  unicode: string;
  toggles: string;
}

const encoders: Record<Format, (v: unknown) => Uint8Array> = {
  json: (v) => encodeJson(v),
  serpent: (v) => encodeSerpent(v),
  'serpent-bytesrepr': (v) => encodeSerpent(v, { bytesRepr: true }),
  marshal: (v) => encodeMarshal(v),
};
const decoders: Record<Format, (b: Uint8Array) => unknown> = {
  json: decodeJson,
  serpent: (b) => decodeSerpent(b),
  'serpent-bytesrepr': (b) => decodeSerpent(b),
  marshal: (b) => decodeMarshal(b),
};

function buildBatch() {
  const cases: Case[] = [];
  const counts: [Format, number][] = [
    ['json', 300],
    ['serpent', 300],
    ['serpent-bytesrepr', 100],
    ['marshal', 300],
  ];
  for (const [format, numRuns] of counts) {
    for (const value of fc.sample(modelValue(format), { seed, numRuns })) {
      cases.push({ format, value, ours: encoders[format](value) });
    }
  }
  // Pyro-shaped values: call envelopes, handshakes, exceptions, URIs.
  const pyroish: unknown[] = [
    Tuple.of<unknown>('test.thing', 'add', Tuple.of(1, 2), {}),
    { handshake: 'hello', object: 'test.thing' },
    {
      __class__: 'builtins.ValueError',
      __exception__: true,
      args: Tuple.of('bad value'),
      attributes: { _pyroTraceback: ['Traceback (most recent call last):\n', '  File "x.py", line 1\n'] },
    },
    { __class__: 'Pyro5.core.URI', state: Tuple.of<unknown>('PYRO', 'obj', null, 'localhost', 5555) },
    'invalid data',
    'x'.repeat(300),
    'é'.repeat(300),
  ];
  for (const format of ['json', 'serpent', 'marshal'] as const) {
    for (const value of pyroish) cases.push({ format, value, ours: encoders[format](value) });
  }

  const doubles = fc.sample(fc.double(), { seed, numRuns: 1500 });
  doubles.push(
    5e-324,
    1e300,
    0.1,
    1 / 3,
    -0,
    1e16,
    1e-5,
    1e-4,
    9999999999999998,
    1e15,
    2 ** 53,
    1.7976931348623157e308,
  );
  const floats = doubles.filter((d) => Number.isFinite(d));
  const strs = fc.sample(pyString(true), { seed, numRuns: 1500 });
  strs.push('', "'", '"', `'"`, '\\', 'héllo wörld ✓ 日本 😀', '\u{1e030}\u{e0001}\ud800\udfff');
  const bytes = fc.sample(fc.uint8Array({ maxLength: 40 }), { seed, numRuns: 300 });
  bytes.push(Buffer.from("'"), Buffer.from(`'"`), Buffer.from('"'));
  return { cases, floats, strs, bytes };
}

function runPython(batch: ReturnType<typeof buildBatch>): Answer {
  const input = JSON.stringify({
    cases: batch.cases.map((c) => ({
      format: c.format,
      value: toRendering(c.value),
      ours: Buffer.from(c.ours).toString('hex'),
    })),
    floats: batch.floats.map((f) => {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(f);
      return b.toString('hex');
    }),
    strs: batch.strs,
    bytes: batch.bytes.map((b) => Buffer.from(b).toString('hex')),
  });
  const r = spawnSync(PYTHON, [SCRIPT], { input, timeout: 60_000, maxBuffer: 64 << 20, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Answer;
}

/**
 * How Python reads serpent's `(re+imj)`: float + complex(0.0, im) turns a -0.0 real part into 0.0
 * (our decoder keeps it). `(re+-0.0j)`, serpent's form of a -0.0 imaginary part, Python cannot read.
 */
function pythonSerpentView(v: unknown): unknown {
  if (v instanceof Complex) return Object.is(v.real, -0) && v.imag >= 0 ? new Complex(0, v.imag) : v;
  if (v instanceof Tuple) return Tuple.fromArray([...v].map(pythonSerpentView));
  if (Array.isArray(v)) return v.map(pythonSerpentView);
  if (v instanceof Set) return new Set([...v].map(pythonSerpentView));
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [pythonSerpentView(k), pythonSerpentView(x)]));
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = pythonSerpentView(o[k]);
  }
  return v;
}

function hasNegZeroImag(v: unknown): boolean {
  if (v instanceof Complex) return Object.is(v.imag, -0);
  if (Array.isArray(v)) return v.some(hasNegZeroImag);
  if (v instanceof Set) return [...v].some(hasNegZeroImag);
  if (v instanceof Map) return [...v].some(([k, x]) => hasNegZeroImag(k) || hasNegZeroImag(x));
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array))
    return Object.values(v).some(hasNegZeroImag);
  return false;
}

describe.skipIf(unavailable !== undefined)(
  `differential against ${PYTHON}${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    const batch = unavailable === undefined ? buildBatch() : undefined;
    const answer = batch ? runPython(batch) : undefined;
    const where = (i: number) => {
      const c = batch!.cases[i]!;
      return `seed ${seed}, ${c.format} case ${i}: ${canon(c.value)}`;
    };

    it('our json and serpent bytes are the bytes Python writes', () => {
      const failures: string[] = [];
      let compared = 0;
      batch!.cases.forEach((c, i) => {
        const a = answer!.cases[i]!;
        if (c.format === 'marshal') return; // FLAG_REF bits follow CPython refcounts: see marshal.ts
        if (a.pyerror !== undefined) {
          failures.push(`${where(i)}: Python could not encode it: ${a.pyerror}`);
          return;
        }
        if (!a.ordered) return; // a set of 2+ elements: Python writes it in hash order
        compared++;
        const ours = Buffer.from(c.ours).toString('hex');
        if (ours !== a.python) {
          failures.push(
            `${where(i)}\n  ours:   ${Buffer.from(c.ours).toString()}\n  python: ${Buffer.from(a.python!, 'hex').toString()}`,
          );
        }
      });
      expect(failures).toEqual([]);
      expect(compared).toBeGreaterThan(400);
    });

    it('Python decodes our bytes to the original value', () => {
      const failures: string[] = [];
      batch!.cases.forEach((c, i) => {
        const a = answer!.cases[i]!;
        const serpent = c.format.startsWith('serpent');
        if (a.decerror !== undefined) {
          // serpent writes complex(x, -0.0) as `(x+-0.0j)`, which Python's literal_eval refuses.
          if (!(serpent && hasNegZeroImag(c.value))) failures.push(`${where(i)}: ${a.decerror}`);
          return;
        }
        let expected = normalizeFor(c.format, c.value);
        if (serpent) expected = pythonSerpentView(expected);
        const got = canon(fromRendering(a.decoded));
        if (got !== canon(expected))
          failures.push(`${where(i)}\n  python read: ${got}\n  expected:    ${canon(expected)}`);
      });
      expect(failures).toEqual([]);
    });

    it("we decode Python's bytes to the original value", () => {
      const failures: string[] = [];
      batch!.cases.forEach((c, i) => {
        const a = answer!.cases[i]!;
        if (a.python === undefined) return; // reported by the byte comparison
        try {
          const got = canon(decoders[c.format](Buffer.from(a.python, 'hex')));
          const expected = canon(normalizeFor(c.format, c.value));
          if (got !== expected) failures.push(`${where(i)}\n  we read:  ${got}\n  expected: ${expected}`);
        } catch (err) {
          failures.push(`${where(i)}: ${(err as Error).message}`);
        }
      });
      expect(failures).toEqual([]);
    });

    it("pyFloatRepr is Python's repr(float)", () => {
      const failures = batch!.floats
        .map((f, i) => [f, pyFloatRepr(f), answer!.floats[i]] as const)
        .filter(([, ours, py]) => ours !== py);
      expect(failures).toEqual([]);
    });

    it("pyStrRepr and pyBytesRepr are Python's repr()", () => {
      const strFailures = batch!.strs
        .map((s, i) => [s, pyStrRepr(s), answer!.strs[i]] as const)
        .filter(([, ours, py]) => ours !== py);
      expect(strFailures).toEqual([]);
      const bytesFailures = batch!.bytes
        .map((b, i) => [pyBytesRepr(b), answer!.bytes[i]] as const)
        .filter(([ours, py]) => ours !== py);
      expect(bytesFailures).toEqual([]);
    });

    it("the printable table is the interpreter's (when it is CPython 3.11, Unicode 14)", () => {
      if (answer!.unicode !== PY_UNICODE_VERSION) {
        console.warn(
          `${PYTHON} has Unicode ${answer!.unicode}, the table ${PY_UNICODE_VERSION}: not compared`,
        );
        return;
      }
      expect(answer!.toggles).toBe(PY_PRINTABLE_TOGGLES);
    });
  },
);
