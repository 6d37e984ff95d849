// cinder-echoserver in-process: its command line, the members it exposes (Pyro's echo server's),
// and a run driven by a Cinder proxy until shutdown(), a stop signal, or a failure to bind.
import { createServer } from 'node:net';
import { connect, exposureOf, NotExposedError, resolveConfig } from '@cinder/cinder';
import { describe, expect, it } from 'vitest';
import { type EchoIo, ExitCode, OBJECT_NAME, parseEchoArgs, runEchoServer, UsageError } from '../src/cli.js';
import { EchoServer } from '../src/echo-server.js';

const env = {};

describe('the command line', () => {
  it('has Pyro-like defaults and options', () => {
    const plan = parseEchoArgs([], env);
    if (plan === 'help') throw new Error('unexpected help');
    expect([plan.naming, plan.verbose, plan.quiet, plan.host, plan.port]).toEqual([
      false,
      false,
      false,
      undefined,
      undefined,
    ]);
    expect(plan.config.serializersAccepted).toEqual(resolveConfig({}, { env }).serializersAccepted);
    const full = parseEchoArgs(
      [
        '--',
        '-H',
        '::1',
        '-p',
        '9999',
        '-s',
        'json,serpent',
        '--protocols',
        '48',
        '-n',
        '--ns-port',
        '9090',
        '-v',
        '-q',
      ],
      env,
    );
    if (full === 'help') throw new Error('unexpected help');
    expect(full).toMatchObject({
      host: '::1',
      port: 9999,
      protocols: [48],
      naming: true,
      nsPort: 9090,
      verbose: true,
    });
    expect(full.quiet).toBe(false); // -v wins over -q, as in Pyro
    expect(full.config.serializersAccepted).toEqual(['json', 'serpent']);
    expect(parseEchoArgs(['-h'], env)).toBe('help');
    expect(parseEchoArgs(['-u', '/tmp/echo.sock'], env)).toMatchObject({ unixSocket: '/tmp/echo.sock' });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['-p', 'http'], /--port needs a port number/],
    [['-p', '70000'], /--port needs a port number/],
    [['-u', '/tmp/x', '-p', '1'], /either --unixsocket or --host\/--port/],
    [['--protocols', '47'], /--protocols takes 502 and\/or 48/],
    [['-s', 'pickle'], /serializersAccepted/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseEchoArgs(argv, env)).toThrow(UsageError);
    expect(() => parseEchoArgs(argv, env)).toThrow(message);
  });
});

describe('the echo server object', () => {
  it("exposes Pyro's echo server members, and nothing private", () => {
    const { metadata } = exposureOf(EchoServer);
    expect([...metadata.methods].sort()).toEqual([
      '__dunder__',
      'echo',
      'error',
      'error_with_text',
      'generator',
      'inf',
      'nan',
      'oneway_echo',
      'oneway_slow',
      'shutdown',
      'slow',
    ]);
    expect([...metadata.oneway].sort()).toEqual(['oneway_echo', 'oneway_slow']);
    expect(metadata.attrs).toEqual(['verbose']);
  });

  it('prints calls when verbose, with Python truthiness for the attribute', () => {
    const lines: string[] = [];
    const echo = new EchoServer({ print: (line) => lines.push(line) });
    echo.echo('quiet');
    echo.verbose = [1];
    echo.echo({ a: 1 });
    echo.verbose = [];
    echo.echo('quiet again');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - echo: \{ a: 1 \}$/);
  });
});

function testIo(stop: Promise<string>): EchoIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), stopRequested: stop };
}

async function uriOf(io: { out: string[] }): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const line = io.out.find((l) => l.startsWith('URI = '));
    if (line) return line.slice(6).trim();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no URI line in ${io.out.join('')}`);
}

describe('a run', () => {
  it('serves until a client calls shutdown(), then exits with 0', async () => {
    const io = testIo(new Promise(() => {}));
    const plan = parseEchoArgs(['-H', '127.0.0.1', '-q'], env);
    if (plan === 'help') throw new Error('unexpected help');
    const run = runEchoServer(plan, io);
    const uri = await uriOf(io);
    expect(uri).toMatch(new RegExp(`^PYRO:${OBJECT_NAME.replace('.', '\\.')}@127\\.0\\.0\\.1:\\d+$`));
    expect(io.out).toEqual([`URI = ${uri}\n`]); // -q: only the URI line
    await using p = connect<EchoServer>(uri);
    expect(await p.echo({ x: [1, 2] })).toEqual({ x: [1, 2] });
    const err = await p.error_with_text().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe('the message of the error');
    const items: string[] = [];
    for await (const item of await p.generator()) items.push(item);
    expect(items).toEqual(['one', 'two', 'three']);
    expect(Number.isNaN(await p.nan())).toBe(true);
    expect(await p.$call('__dunder__')).toBe('should be allowed (dunder)');
    const priv = await p.$call('_private').catch((e: unknown) => e);
    expect(priv).toBeInstanceOf(NotExposedError); // the metadata does not list it: refused locally
    await p.shutdown();
    expect(await run).toBe(ExitCode.OK);
  });

  it('stops on a signal with 0, and fails with 1 when it cannot bind', async () => {
    let stop: (why: string) => void = () => {};
    const io = testIo(new Promise((resolve) => (stop = resolve)));
    const plan = parseEchoArgs(['-H', '127.0.0.1', '-q'], env);
    if (plan === 'help') throw new Error('unexpected help');
    const run = runEchoServer(plan, io);
    await uriOf(io);
    stop('SIGTERM');
    expect(await run).toBe(ExitCode.OK);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = parseEchoArgs(['-H', '127.0.0.1', '-p', String(port), '-q'], env);
      if (busy === 'help') throw new Error('unexpected help');
      const failed = testIo(new Promise(() => {}));
      expect(await runEchoServer(busy, failed)).toBe(ExitCode.FAILURE);
      expect(failed.err.join('')).toMatch(/^cinder-echoserver: error: .*(in use|EADDRINUSE)/);
    } finally {
      blocker.close();
    }
  });
});
