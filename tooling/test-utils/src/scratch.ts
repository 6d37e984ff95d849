// Scratch directories for tests, named after the process that owns them.
//
// A test file that makes its directory at load and removes it in `afterAll` leaves it behind
// whenever the hook does not run: a filtered run (`-t`) that skips every test in the file, a worker
// the runner kills, a run stopped with ^C. Test runners also end their workers without an 'exit'
// event. So each directory carries its owner's pid, and making a new one first removes those whose
// owner is gone.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Names made by this module (`cinder-t<pid>-<label>-XXXXXX`) and by the test PKI (`cinder-pki-<pid>-XXXXXX`). */
const owned = /^cinder-(?:t|pki-)(\d+)-/;

const mine = new Set<string>();
let exitHook = false;

/**
 * A new empty directory under the OS temporary directory, removed when this process exits
 * normally, or else by the next call of any process once this one is gone. `label` says which test
 * made it (letters, digits and `-`).
 */
export function scratchDir(label: string, parent = tmpdir()): string {
  if (!/^[a-z0-9-]+$/i.test(label)) throw new TypeError(`scratchDir: label ${JSON.stringify(label)}`);
  removeAbandonedScratch(parent);
  const dir = mkdtempSync(join(parent, `cinder-t${process.pid}-${label}-`));
  mine.add(dir);
  if (!exitHook) {
    exitHook = true;
    // Sync removal: 'exit' handlers cannot wait for promises.
    process.once('exit', () => {
      for (const path of mine) rmSync(path, { recursive: true, force: true });
    });
  }
  return dir;
}

/**
 * Removes the scratch and test PKI directories under `parent` whose owner process no longer exists
 * (and unowned test PKIs older than `unownedMaxAgeMs`, made before directories carried a pid).
 * Returns how many it removed.
 */
export function removeAbandonedScratch(parent = tmpdir(), unownedMaxAgeMs = 60 * 60 * 1000): number {
  let removed = 0;
  for (const name of readdirSync(parent)) {
    if (!name.startsWith('cinder-')) continue;
    const owner = owned.exec(name)?.[1];
    if (owner === undefined && !name.startsWith('cinder-pki-')) continue;
    const path = join(parent, name);
    try {
      if (owner ? isAlive(Number(owner)) : Date.now() - statSync(path).mtimeMs < unownedMaxAgeMs) continue;
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch {
      // raced with its owner or another sweeper: whoever removes it, it is gone
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
