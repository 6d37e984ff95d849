// Test scratch directories and the throwaway test PKI must not pile up in the temporary directory:
// test runners end their workers without an 'exit' event, filtered runs skip `afterAll`, killed
// workers run nothing. So each directory is named after its process and the next one made removes
// those whose process is gone.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeAbandonedScratch, repoRoot, scratchDir, tsNodeArgs } from '@cinder/test-utils';
import { afterEach, describe, expect, it } from 'vitest';

describe('test scratch directories', () => {
  let parent: string | undefined;
  afterEach(() => {
    if (parent) rmSync(parent, { recursive: true, force: true });
    parent = undefined;
  });

  it('removes those of dead processes and old unnamed PKIs, and keeps the rest', () => {
    parent = mkdtempSync(join(tmpdir(), 'scratch-sweep-'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const hourAgo = (Date.now() - 2 * 60 * 60 * 1000) / 1000;
    const make = (name: string, old = false) => {
      mkdirSync(join(parent as string, name, 'inner'), { recursive: true });
      if (old) utimesSync(join(parent as string, name), hourAgo, hourAgo);
    };
    make(`cinder-pki-${dead}-aaaaaa`);
    make(`cinder-pki-${process.pid}-bbbbbb`);
    make('cinder-pki-cccccc', true);
    make('cinder-pki-dddddd');
    make(`cinder-t${dead}-direct-ffffff`);
    make(`cinder-t${process.pid}-direct-gggggg`);
    make('cinder-direct-hhhhhh', true);
    make('unrelated-eeeeee', true);

    expect(removeAbandonedScratch(parent)).toBe(3);
    expect(readdirSync(parent).sort()).toEqual(
      [
        `cinder-pki-${process.pid}-bbbbbb`,
        'cinder-pki-dddddd',
        `cinder-t${process.pid}-direct-gggggg`,
        'cinder-direct-hhhhhh',
        'unrelated-eeeeee',
      ].sort(),
    );
  });

  it("a killed process's directory goes with the next one made", () => {
    parent = mkdtempSync(join(tmpdir(), 'scratch-kill-'));
    const utils = pathToFileURL(join(repoRoot, 'tooling/test-utils/src/index.ts')).href;
    // The child makes its directory, then is killed before it can remove it.
    const child = spawnSync(
      process.execPath,
      [
        ...tsNodeArgs(),
        '--input-type=module',
        '-e',
        `const { scratchDir } = await import(${JSON.stringify(utils)});
         process.stdout.write(scratchDir('killed', ${JSON.stringify(parent)}));
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.signal).toBe('SIGKILL');
    const left = child.stdout;
    expect(left).toContain(`cinder-t${child.pid}-killed-`);
    expect(existsSync(left)).toBe(true);

    const mine = scratchDir('survivor', parent);
    expect(existsSync(left)).toBe(false);
    expect(readdirSync(parent)).toEqual([mine.slice(parent.length + 1)]);
  });
});
