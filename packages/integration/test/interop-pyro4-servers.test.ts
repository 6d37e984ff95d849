// A Cinder proxy calling a Python Pyro4 daemon (`connect(uri, { protocol: 48, serializer })`) with
// serpent, json, msgpack and marshal: calls and keyword arguments, values both ways (what Python
// receives is checked against what it receives from a Python Pyro4 client), exceptions as
// RemoteError with the Python traceback, oneway calls, batches, remote attributes, streams and early
// close, the Pyro.Daemon object, PING, correlation ids, annotations, compression, timeouts, Unix
// sockets and refusals.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CinderError,
  CommunicationError,
  Complex,
  connect,
  NamingError,
  NotExposedError,
  type ProxyOptions,
  type Remote,
  RemoteError,
  TimeoutError,
  Tuple,
} from '@cinder/cinder';
import { ClassRegistry } from '@cinder/serializers';
import { scratchDir, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPyro4, PythonRepl, type PythonServer, py, startPythonServer } from './interop-python.js';
import { render } from './interop-vectors.js';

const SERIALIZERS = ['serpent', 'json', 'msgpack', 'marshal'] as const;
type SerializerName = (typeof SERIALIZERS)[number];

/** What the Python test daemon serves as `test.thing` (python/pyro4_server.py). */
interface PyThing {
  add(a: unknown, b: unknown): unknown;
  echo(value: unknown): unknown;
  describe(value: unknown): { type: string; repr: string };
  value_of(expression: string): unknown;
  fail(): never;
  fail_custom(): never;
  fail_pyro(): never;
  ow(value: unknown): void;
  last_oneway(): unknown;
  gen(n: number): Iterator<number>;
  gen_tracked(n: number): Iterator<number>;
  closed_streams(): number[];
  big(n: number): string;
  slow(seconds: number): string;
  value: number;
}

/** The Python daemon's custom exception, registered under its Python name. */
class PyCustomError extends Error {
  override name = 'PyCustomError';
}

/** JavaScript values and the Python literal each should arrive as (the same value in Python). */
const VALUES: [string, unknown, string][] = [
  ['null', null, 'None'],
  ['true', true, 'True'],
  ['an int', 42, '42'],
  ['a negative int', -7, '-7'],
  ['2^53 + 1 (bigint)', 2n ** 53n + 1n, '2**53 + 1'],
  ['2^64 (bigint)', 2n ** 64n, '2**64'],
  ['-2^70 (bigint)', -(2n ** 70n), '-2**70'],
  ['a float', 1.5, '1.5'],
  ['-0', -0, '-0.0'],
  ['the smallest float', 5e-324, '5e-324'],
  ['1e300', 1e300, '1e300'],
  ['NaN', Number.NaN, "float('nan')"],
  ['Infinity', Number.POSITIVE_INFINITY, "float('inf')"],
  ['an empty string', '', "''"],
  ['a unicode string', 'héllo wörld ✓ 日本 😀', "'héllo wörld ✓ 日本 😀'"],
  ['an array', [1, 'two', 3.5, null, true], "[1, 'two', 3.5, None, True]"],
  ['a Tuple', Tuple.of<unknown>(1, 'two', 3.5), "(1, 'two', 3.5)"],
  ['an object', { a: 1, b: [1, 2] }, "{'a': 1, 'b': [1, 2]}"],
  ['a Map with int keys', new Map([[1, 'one']]), "{1: 'one'}"],
  ['a Set', new Set([1, 2, 3]), '{1, 2, 3}'],
  ['bytes', new Uint8Array([0, 1, 2, 0xff]), "b'\\x00\\x01\\x02\\xff'"],
  ['a Complex', new Complex(1, 2), '1+2j'],
  [
    'nested',
    { list: [1, [2, { t: Tuple.of(4, 5) }]], set: new Set([7]) },
    "{'list': [1, [2, {'t': (4, 5)}]], 'set': {7}}",
  ],
];

/** Where the Python daemon receives something else from Cinder than from a Python client, and why. */
const SENT_DEVIATIONS: Record<string, { serializers: readonly SerializerName[]; why: string }> = {
  bytes: {
    serializers: ['json'],
    why: "Pyro4's json cannot send bytes at all; Cinder sends serpent's {'data', 'encoding': 'base64'} dict",
  },
};

describeWithPyro4('a Cinder proxy calling Python Pyro4 daemons', () => {
  const tmp = scratchDir('interop');
  let server: PythonServer;
  let python: PythonRepl;
  const registry = new ClassRegistry().register(PyCustomError, 'interop_errors.CustomError');

  beforeAll(async () => {
    python = PythonRepl.start();
    server = await startPythonServer();
  });

  afterAll(async () => {
    await python?.close();
    await stopAllChildren();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe.each(SERIALIZERS)('with %s', (serializer) => {
    let p: Remote<PyThing>;
    const options = (): ProxyOptions => ({ protocol: 48, serializer, registry, timeoutMs: 10_000 });

    beforeAll(() => {
      p = connect<PyThing>(server.uri, options());
    });

    afterAll(async () => {
      await p?.$release();
    });

    it('calls methods with positional and keyword arguments', async () => {
      expect(await p.add(1, 2)).toBe(3);
      expect(await p.add('a', 'b')).toBe('ab');
      expect(await p.$call('kw', [1], { kwargs: { b: 5, c: 7 } })).toEqual({ a: 1, b: 5, kwargs: { c: 7 } });
      expect(await p.$call('kw', [2])).toEqual({ a: 2, b: 2, kwargs: {} });
    });

    it.each(VALUES)('sends %s as a Python client would', async (name, value, literal) => {
      // what a Python client cannot send (or its daemon cannot read) fails with Cinder too
      const got = await p.describe(value).catch((e: unknown) => `Python fails: ${pythonType(e)}`);
      const want = await python.run(
        'eval',
        `(lambda v: {'type': type(v).__module__ + '.' + type(v).__qualname__, 'repr': repr(v)})(received(${literal}, ${py(serializer)}))`,
      );
      const deviation = SENT_DEVIATIONS[name];
      if (deviation?.serializers.includes(serializer)) {
        expect(got, deviation.why).toEqual({
          type: 'builtins.dict',
          repr: expect.stringContaining("'encoding': 'base64'"),
        });
        return;
      }
      expect(want.ok ? want.value : `Python fails: ${want.type}`).toEqual(got);
    });

    it.each(VALUES)('gets %s back from echo', async (_name, value) => {
      const back = await p.echo(value).catch((e: unknown) => `fails: ${pythonType(e)}`);
      const refused =
        (serializer === 'json' && value instanceof Complex) ||
        (serializer === 'msgpack' && value instanceof Map);
      if (refused) expect(back).toMatch(/^fails: /);
      else expect(render.canon(back)).toBe(render.canon(expectedBack(value, serializer)));
    });

    it('builds values on the Python side that arrive as their JavaScript counterparts', async () => {
      expect(await p.value_of('2**70')).toBe(2n ** 70n);
      expect(await p.value_of("float('-inf')")).toBe(Number.NEGATIVE_INFINITY);
      expect(Object.is(await p.value_of('-0.0'), -0)).toBe(true);
      const tuple = await p.value_of("(1, 'two')");
      expect(tuple instanceof Tuple).toBe(serializer === 'serpent' || serializer === 'marshal');
      expect([...(tuple as unknown[])]).toEqual([1, 'two']);
      if (serializer !== 'json') {
        const bytes = await p.value_of("b'\\x00\\xff'");
        expect(bytes).toEqual(new Uint8Array([0, 0xff]));
      }
    });

    it('gets remote exceptions with their Python class, message and traceback', async () => {
      const err = await p.fail().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      const remote = err as RemoteError;
      expect([remote.remoteType, remote.remoteMessage]).toEqual(['builtins.ValueError', 'bad value']);
      const tb = remote.remoteTraceback.join('');
      expect(tb).toMatch(/^Traceback \(most recent call last\):\n/);
      expect(tb).toContain('pyro4_server.py');
      expect(tb).toContain('raise ValueError("bad value")');
      // Pyro's own errors become Cinder's classes, with the Python traceback attached
      const naming = await p.fail_pyro().catch((e: unknown) => e);
      expect(naming).toBeInstanceOf(NamingError);
      expect((naming as NamingError).message).toBe('no such name');
      expect((naming as { remoteTraceback: string[] }).remoteTraceback.join('')).toContain('fail_pyro');
      // a registered class is rebuilt, with the attributes Python set
      const custom = (await p.fail_custom().catch((e: unknown) => e)) as PyCustomError & {
        code: number;
        detail: string;
      };
      expect(custom).toBeInstanceOf(PyCustomError);
      expect([custom.code, custom.detail]).toEqual([42, 'extra attribute']);
    });

    it('makes oneway calls without waiting for the method', async () => {
      const tag = `oneway ${serializer}`;
      const started = Date.now();
      await p.ow(tag); // the Python method sleeps 50 ms before it stores the value
      expect(Date.now() - started).toBeLessThan(2000);
      await expect.poll(() => p.last_oneway(), { timeout: 3000 }).toBe(tag);
    });

    // Pyro4's own marshal client cannot send batches; Cinder's can, and Pyro4's daemon reads them.
    it('runs batches, stops at the first exception, and sends oneway batches', async () => {
      const b = p.$batch();
      b.add(1, 1);
      b.$queue('kw', [2], { c: 3 });
      b.add('x', 'y');
      expect(await b.$run()).toEqual([2, { a: 2, b: 2, kwargs: { c: 3 } }, 'xy']);
      b.add(1, 1);
      b.fail();
      b.add(3, 3);
      const seen: unknown[] = [];
      const err = await (async () => {
        for await (const r of b.$results()) seen.push(r);
      })().catch((e: unknown) => e);
      if (serializer === 'marshal') {
        // Pyro4's marshal cannot write the _ExceptionWrapper of a failed batch: the whole batch fails
        expect(seen).toEqual([]);
        expect((err as RemoteError).remoteMessage).toBe('unmarshallable object');
      } else {
        expect(seen).toEqual([2]);
        expect((err as RemoteError).remoteMessage).toBe('bad value');
      }
      expect((err as RemoteError).remoteType).toBe('builtins.ValueError');
      b.ow(`batch ${serializer}`);
      await b.$oneway();
      await expect.poll(() => p.last_oneway(), { timeout: 3000 }).toBe(`batch ${serializer}`);
    });

    it('reads and writes remote attributes', async () => {
      await using q = connect<PyThing>(server.uri, options());
      expect(await q.value).toBe(42);
      await q.$set('value', 99);
      expect(await q.value).toBe(99);
      expect(await q.$get('value')).toBe(99);
    });

    it('iterates streamed results, and closes a stream it leaves early', async () => {
      const items: number[] = [];
      for await (const i of await p.gen(5)) items.push(i);
      expect(items).toEqual([1, 2, 3, 4, 5]);
      const n = 1000 + SERIALIZERS.indexOf(serializer);
      for await (const i of await p.gen_tracked(n)) {
        expect(i).toBe(1);
        break;
      }
      await expect.poll(() => p.closed_streams(), { timeout: 3000 }).toContain(n);
    });

    it('refuses names the metadata does not list without sending them', async () => {
      const err = await p.$call('hidden').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotExposedError);
      expect((err as NotExposedError).message).toMatch(/has no exposed attribute or method 'hidden'$/);
    });
  });

  describe('with serpent', () => {
    const options: ProxyOptions = { protocol: 48, serializer: 'serpent', timeoutMs: 10_000 };

    it('talks to the Pyro.Daemon object and pings', async () => {
      await using d = connect<{ registered(): string[]; ping(): null; info(): string }>(
        server.uriOf('Pyro.Daemon'),
        options,
      );
      expect((await d.registered()).sort()).toEqual(['Pyro.Daemon', 'test.other', 'test.thing']);
      expect(await d.ping()).toBe(null);
      expect(await d.info()).toMatch(/^Pyro\.Daemon bound on 127\.0\.0\.1:\d+/);
      await d.$ping();
    });

    it('sends a correlation id and annotations, and reads the response annotations', async () => {
      await using p = connect<PyThing>(server.uri, options);
      const id = Buffer.from('12345678123456781234567812345678', 'hex');
      expect(await p.$call('corr', [], { correlationId: id })).toBe('12345678-1234-5678-1234-567812345678');
      let reply: ReadonlyMap<string, Uint8Array> | undefined;
      const value = await p.$call('ann', [], {
        annotations: new Map([['XREQ', Buffer.from('request-annotation')]]),
        onReplyAnnotations: (a) => {
          reply = a;
        },
      });
      expect(value).toBe('request-annotation');
      expect(Buffer.from(reply?.get('XRSP') ?? []).toString()).toBe('response-annotation');
    });

    it('compresses requests and reads compressed replies', async () => {
      const compressing = await startPythonServer(['--compression']);
      await using p = connect<PyThing>(compressing.uri, { ...options, config: { compression: true } });
      expect(await p.big(5000)).toBe('x'.repeat(5000));
      expect(await p.echo('y'.repeat(5000))).toBe('y'.repeat(5000));
      await compressing.child.stop();
    });

    it('times out a slow call, drops the connection and reconnects for the next one', async () => {
      await using p = connect<PyThing>(server.uri, options);
      const err = await p.$call('slow', [1], { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(await p.add(2, 2)).toBe(4);
    });

    it('is refused for an unknown object, and for a serializer the daemon does not accept', async () => {
      await using unknown = connect(server.uriOf('no.such.object'), options);
      const err = await unknown.$bind().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommunicationError);
      expect((err as Error).message).toMatch(/rejected: unknown object 'no\.such\.object'$/);
      const strict = await startPythonServer(['--serializers', 'serpent,json,marshal']);
      await using msgpack = connect(strict.uri, { ...options, serializer: 'msgpack' });
      const refused = await msgpack.$bind().catch((e: unknown) => e);
      expect((refused as Error).message).toMatch(
        /rejected: message used serializer that is not accepted: 6$/,
      );
      await strict.child.stop();
    });

    it('calls a Python daemon on a Unix socket', async () => {
      const unix = await startPythonServer(['--unix', join(tmp, 'pyro4.sock')]);
      expect(unix.uri).toMatch(/^PYRO:test\.thing@\.\/u:/);
      await using p = connect<PyThing>(unix.uri, { ...options, serializer: 'marshal' });
      expect(await p.add(20, 22)).toBe(42);
      await unix.child.stop();
    });
  });
});

/** What a value sent to a Python daemon comes back as, per serializer (the format's limits). */
function expectedBack(value: unknown, serializer: SerializerName): unknown {
  const keepsTuplesAndSets = serializer === 'serpent' || serializer === 'marshal';
  const walk = (v: unknown): unknown => {
    if (v instanceof Tuple) return keepsTuplesAndSets ? Tuple.fromArray(v.map(walk)) : v.map(walk);
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Set) return keepsTuplesAndSets ? new Set([...v].map(walk)) : [...v].map(walk);
    if (v instanceof Map) {
      // json has string keys only
      if (serializer === 'json') return Object.fromEntries([...v].map(([k, x]) => [String(k), walk(x)]));
      return new Map([...v].map(([k, x]) => [walk(k), walk(x)]));
    }
    if (v instanceof Uint8Array || v instanceof Complex) return v;
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value);
}

/** The Python exception type a failure stands for (Cinder's own errors are Pyro4's classes). */
function pythonType(err: unknown): string {
  if (err instanceof RemoteError) return err.remoteType.replace(/^builtins\./, '');
  return err instanceof CinderError ? `Pyro4.errors.${err.name}` : (err as Error).name;
}
