// @cinder/cinder/cli, the plumbing of Cinder's command-line programs: option checks with the exact
// messages the programs print, and in child processes the stop signals and dropping privileges
// with a Unix socket handed over first.
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, resolveConfig } from '@cinder/core';
import { scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import {
  configOrUsageError,
  ExitCode,
  intOption,
  listenArgs,
  logLevelOption,
  oneLine,
  parseCommandLine,
  planOrExit,
  UsageError,
} from '../src/cli.js';

const child = fileURLToPath(new URL('./fixtures/cli-child.ts', import.meta.url));

afterAll(() => stopAllChildren());

describe('option helpers', () => {
  it('reads bounded integers and names the option and the range when one is off', () => {
    expect(intOption(undefined, '--port', 0, 65535)).toBeUndefined();
    expect(intOption('0', '--port', 0, 65535)).toBe(0);
    expect(intOption('65535', '--port', 0, 65535)).toBe(65535);
    expect(() => intOption('65536', '--port', 0, 65535)).toThrow(
      new UsageError('option --port needs an integer 0..65535, got "65536"'),
    );
    expect(() => intOption('-1', '--bcport', 0, 65535)).toThrow(UsageError);
    expect(() => intOption('0', '--timeout', 1, 10)).toThrow(
      'option --timeout needs an integer 1..10, got "0"',
    );
    expect(() => intOption('1e3', '--port', 0, 65535, 'a port number')).toThrow(
      'option --port needs a port number 0..65535, got "1e3"',
    );
  });

  it('checks --log-level against the known levels', () => {
    expect(logLevelOption(undefined)).toBeUndefined();
    expect(logLevelOption('debug')).toBe('debug');
    expect(() => logLevelOption('loud')).toThrow(/^option --log-level must be one of fatal, .*silent/);
  });

  it('parses strictly, drops a leading -- only, and turns complaints into one-line UsageErrors', () => {
    const options = { help: { type: 'boolean', short: 'h' }, port: { type: 'string' } } as const;
    expect(parseCommandLine(['--', '-h'], options, false).values).toEqual({ help: true });
    expect(parseCommandLine(['x', '--', '-h'], options, true).positionals).toEqual(['x', '-h']);
    expect(() => parseCommandLine(['-h', '--', '-h'], options, false)).toThrow(UsageError);
    expect(() => parseCommandLine(['--bogus'], options, false)).toThrow(
      new UsageError("Unknown option '--bogus'"),
    );
    expect(() => parseCommandLine(['--port'], options, false)).toThrow(UsageError);
  });

  it('turns only ConfigErrors of a config into UsageErrors', () => {
    expect(() => configOrUsageError(() => resolveConfig({}, { env: { CINDER_NO_SUCH: '1' } }))).toThrow(
      UsageError,
    );
    const bug = new RangeError('a bug, not a usage error');
    expect(() =>
      configOrUsageError(() => {
        throw bug;
      }),
    ).toThrow(bug);
    expect(() =>
      configOrUsageError(() => {
        throw new ConfigError('bad value');
      }),
    ).toThrow(new UsageError('bad value'));
  });

  it('prints help or a usage error and gives the exit code, or hands over the plan', () => {
    let printed = '';
    const out = {
      stdout: (t: string) => {
        printed += `[out]${t}`;
      },
      stderr: (t: string) => {
        printed += `[err]${t}`;
      },
    };
    const plan = { port: 1 };
    expect(planOrExit('tool', 'Usage: tool\n', out, () => plan)).toBe(plan);
    expect(printed).toBe('');
    expect(planOrExit('tool', 'Usage: tool\n', out, () => 'help')).toBe(ExitCode.OK);
    expect(printed).toBe('[out]Usage: tool\n');
    printed = '';
    const bad = () => {
      throw new UsageError('missing command');
    };
    expect(planOrExit('cinder-ns', 'Usage\n', out, bad)).toBe(ExitCode.USAGE);
    expect(printed).toBe("[err]cinder-ns: missing command\nTry 'cinder-ns --help' for more information.\n");
    const bug = new TypeError('a bug');
    expect(() =>
      planOrExit('tool', '', out, () => {
        throw bug;
      }),
    ).toThrow(bug);
    expect(oneLine(new Error('first\nsecond'))).toBe('first');
    expect(oneLine('plain')).toBe('plain');
    expect(ExitCode).toEqual({ OK: 0, FAILURE: 1, USAGE: 2 });
  });
});

describe('listenArgs', () => {
  it('returns the socket mode and the privileges that were given', () => {
    expect(listenArgs({})).toEqual({});
    expect(listenArgs({ host: '::1', port: '0' })).toEqual({});
    expect(listenArgs({ unixsocket: '/tmp/s', 'socket-mode': '660' })).toEqual({ socketMode: 0o660 });
    expect(listenArgs({ unixsocket: '/tmp/s', 'socket-mode': '0o2770' })).toEqual({ socketMode: 0o2770 });
    expect(listenArgs({ unixsocket: '/tmp/s', 'socket-mode': '0640' })).toEqual({ socketMode: 0o640 });
    expect(listenArgs({ user: 'nobody' })).toEqual({ privileges: { user: 'nobody' } });
    expect(listenArgs({ user: '65534', group: 'nogroup' })).toEqual({
      privileges: { user: '65534', group: 'nogroup' },
    });
  });

  it.each([
    [{ unixsocket: '/s', port: '1' }, 'give either --unixsocket or --host/--port'],
    [{ unixsocket: '/s', host: 'h' }, 'give either --unixsocket or --host/--port'],
    [{ 'socket-mode': '660' }, 'option --socket-mode needs --unixsocket'],
    [
      { unixsocket: '/s', 'socket-mode': '999' },
      'option --socket-mode takes an octal mode such as 660, got "999"',
    ],
    [
      { unixsocket: '/s', 'socket-mode': '66' },
      'option --socket-mode takes an octal mode such as 660, got "66"',
    ],
    [{ user: '' }, 'option --user needs a name or a number'],
    [{ group: '' }, 'option --group needs a name or a number'],
  ])('refuses %j', (args, message) => {
    expect(() => listenArgs(args)).toThrow(new UsageError(message));
  });
});

describe('in a process', () => {
  it('stops on the first signal, and exits with 1 on a second one of either kind', {
    timeout: 15_000,
  }, async () => {
    const p = startChild(child, ['signal']);
    await p.waitForLine(/^ready$/, 10_000);
    p.child.kill('SIGINT');
    await p.waitForLine(/^stopping on SIGINT$/, 5000);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(ExitCode.FAILURE);
  });

  it.runIf(process.geteuid?.() === 0)(
    'hands the Unix socket to the new user, then drops to it',
    { timeout: 15_000 },
    async () => {
      const dir = scratchDir('cli');
      chmodSync(dir, 0o755); // so that nobody can still see the socket it was handed
      try {
        const p = startChild(child, ['drop', join(dir, 's.sock')]);
        const [line] = await p.waitForLine(/^\{.*\}$/, 10_000);
        expect(JSON.parse(line)).toEqual({ uid: 65534, gid: 65534, fileUid: 65534, fileGid: 65534 });
        expect(await p.exited).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
