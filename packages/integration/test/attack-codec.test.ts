// Attacks on the decoders of the real apps (issue #12, findings 3, 4 and 6): cinder-echoserver and
// cinder-ns (SQLite storage) run as child processes with their default settings, and a raw client
// sends one hostile frame each: object-count bombs in every serializer (compressed and not), a zlib
// bomb, a huge integer, flat lists and a flood of positional arguments, over Pyro5 and Pyro4
// framing and TLS. After each: the process is alive, a well-behaved client that kept calling every
// 10 ms during the attack was never stalled for long, a new client is served within 200 ms, and
// resident memory stays under RSS_BOUND_MIB.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@cinder/cinder';
import { MsgType } from '@cinder/protocol';
import { generateTestPki, scratchDir, stopAllChildren, type TestPki } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type App,
  Attacker,
  echoMain,
  frameOf,
  freshClientMs,
  invokePayload,
  message,
  nsMain,
  Pinger,
  resultOf,
  rssMiB,
  type SerializerName,
  sets,
  startApp,
} from './attack-codec.helpers.js';

/** Resident memory an app may have after any of these attacks (it starts near 150 MiB from source). */
const RSS_BOUND_MIB = 512;
/**
 * Longest a good client may wait during an attack in this suite. The measured worst case on the
 * development machine is far lower (10–350 ms at load 11–13, the text budget bombs included since
 * they are counted before parsing; they took 0.5–1.3 s when they were parsed up to the budget: see
 * docs/security.md); this bound leaves room for a loaded 2-core CI machine and still fails for the
 * stalls before the limits (6.6 s to 26 s in the findings, 10–26 s re-measured). That the text bombs
 * are refused before parsing is tested deterministically in serializers' value-count.test.ts.
 */
const STALL_BOUND_MS = 4000;
const FRESH_CLIENT_MS = 200;

// ---- hostile values, as raw encodings ----------------------------------------------------------

/** A cbor array of `n` empty maps: one byte per map. */
function cborEmptyMaps(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 0xa0);
  b[0] = 0x9a;
  b.writeUInt32BE(n, 1);
  return b;
}

/** A msgpack array of `n` empty maps. */
function msgpackEmptyMaps(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 0x80);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

/** `[[],[],…]` (json) or `((),(),…)` (serpent) with `n` empty containers, 3 bytes each. */
function textEmpties(n: number, open: string, close: string): Buffer {
  const b = Buffer.alloc(3 * n + 1);
  b.fill(`${open}${close},`, 1);
  b.write(open, 0);
  b.write(close, 3 * n);
  return b;
}

/** A marshal list of `n` Nones. */
function marshalNones(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 0x4e);
  b[0] = 0x5b;
  b.writeInt32LE(n, 1);
  return b;
}

/** A marshal long of `digits` 15-bit digits (all 0x7fff): 10 M decimal digits ≈ 2,214,400 of them. */
function marshalLong(digits: number): Buffer {
  const b = Buffer.alloc(5 + 2 * digits);
  b[0] = 0x6c;
  b.writeInt32LE(digits, 1);
  for (let i = 5; i < b.length; i += 2) {
    b[i] = 0xff;
    b[i + 1] = 0x7f;
  }
  return b;
}

/** A cbor byte string of `n` zero bytes. */
function cborZeros(n: number): Buffer {
  const b = Buffer.alloc(5 + n);
  b[0] = 0x5a;
  b.writeUInt32BE(n, 1);
  return b;
}

const BOMB_VALUES = 120_000_000;
/** Object-count bombs that inflate to about 120 MB: refused by the inflate limit now. */
const bigBombs: Record<'cbor' | 'msgpack' | 'json' | 'serpent', () => Buffer> = {
  cbor: () => cborEmptyMaps(BOMB_VALUES),
  msgpack: () => msgpackEmptyMaps(BOMB_VALUES),
  json: () => textEmpties(BOMB_VALUES / 3, '[', ']'),
  serpent: () => textEmpties(BOMB_VALUES / 3, '(', ')'),
};
/** Object-count bombs of about 15 MB, under the inflate limit: refused by the decode budget. */
const budgetBombs: Record<SerializerName, () => Buffer> = {
  cbor: () => cborEmptyMaps(15_000_000),
  msgpack: () => msgpackEmptyMaps(15_000_000),
  json: () => textEmpties(5_000_000, '[', ']'),
  serpent: () => textEmpties(5_000_000, '(', ')'),
  marshal: () => marshalNones(15_000_000),
};

// ---- the apps ----------------------------------------------------------------------------------

let echo: App;
let nsSqlite: App;
let nsTls: App;
let pki: TestPki;
const dir = scratchDir('attack-codec');
const findings: string[] = [];

beforeAll(async () => {
  pki = await generateTestPki(join(dir, 'pki'));
  [echo, nsSqlite, nsTls] = await Promise.all([
    startApp(echoMain, ['--port', '0', '--quiet']),
    startApp(nsMain, ['--port', '0', '--nobc', '--storage', `sql:${join(dir, 'ns.sqlite')}`], {
      cheap: ['ping', []],
    }),
    startApp(
      nsMain,
      ['--port', '0', '--nobc', '--ssl', '--ssl-cert', pki.server.certPath, '--ssl-key', pki.server.keyPath],
      { cheap: ['ping', []], tls: { ca: pki.ca.cert } },
    ),
  ]);
}, 60_000);

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
  // The figures behind docs/security.md and the closing note: printed, not asserted.
  if (findings.length > 0) console.log(findings.join('\n'));
});

type Outcome = 'closed' | 'exception' | 'result';

/**
 * Runs one attack frame against `app` while a good client keeps calling, and checks the aftermath.
 * Returns the outcome and the text of an exception reply.
 */
async function runAttack(
  label: string,
  app: App,
  version: 502 | 48,
  frame: Buffer,
): Promise<{ outcome: Outcome; text: string; stallMs: number }> {
  const attacker = await Attacker.open(app, version);
  const pinger = await Pinger.start(app);
  const t0 = performance.now();
  let outcome: Outcome;
  let text = '';
  try {
    const got = await attacker.attack(frame);
    if ('closed' in got) outcome = 'closed';
    else {
      expect(got.reply.type).toBe(MsgType.RESULT);
      const r = resultOf(got.reply, version === 48 ? 4 : 5);
      outcome = r.exception ? 'exception' : 'result';
      text = r.value instanceof Error ? `${r.value.name}: ${r.value.message}` : String(r.value).slice(0, 80);
    }
  } finally {
    attacker.destroy();
  }
  const answeredMs = performance.now() - t0;
  const { worstMs } = await pinger.stop();
  await pinger[Symbol.asyncDispose]();
  const alive = app.child.child.exitCode === null && app.child.child.signalCode === null;
  const rss = rssMiB(app.child.child.pid!);
  const freshMs = alive ? await freshClientMs(app) : Number.NaN;
  findings.push(
    `ATTACK ${label}: ${outcome} after ${answeredMs.toFixed(0)} ms; good client's worst wait ${worstMs.toFixed(0)} ms; new client ${freshMs.toFixed(0)} ms; RSS ${rss.toFixed(0)} MiB; ${alive ? 'alive' : 'DEAD'}${text ? `; ${text.slice(0, 100)}` : ''}`,
  );
  expect(alive, `${label}: the app is alive`).toBe(true);
  expect(worstMs, `${label}: longest wait of a good client`).toBeLessThan(STALL_BOUND_MS);
  expect(freshMs, `${label}: a new client is served`).toBeLessThan(FRESH_CLIENT_MS);
  expect(rss, `${label}: resident memory`).toBeLessThan(RSS_BOUND_MIB);
  return { outcome, text, stallMs: worstMs };
}

function invokeFrame(
  app: App,
  version: 502 | 48,
  serializer: SerializerName,
  value: Buffer,
  compress: boolean,
  method = 'echo',
): Buffer {
  const dialect = version === 48 ? 4 : 5;
  const s = sets[dialect].byName(serializer)!;
  const payload = invokePayload(dialect, serializer, app.object, method, value);
  return frameOf(version, message(MsgType.INVOKE, s, payload, 1), compress);
}

// ---- the attacks -------------------------------------------------------------------------------

describe('cinder-echoserver, Pyro5 framing', () => {
  it.each(Object.keys(bigBombs) as (keyof typeof bigBombs)[])(
    'object-count bomb: a zlib frame of %s holding 120 M empty containers is refused',
    async (name) => {
      const frame = invokeFrame(echo, 502, name, bigBombs[name](), true);
      if (name === 'cbor') expect(frame.length).toBeLessThan(130_000); // the finding's 117 KB frame
      const { outcome } = await runAttack(
        `${name} 120 M empty containers (zlib, ${frame.length} B)`,
        echo,
        502,
        frame,
      );
      expect(outcome).not.toBe('result');
    },
    60_000,
  );

  it.each(Object.keys(budgetBombs) as SerializerName[])(
    'decode budget: %s holding millions of empty containers under the inflate limit gets an error',
    async (name) => {
      const frame = invokeFrame(echo, 502, name, budgetBombs[name](), true);
      const { outcome, text } = await runAttack(
        `${name} budget bomb (zlib, ${frame.length} B)`,
        echo,
        502,
        frame,
      );
      expect(outcome).toBe('exception');
      expect(text).toMatch(/maxItems=250000/);
    },
    60_000,
  );

  it('decode budget without compression: a 15 MB cbor frame of 15 M empty maps gets an error', async () => {
    const frame = invokeFrame(echo, 502, 'cbor', budgetBombs.cbor(), false);
    const { outcome, text } = await runAttack('cbor budget bomb (plain, 15 MB)', echo, 502, frame);
    expect(outcome).toBe('exception');
    expect(text).toMatch(/maxItems/);
  }, 60_000);

  it('inflate limit: one 255 KB compressed echo frame (250 MiB inflated) is refused without stalling others', async () => {
    const frame = invokeFrame(echo, 502, 'cbor', cborZeros(250 * 1024 * 1024), true);
    expect(frame.length).toBeLessThan(300_000);
    const { outcome } = await runAttack(`zlib bomb 250 MiB (${frame.length} B)`, echo, 502, frame);
    expect(outcome).toBe('closed');
  }, 60_000);

  it('big integers: a compressed marshal integer of 10 M digits is refused quickly', async () => {
    const frame = invokeFrame(echo, 502, 'marshal', marshalLong(2_214_400), true);
    const { outcome, text } = await runAttack(
      `marshal int of 10 M digits (zlib, ${frame.length} B)`,
      echo,
      502,
      frame,
    );
    expect(outcome).toBe('exception');
    expect(text).toMatch(/exceeds the limit/);
  }, 60_000);

  it.each(['json', 'serpent'] as const)(
    'flat lists: %s lists of 200,000 empty containers (within the 250,000 default budget) echo back',
    async (serializer) => {
      await using p = connect<{ echo(v: unknown): Promise<unknown[]> }>(echo.uri, {
        config: { serializer },
      } as never);
      const list = Array.from({ length: 200_000 }, () => []);
      const back = await p.echo(list);
      expect(back).toHaveLength(200_000);
      expect(back[199_999]).toHaveLength(0);
    },
    60_000,
  );

  it('positional arguments: 200,000 of them get a TypeError, not a stack overflow', async () => {
    const json = sets[5].byName('json')!;
    const payload = json.encodeCall({
      object: echo.object,
      method: 'echo',
      params: Array(200_000).fill(0),
      kwargs: {},
    });
    const frame = frameOf(502, message(MsgType.INVOKE, json, payload, 1));
    const { outcome, text } = await runAttack('200,000 positional arguments', echo, 502, frame);
    expect(outcome).toBe('exception');
    expect(text).not.toMatch(/call stack/);
    expect(text).toMatch(/TypeError: .*positional argument/);
  }, 60_000);
});

describe('cinder-echoserver, Pyro4 protocol 48 framing', () => {
  it('object-count bomb: a json zlib frame of 40 M empty lists is refused', async () => {
    const frame = invokeFrame(echo, 48, 'json', bigBombs.json(), true);
    const { outcome } = await runAttack(
      `Pyro4 json 40 M empty lists (zlib, ${frame.length} B)`,
      echo,
      48,
      frame,
    );
    expect(outcome).not.toBe('result');
  }, 60_000);

  it('decode budget: serpent with 5 M empty tuples gets an error', async () => {
    const frame = invokeFrame(echo, 48, 'serpent', budgetBombs.serpent(), true);
    const { outcome, text } = await runAttack('Pyro4 serpent budget bomb', echo, 48, frame);
    expect(outcome).toBe('exception');
    expect(text).toMatch(/maxItems/);
  }, 60_000);

  it('big integers: a marshal integer of 10 M digits is refused', async () => {
    const frame = invokeFrame(echo, 48, 'marshal', marshalLong(2_214_400), true);
    const { outcome } = await runAttack('Pyro4 marshal int of 10 M digits', echo, 48, frame);
    expect(outcome).toBe('exception');
  }, 60_000);
});

describe('cinder-ns with SQLite storage', () => {
  it('object-count bomb: a cbor zlib frame of 120 M empty maps is refused', async () => {
    const frame = invokeFrame(nsSqlite, 502, 'cbor', bigBombs.cbor(), true, 'ping');
    const { outcome } = await runAttack('ns: cbor 120 M empty maps', nsSqlite, 502, frame);
    expect(outcome).not.toBe('result');
  }, 60_000);

  it('decode budget: json with 5 M empty lists gets an error', async () => {
    const frame = invokeFrame(nsSqlite, 502, 'json', budgetBombs.json(), true, 'lookup');
    const { outcome } = await runAttack('ns: json budget bomb', nsSqlite, 502, frame);
    expect(outcome).toBe('exception');
  }, 60_000);

  it('big integers over Pyro4 framing: a marshal integer of 10 M digits is refused', async () => {
    const frame = invokeFrame(nsSqlite, 48, 'marshal', marshalLong(2_214_400), true, 'lookup');
    const { outcome } = await runAttack('ns: Pyro4 marshal int of 10 M digits', nsSqlite, 48, frame);
    expect(outcome).toBe('exception');
  }, 60_000);
});

describe('cinder-ns over TLS', () => {
  it('inflate limit: a 250 MiB zlib bomb is refused', async () => {
    const frame = invokeFrame(nsTls, 502, 'cbor', cborZeros(250 * 1024 * 1024), true, 'lookup');
    const { outcome } = await runAttack('ns TLS: zlib bomb 250 MiB', nsTls, 502, frame);
    expect(outcome).toBe('closed');
  }, 60_000);

  it('decode budget: msgpack with 15 M empty maps gets an error', async () => {
    const frame = invokeFrame(nsTls, 502, 'msgpack', budgetBombs.msgpack(), true, 'lookup');
    const { outcome } = await runAttack('ns TLS: msgpack budget bomb', nsTls, 502, frame);
    expect(outcome).toBe('exception');
  }, 60_000);
});
