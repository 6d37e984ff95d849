// Credentials of the CLI apps, end to end: cinder-echoserver and cinder-ns started as root with
// --user/--group/--socket-mode really run as the unprivileged user (read from /proc), keep serving,
// hand their Unix socket to that user so its mode decides who may connect (checked with clients
// running as other users), and remove it when they stop. Usage errors exit with 2, impossible
// switches with 1. Skipped unless the tests run as root on Linux.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, expose } from '@cinder/cinder';
import { repoOpenToOthers, startChild, stopAllChildren, tsNodeArgs } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const echoMain = fileURLToPath(new URL('../../../apps/echoserver/src/main.ts', import.meta.url));
const nsMain = fileURLToPath(new URL('../../../apps/nameserver/src/ns.ts', import.meta.url));
const asRoot = process.platform === 'linux' && process.geteuid?.() === 0;
const NOBODY = 65534;

/** The real, effective, saved and filesystem ids and the groups of a process, from /proc. */
function idsOf(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '')
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '')
      .map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

/** Tries to connect to a Unix socket as another user; resolves with 'CONNECTED' or the error code. */
function connectAs(path: string, uid: number, gid: number): Promise<string> {
  const script = `require('net').connect(${JSON.stringify(path)})
    .on('connect', () => { console.log('CONNECTED'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
  });
}

/** A port below 1024 that is free on 127.0.0.1 right now (only root can bind it). */
async function freePrivilegedPort(): Promise<number> {
  for (let port = 1023; port > 900; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free privileged port between 901 and 1023');
}

afterAll(async () => {
  await stopAllChildren();
});

describe.skipIf(!asRoot)('cinder-echoserver --user/--group/--socket-mode', () => {
  it('runs as nobody:nogroup after binding, its socket 0660 and theirs; only they may connect', async () => {
    const path = join(tmpdir(), `cinder-echo-${process.pid}.sock`);
    rmSync(path, { force: true });
    const server = startChild(echoMain, [
      '--unixsocket',
      path,
      '--socket-mode',
      '660',
      '--user',
      'nobody',
      '--group',
      'nogroup',
      '--quiet',
    ]);
    try {
      const [, uri] = (await server.waitForLine(/^URI = (.+)$/, 30_000)) as unknown as [string, string];
      const ids = idsOf(server.child.pid!);
      expect(ids.uid).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.gid).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.groups).toEqual([NOBODY]);
      const st = statSync(path);
      expect(st.mode & 0o777).toBe(0o660);
      expect([st.uid, st.gid]).toEqual([NOBODY, NOBODY]);

      @expose
      class EchoApi {
        echo(v: unknown): unknown {
          return v;
        }
      }
      await using p = connect<EchoApi>(uri, { serializer: 'json' });
      expect(await p.echo('dropped')).toBe('dropped');
      // the mode decides: the owner group gets in, another unprivileged user does not
      expect(await connectAs(path, NOBODY, NOBODY)).toBe('CONNECTED');
      expect(await connectAs(path, 1, 1)).toBe('EACCES');

      // as nobody it can still remove its socket when it stops
      expect(await server.stop('SIGTERM', 10_000)).toBe(0);
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(path, { force: true });
    }
  }, 60_000);

  it('binds a privileged port (< 1024) as root, then serves from it as nobody', async () => {
    const port = await freePrivilegedPort();
    const server = startChild(echoMain, [
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--user',
      'nobody',
      '-q',
    ]);
    try {
      const [, uri] = (await server.waitForLine(/^URI = (.+)$/, 30_000)) as unknown as [string, string];
      expect(uri).toBe(`PYRO:test.echoserver@127.0.0.1:${port}`);
      expect(idsOf(server.child.pid!).uid).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
      await using p = connect<{ echo(v: unknown): Promise<unknown> }>(uri, { serializer: 'json' });
      expect(await p.echo(port)).toBe(port);
    } finally {
      await server.stop('SIGTERM', 10_000);
    }
  }, 60_000);

  it('bad usage exits with 2; an unknown user with 1, before serving', async () => {
    const run = async (args: string[]) => {
      const child = startChild(echoMain, args);
      const code = await child.exited;
      return { code, stderr: child.stderr(), uri: child.lines.some((l) => l.startsWith('URI = ')) };
    };
    const noSocket = await run(['--socket-mode', '600']);
    expect(noSocket.code).toBe(2);
    expect(noSocket.stderr).toMatch(/--socket-mode needs --unixsocket/);
    const badMode = await run(['--unixsocket', join(tmpdir(), 'never.sock'), '--socket-mode', '999']);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/octal mode/);
    const unknown = await run(['--user', 'no-such-user-here']);
    expect(unknown).toMatchObject({ code: 1, uri: false });
    expect(unknown.stderr).toMatch(/unknown user 'no-such-user-here'/);
  }, 60_000);

  // The child runs as uid 1 from the start, so it must be able to read the repository.
  it.runIf(repoOpenToOthers())(
    'an unprivileged caller exits with 1 instead of serving as itself',
    async () => {
      const unprivileged = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [...tsNodeArgs(), echoMain, '--user', 'nobody'], {
          uid: 1,
          gid: 1,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, out, err });
        });
      });
      expect(unprivileged.code).toBe(1);
      expect(unprivileged.err).toMatch(/only root can drop privileges \(running as uid 1\)/);
      expect(unprivileged.out).not.toMatch(/URI = /);
    },
    60_000,
  );
});

describe.skipIf(!asRoot)('cinder-ns --user/--group/--socket-mode', () => {
  it('runs as nobody after binding, with its socket 0600 and owned by nobody', async () => {
    const path = join(tmpdir(), `cinder-ns-${process.pid}.sock`);
    rmSync(path, { force: true });
    const ns = startChild(nsMain, ['--unixsocket', path, '--socket-mode', '0600', '--user', 'nobody']);
    try {
      const [, uri] = (await ns.waitForLine(/^URI = (.+)$/, 30_000)) as unknown as [string, string];
      const ids = idsOf(ns.child.pid!);
      expect(ids.uid).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.groups).toEqual([NOBODY]);
      const st = statSync(path);
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.uid).toBe(NOBODY);
      await using p = connect<{ ping(): Promise<void> }>(uri);
      await p.ping();
      expect(await connectAs(path, 1, 1)).toBe('EACCES');
      expect(await ns.stop('SIGTERM', 10_000)).toBe(0);
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(path, { force: true });
    }
  }, 60_000);
});
