// cinder-ns and cinder-nsc as real processes on loopback: the URI line, registrations through the
// control tool, SQLite storage surviving `kill -9`, broadcast discovery, clean shutdown, and exit
// codes that mean something (0 ok, 1 failure, 2 bad usage) with one-line messages.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, scratchDir, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freeUdpPort,
  nsc,
  nscProcess,
  nsExpectingExit,
  type RunningNs,
  removeCliBundle,
  startNs,
} from './helpers.js';

const dir = scratchDir('ns-cli');
const db = join(dir, 'names.sqlite');

afterAll(async () => {
  await stopAllChildren();
  await removeCliBundle();
  rmSync(dir, { recursive: true, force: true });
});

describe('cinder-ns with SQLite storage and broadcast on loopback', () => {
  let ns: RunningNs;
  let bcPort: number;
  const at = () => ['-n', '127.0.0.1', '-p', String(ns.port)];

  beforeAll(async () => {
    bcPort = await freeUdpPort();
    // The leading `--` is what `pnpm ns -- …` passes through.
    ns = await startNs([
      '--',
      '-n',
      '127.0.0.1',
      '-p',
      '0',
      '-s',
      `sql:${db}`,
      '--bc-on-loopback',
      '--bchost',
      '127.0.0.1',
      '--bcport',
      String(bcPort),
      '--log-level',
      'warn',
    ]);
  });

  it('prints exactly the URI line on stdout', () => {
    expect(ns.child.lines).toEqual([`URI = PYRO:Pyro.NameServer@127.0.0.1:${ns.port}`]);
  });

  it('registers, lists, looks up, tags and removes through cinder-nsc processes', async () => {
    const [registered, help, unknownCommand] = await Promise.all([
      nscProcess([...at(), 'register', 'cli.printer', 'PYRO:printer@localhost:5555']),
      nscProcess(['--help']),
      nscProcess([...at(), 'frobnicate']),
    ]);
    expect(registered).toEqual({ code: 0, stdout: 'Registered cli.printer\n', stderr: '' });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: cinder-nsc');
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/^cinder-nsc: unknown command "frobnicate"\n/);

    const [tagged, listed] = await Promise.all([
      nscProcess([...at(), 'setmeta', 'cli.printer', 'printer', 'floor2']),
      nscProcess([...at(), '--json', 'list', 'cli.']),
    ]);
    expect(tagged).toMatchObject({ code: 0, stdout: 'Metadata updated\n' });
    expect(listed.code).toBe(0);
    expect(Object.keys(JSON.parse(listed.stdout))).toEqual(['cli.printer']);

    const [looked, removed] = [
      await nscProcess([...at(), 'lookup', 'cli.printer']),
      await nscProcess([...at(), 'remove', 'cli.printer']),
    ];
    expect(looked).toEqual({
      code: 0,
      stdout: 'PYRO:printer@localhost:5555\nmetadata: floor2, printer\n',
      stderr: '',
    });
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed cli.printer\n' });
  });

  it('fails with clear one-line messages and meaningful exit codes', async () => {
    const down = await freePort();
    const [unknown, nsDown, badUri, nothing] = await Promise.all([
      nscProcess([...at(), 'lookup', 'no.such.name']),
      nscProcess(['-n', '127.0.0.1', '-p', String(down), 'ping']),
      nscProcess([...at(), 'register', 'x', 'PYRO:missing-location']),
      nscProcess([...at(), 'remove', 'no.such.name']),
    ]);
    expect(unknown).toEqual({
      code: 1,
      stdout: '',
      stderr: 'cinder-nsc: error: NamingError: unknown name: no.such.name\n',
    });
    expect(nsDown.code).toBe(1);
    expect(nsDown.stderr).toMatch(
      new RegExp(
        `^cinder-nsc: error: NamingError: failed to locate the nameserver at 127\\.0\\.0\\.1:${down}: .+\\n$`,
      ),
    );
    expect(badUri.code).toBe(2);
    expect(badUri.stderr).toMatch(/^cinder-nsc: invalid uri "PYRO:missing-location": missing location/);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toBe('cinder-nsc: nothing removed: unknown name no.such.name\n');
  });

  it('reports the name server’s refusals (in process, same code as the executable)', async () => {
    expect(await nsc([...at(), 'register', 'dup', 'PYRO:a@localhost:1'])).toMatchObject({ code: 0 });
    expect(await nsc([...at(), 'register', 'dup', 'PYRO:b@localhost:1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'cinder-nsc: error: NamingError: name already registered: dup\n',
    });
    expect(await nsc([...at(), '--force', 'register', 'dup', 'PYRO:b@localhost:1'])).toMatchObject({
      code: 0,
    });
    expect(await nsc([...at(), 'register', '', 'PYRO:b@localhost:1'])).toMatchObject({ code: 1 });
    expect((await nsc([...at(), 'listmatching', '(unclosed'])).stderr).toMatch(/NamingError: invalid regex/);
    expect(await nsc([...at(), 'removematching', 'dup'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--yes/),
    });
    expect(await nsc([...at(), '--yes', 'removematching', 'du.'])).toEqual({
      code: 0,
      stdout: '1 items removed.\n',
      stderr: '',
    });
    expect(await nsc([...at(), '-p', 'x', 'ping'])).toMatchObject({ code: 2 });
    expect(await nsc([...at(), '--protocol', '47', 'ping'])).toMatchObject({ code: 2 });
    expect(await nsc([...at(), 'lookup'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/usage: cinder-nsc lookup name/),
    });
    expect(await nsc([...at(), 'ping'])).toEqual({ code: 0, stdout: 'Name server ping ok.\n', stderr: '' });
  });

  it('answers yellow-pages queries and lists readably', async () => {
    await nsc([...at(), 'register', 'yp.printer', 'PYRO:p@localhost:1']);
    await nsc([...at(), 'setmeta', 'yp.printer', 'printer', 'floor2']);
    await nsc([...at(), 'register', 'yp.lamp', 'PYRO:l@localhost:2']);
    await nsc([...at(), 'setmeta', 'yp.lamp', 'light', 'floor1']);
    const all = await nsc([...at(), 'yplookup_all', 'printer', 'floor2']);
    expect(all.stdout).toBe(
      '--------START LIST - searched by metadata (all)\n' +
        'yp.printer --> PYRO:p@localhost:1\n' +
        '    metadata: floor2, printer\n' +
        '--------END LIST - searched by metadata (all)\n',
    );
    const any = await nsc([...at(), '--json', 'yplookup_any', 'floor1', 'printer']);
    expect(JSON.parse(any.stdout)).toEqual({
      'yp.printer': { uri: 'PYRO:p@localhost:1', metadata: ['floor2', 'printer'] },
      'yp.lamp': { uri: 'PYRO:l@localhost:2', metadata: ['floor1', 'light'] },
    });
    const regex = await nsc([...at(), '--json', 'listmatching', '.*lamp$']);
    expect(Object.keys(JSON.parse(regex.stdout))).toEqual(['yp.lamp']);
    expect((await nsc([...at(), 'setmeta', 'yp.lamp'])).stdout).toBe('Metadata cleared\n');
    expect((await nsc([...at(), '--json', 'count'])).stdout).toBe('{"count":3}\n');
  });

  it('is found by broadcast when no host is given', async () => {
    const deadPort = await freePort();
    const found = await nsc(['-v', 'ping'], {
      CINDER_NS_HOST: '127.0.0.1',
      CINDER_NS_PORT: String(deadPort),
      CINDER_NS_BC_PORT: String(bcPort),
      CINDER_BROADCAST_ADDRS: '127.0.0.1',
    });
    expect(found).toEqual({
      code: 0,
      stdout: 'Name server ping ok.\n',
      stderr: `Name server found: ${ns.uri}\n`,
    });
  });

  it('keeps every registration across kill -9 and a restart', async () => {
    await nsc([...at(), 'register', 'durable.one', 'PYRO:one@localhost:1111']);
    await nsc([...at(), 'setmeta', 'durable.one', 'a', 'b']);
    await nsc([...at(), 'register', 'durable.two', 'PYRO:two@localhost:2222']);
    expect(await ns.child.stop('SIGKILL')).toBe('SIGKILL');

    const again = await startNs([
      '-n',
      '127.0.0.1',
      '-p',
      '0',
      '-x',
      '-s',
      `sql:${db}`,
      '--log-level',
      'warn',
    ]);
    const args = ['-n', '127.0.0.1', '-p', String(again.port), '--json'];
    const listed = JSON.parse((await nsc([...args, 'list', 'durable.'])).stdout) as Record<string, unknown>;
    expect(listed).toEqual({
      'durable.one': { uri: 'PYRO:one@localhost:1111', metadata: ['a', 'b'] },
      'durable.two': { uri: 'PYRO:two@localhost:2222', metadata: [] },
    });
    // The name server registered itself again, at its new port.
    const self = JSON.parse((await nsc([...args, 'lookup', 'Pyro.NameServer'])).stdout) as { uri: string };
    expect(self.uri).toBe(again.uri);

    // A second name server on the same port fails with exit code 1 and one line.
    const clash = await nsExpectingExit(['-n', '127.0.0.1', '-p', String(again.port), '-x']);
    expect(clash.code).toBe(1);
    expect(clash.stderr.trim().split('\n')).toHaveLength(1);
    expect(clash.stderr).toMatch(/^cinder-ns: error: .*(in use|EADDRINUSE)/i);

    // SIGTERM: clean shutdown, exit code 0.
    expect(await again.child.stop('SIGTERM', 10_000)).toBe(0);
  });
});

describe('cinder-ns usage errors', () => {
  it('exits 2 with a hint for bad options, and 0 for --help', async () => {
    const [badPort, badStorage, unknownOption, help] = await Promise.all([
      nsExpectingExit(['-p', 'abc']),
      nsExpectingExit(['-s', 'redis:somewhere']),
      nsExpectingExit(['--frobnicate']),
      nsExpectingExit(['--help']),
    ]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toBe(
      'cinder-ns: option --port needs an integer 0..65535, got "abc"\nTry \'cinder-ns --help\' for more information.\n',
    );
    expect(badStorage).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/invalid storage "redis:somewhere"/),
    });
    expect(unknownOption).toMatchObject({ code: 2, stderr: expect.stringMatching(/--frobnicate/) });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: cinder-ns [options]');
  });
});
