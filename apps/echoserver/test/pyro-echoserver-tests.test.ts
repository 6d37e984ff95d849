// What Pyro's own echo-server tests (Pyro5 tests/test_echoserver.py; Pyro4's equivalent) expect of
// the server, checked against cinder-echoserver with the wire protocol and serializer each Pyro
// speaks: echo of values, error() and error_with_text() as ValueError with each Pyro's texts and a
// remote traceback, and generator() streamed item by item to the end.
import { connect, type ProxyOptions, RemoteError } from '@cinder/cinder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoIo, parseEchoArgs, runEchoServer } from '../src/cli.js';
import type { EchoServer } from '../src/echo-server.js';

const out: string[] = [];
let stop!: () => void;
let run: Promise<unknown>;
let uri: string;

beforeAll(async () => {
  const io: EchoIo = {
    stdout: (text: string) => out.push(text),
    stderr: () => {},
    stopRequested: new Promise<string>((resolve) => (stop = () => resolve('SIGTERM'))),
  };
  const plan = parseEchoArgs(['-H', '127.0.0.1', '-q'], {});
  if (plan === 'help') throw new Error('unexpected help');
  run = runEchoServer(plan, io);
  for (let i = 0; i < 500 && !out.some((l) => l.startsWith('URI = ')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  uri = out
    .find((l) => l.startsWith('URI = '))!
    .slice(6)
    .trim();
});
afterAll(async () => {
  stop();
  await run;
});

const pyros: [string, ProxyOptions, string][] = [
  [
    'Pyro5 (protocol 502, serpent)',
    { serializer: 'serpent' },
    'this is the generated error from echoserver echo() method',
  ],
  [
    'Pyro5 (protocol 502, json)',
    { serializer: 'json' },
    'this is the generated error from echoserver echo() method',
  ],
  [
    'Pyro4 (protocol 48, serpent)',
    { protocol: 48, serializer: 'serpent' },
    'expected error from echoserver error() method',
  ],
];

describe.each(pyros)("Pyro's echo-server test expectations, as %s", (_, options, errorText) => {
  it('testEcho: echoes strings, None and lists', async () => {
    await using echo = connect<EchoServer>(uri, { ...options, timeoutMs: 5000 });
    expect(await echo.echo('hello')).toBe('hello');
    expect(await echo.echo(null)).toBe(null);
    expect(await echo.echo([1, 2, 3])).toEqual([1, 2, 3]);
  });

  it("testError: ValueError with that Pyro's texts and a remote traceback", async () => {
    await using echo = connect<EchoServer>(uri, { ...options, timeoutMs: 5000 });
    for (const [method, text] of [
      ['error', errorText],
      ['error_with_text', 'the message of the error'],
    ] as const) {
      const err = await echo.$call(method).catch((e: unknown) => e);
      // a Cinder client revives the RangeError; what a Python client reads is the wire's class
      expect((err as Error).message).toBe(text);
      expect((err as { remoteTraceback?: string[] }).remoteTraceback?.join('')).toContain(text);
      expect(err).toBeInstanceOf(RangeError); // builtins.ValueError on the wire
      expect(err).not.toBeInstanceOf(RemoteError);
    }
  });

  it('testGenerator: three items, then the end', async () => {
    await using echo = connect<EchoServer>(uri, { ...options, timeoutMs: 5000 });
    const items: string[] = [];
    for await (const item of await echo.generator()) items.push(item);
    expect(items).toEqual(['one', 'two', 'three']);
  });
});
