// cinder-echoserver as a process, driven by a Python Pyro4 client and by Cinder proxies: every
// member of Pyro's echo server, its Unix socket and name server options (with Python's pyro4 name
// server), and its exits: shutdown(), SIGINT, SIGTERM (0), a busy port (1), a bad option (2).
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect, type RemoteError } from '@cinder/cinder';
import {
  freePort,
  repoRoot,
  type StartedChild,
  scratchDir,
  startChild,
  stopAllChildren,
} from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPyro4, PYTHON, PythonRepl, py, pythonEnv } from './interop-python.js';

const ECHOSERVER = join(repoRoot, 'apps/echoserver/src/main.ts');

interface Echo {
  echo<T>(message: T): T;
  error(): never;
  oneway_echo(message: unknown): void;
  oneway_slow(): void;
  generator(): Iterator<string>;
  nan(): number;
  inf(): number;
  shutdown(): void;
  verbose: boolean;
}

function startEchoServer(args: string[]): StartedChild {
  return startChild(ECHOSERVER, args, { env: { CINDER_HMAC_KEY: undefined } });
}

async function uriOf(child: StartedChild): Promise<string> {
  const [, uri] = (await child.waitForLine(/^URI = (PYRO:test\.echoserver@.+)$/, 20_000)) as unknown as [
    string,
    string,
  ];
  return uri;
}

describeWithPyro4('cinder-echoserver with Python Pyro4 and Cinder clients', () => {
  const tmp = scratchDir('echo');
  let python: PythonRepl;

  beforeAll(() => {
    python = PythonRepl.start();
  });

  afterAll(async () => {
    await python?.close();
    await stopAllChildren();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('over TCP, verbose', () => {
    let server: StartedChild;
    let uri: string;

    beforeAll(async () => {
      server = startEchoServer(['-H', '127.0.0.1', '-v']);
      uri = await uriOf(server);
      await python.exec(`echo = proxy(${py(uri)}, 'serpent')`);
    });

    it('prints a banner and the URI line', () => {
      expect(server.lines).toContain("Starting Cinder's test echo server.");
      expect(server.lines).toContain('object name: test.echoserver');
      expect(uri).toMatch(/^PYRO:test\.echoserver@127\.0\.0\.1:\d+$/);
    });

    it("answers Python Pyro4 as Pyro's echo server does", async () => {
      expect(await python.repr("echo.echo([1, 'two', (3, 4.5), {'k': None}])")).toBe(
        "[1, 'two', (3, 4.5), {'k': None}]",
      );
      const error = await python.raises('echo.error()');
      expect([error.type, error.message]).toEqual([
        'ValueError',
        'expected error from echoserver error() method',
      ]);
      const text = await python.raises('echo.error_with_text()');
      expect([text.type, text.message]).toEqual(['ValueError', 'the message of the error']);
      expect(await python.repr('list(echo.generator())')).toBe("['one', 'two', 'three']");
      expect(await python.repr('(echo.nan(), echo.inf())')).toBe('(nan, inf)');
      expect(await python.repr('echo.__dunder__()')).toBe("'should be allowed (dunder)'");
      expect(await python.repr("echo.oneway_echo('fire')")).toBe('None');
      const priv = await python.raises("echo._pyroInvoke('_private', (), {})");
      expect(priv.message).toBe("attempt to access private attribute '_private'");
      const mangled = await python.raises("echo._pyroInvoke('__private', (), {})");
      expect(mangled.message).toBe("attempt to access private attribute '__private'");
      expect(await python.repr('sorted(echo._pyroOneway), sorted(echo._pyroAttrs)')).toBe(
        "(['oneway_echo', 'oneway_slow'], ['verbose'])",
      );
      // every call was printed (verbose), the oneway one included
      await server.waitForLine(/ - oneway_echo: 'fire'$/, 5000);
    });

    it('keeps answering while a oneway_slow call runs, and times out slow() for an impatient client', async () => {
      const started = Date.now();
      expect(await python.repr('echo.oneway_slow()')).toBe('None');
      expect(await python.repr("echo.echo('still here')")).toBe("'still here'");
      expect(Date.now() - started).toBeLessThan(4000);
      const timeout = await python.raises(
        `impatient = proxy(${py(uri)}, 'json', timeout=0.3)\nimpatient.slow()`,
      );
      expect(timeout.type).toBe('Pyro4.errors.TimeoutError');
    });

    it('answers Cinder proxies over both protocols, and the verbose attribute', async () => {
      await using cinder = connect<Echo>(uri);
      await using pyro4 = connect<Echo>(uri, { protocol: 48, serializer: 'msgpack' });
      expect(await cinder.echo({ n: 1n << 70n })).toEqual({ n: 1n << 70n });
      expect(await pyro4.echo('over protocol 48')).toBe('over protocol 48');
      const err = await pyro4.error().catch((e: unknown) => e);
      expect((err as RemoteError).remoteType ?? (err as Error).name).toMatch(/ValueError|RangeError/);
      expect(await cinder.verbose).toBe(true);
      await python.exec('echo.verbose = False');
      expect(await cinder.verbose).toBe(false);
      await cinder.$set('verbose', true);
      expect(await python.repr('echo.verbose')).toBe('True');
    });

    it('stops when a client calls shutdown(), with exit code 0', async () => {
      expect(await python.repr('echo.shutdown()')).toBe('None');
      expect(await server.exited).toBe(0);
    });
  });

  it('serves on a Unix socket, warns when no name server answers, and stops on SIGINT with 0', async () => {
    const socket = join(tmp, 'echo.sock');
    const nowhere = await freePort();
    const server = startEchoServer([
      '-u',
      socket,
      '-n',
      '--ns-host',
      '127.0.0.1',
      '--ns-port',
      String(nowhere),
    ]);
    const uri = await uriOf(server);
    expect(uri).toBe(`PYRO:test.echoserver@./u:${socket}`);
    // stderr is another pipe: the warning (written before the URI line) may arrive after it
    await expect
      .poll(() => server.stderr(), { timeout: 5000 })
      .toMatch(/warning: not registered with a name server/);
    expect(await python.repr(`proxy(${py(uri)}, 'marshal').echo(b'bytes')`)).toBe("b'bytes'");
    expect(await server.stop('SIGINT')).toBe(0);
  });

  it('registers with a Python Pyro4 name server (-n), removes the name on SIGTERM, and exits with 0', async () => {
    const ns = startChild('-m', ['Pyro4.naming', '-n', '127.0.0.1', '-p', '0', '-x'], {
      command: PYTHON,
      env: pythonEnv(),
    });
    const [, nsPort] = (await ns.waitForLine(
      /^URI = PYRO:Pyro\.NameServer@127\.0\.0\.1:(\d+)$/,
    )) as unknown as [string, string];
    const server = startEchoServer([
      '-H',
      '127.0.0.1',
      '-n',
      '--ns-host',
      '127.0.0.1',
      '--ns-port',
      nsPort,
      '-q',
    ]);
    const uri = await uriOf(server);
    await python.exec(`ns = Pyro4.locateNS('127.0.0.1', ${nsPort})`);
    expect(await python.repr("str(ns.lookup('test.echoserver'))")).toBe(`'${uri}'`);
    expect(
      await python.repr("Pyro4.Proxy('PYRONAME:test.echoserver@127.0.0.1:" + nsPort + "').echo(7)"),
    ).toBe('7');
    expect(await server.stop('SIGTERM')).toBe(0);
    const gone = await python.raises("ns.lookup('test.echoserver')");
    expect([gone.type, gone.message]).toEqual(['Pyro4.errors.NamingError', 'unknown name: test.echoserver']);
    await ns.stop();
  });

  it('exits with 1 when the port is taken and with 2 for a bad option', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      const busy = startEchoServer(['-H', '127.0.0.1', '-p', String(port)]);
      const bad = startEchoServer(['--no-such-option']);
      expect(await busy.exited).toBe(1);
      await expect.poll(() => busy.stderr()).toMatch(/^cinder-echoserver: error: /m);
      expect(await bad.exited).toBe(2);
      await expect.poll(() => bad.stderr()).toMatch(/Try 'cinder-echoserver --help'/);
    } finally {
      blocker.close();
    }
  });
});
