// Privilege dropping, tested in child processes so this test process keeps its own ids.
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@cinder/core';
import { repoOpenToOthers, scratchDir, startChild, stopAllChildren, tsNodeArgs } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrivileges, resolveGroup, resolveUser } from '../src/index.js';

const child = new URL('./fixtures/drop-child.ts', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;

afterAll(() => stopAllChildren());

/** Runs the fixture (as `uid` when given, which needs root) and returns its report. */
async function runChild(options: object, extra: string[] = [], uid?: number): Promise<Record<string, any>> {
  if (uid === undefined) {
    const started = startChild(child, [JSON.stringify(options), ...extra]);
    const m = await started.waitForLine(/^REPORT (.*)$/, 15_000);
    await started.exited;
    return JSON.parse(m[1]!);
  }
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [...tsNodeArgs(), child, JSON.stringify(options), ...extra],
      { uid, gid: uid, timeout: 15_000, cwd: tmpdir() },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
  const line = out.split('\n').find((l) => l.startsWith('REPORT '));
  if (!line) throw new Error(`no report from the child: ${out}`);
  return JSON.parse(line.slice('REPORT '.length));
}

describe('resolveUser / resolveGroup', () => {
  it('resolves names and ids from the system databases', () => {
    expect(resolveUser('root')).toEqual({ name: 'root', uid: 0, gid: 0 });
    expect(resolveUser('nobody')).toEqual({ name: 'nobody', uid: 65534, gid: 65534 });
    expect(resolveUser(65534)?.name).toBe('nobody');
    expect(resolveGroup('root')).toEqual({ name: 'root', gid: 0 });
    expect(resolveGroup(0)?.name).toBe('root');
  });

  it('refuses unknown and malformed names with a ConfigError; unknown numeric ids resolve to null', () => {
    expect(() => resolveUser('no-such-user-cinder')).toThrow(ConfigError);
    expect(() => resolveUser('no-such-user-cinder')).toThrow("unknown user 'no-such-user-cinder'");
    expect(() => resolveGroup('no-such-group-cinder')).toThrow("unknown group 'no-such-group-cinder'");
    expect(() => resolveUser('a:b')).toThrow(/invalid user name/);
    expect(() => resolveUser('')).toThrow(ConfigError);
    expect(resolveUser(4_000_000)).toBeNull();
  });
});

describe('dropPrivileges', () => {
  it('does nothing without a user or group', () => {
    const state = dropPrivileges({});
    expect(state.uid).toBe(process.geteuid!());
  });

  it('needs a group for a uid without a passwd entry', () => {
    expect(() => dropPrivileges({ user: 4_000_000 })).toThrow(/has no passwd entry/);
  });

  it.runIf(isRoot)(
    'drops a root child to nobody: ids, no supplementary groups, no way back, no root-only files',
    async () => {
      const dir = scratchDir('priv');
      try {
        const secret = join(dir, 'secret');
        writeFileSync(secret, 'root only', { mode: 0o600 });
        const r = await runChild({ user: 'nobody' }, [secret]);
        expect(r).toMatchObject({
          ok: true,
          state: { uid: 65534, gid: 65534, groups: [65534] },
          real: { uid: 65534, gid: 65534 },
          regained: false,
          // Readable before the drop, so the refusal after it comes from the drop.
          secretReadableBefore: true,
          secretReadable: false,
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.runIf(isRoot)('takes an explicit group and numeric ids', async () => {
    const r = await runChild({ user: 65534, group: 'root' });
    expect(r).toMatchObject({ ok: true, state: { uid: 65534, gid: 0, groups: [0] }, regained: false });
  });

  it.runIf(isRoot)('refuses an unknown user before changing anything', async () => {
    const r = await runChild({ user: 'no-such-user-cinder' });
    expect(r).toMatchObject({ ok: false, name: 'ConfigError', code: 'CONFIG' });
  });

  it.runIf(!isRoot)('refuses to switch users when not running as root', () => {
    expect(() => dropPrivileges({ user: 'root' })).toThrow(/only root can drop privileges/);
  });

  // The child runs as nobody from the start, so it must be able to read the repository.
  it.runIf(isRoot && repoOpenToOthers())(
    'refuses to switch users in a process that is not root, but accepts its own ids',
    async () => {
      const [r, same] = await Promise.all([
        runChild({ user: 'root' }, [], 65534),
        runChild({ user: 'nobody' }, [], 65534),
      ]);
      expect(r).toMatchObject({ ok: false, name: 'SecurityError', code: 'SECURITY' });
      expect(r.message).toMatch(/only root can drop privileges \(running as uid 65534\)/);
      expect(same).toMatchObject({ ok: true, state: { uid: 65534, gid: 65534 } });
    },
  );
});
