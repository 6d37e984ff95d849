// The throwaway test PKI must not pile up in the temporary directory: test runners end their
// workers without an 'exit' event, so each PKI is named after its process and the next generation
// removes those whose process is gone.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeAbandonedPkis } from '@cinder/test-utils';
import { afterEach, describe, expect, it } from 'vitest';

describe('test PKI directories', () => {
  let parent: string | undefined;
  afterEach(() => {
    if (parent) rmSync(parent, { recursive: true, force: true });
    parent = undefined;
  });

  it('removes those of dead processes and old unnamed ones, and keeps the rest', () => {
    parent = mkdtempSync(join(tmpdir(), 'pki-sweep-'));
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
    make('unrelated-eeeeee', true);

    expect(removeAbandonedPkis(parent)).toBe(2);
    expect(readdirSync(parent).sort()).toEqual(
      [`cinder-pki-${process.pid}-bbbbbb`, 'cinder-pki-dddddd', 'unrelated-eeeeee'].sort(),
    );
  });
});
