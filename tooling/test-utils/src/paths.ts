// Well-known paths of the repository, for tests that spawn processes or read fixtures.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url));
export const vectorsDir: string = fileURLToPath(new URL('../vectors/', import.meta.url));
export const tsRegister: string = fileURLToPath(new URL('../../node-ts/register.mjs', import.meta.url));

/** Node arguments that run a TypeScript source file of this repo directly (no build). */
export function tsNodeArgs(): string[] {
  return ['--conditions=@cinder/source', '--import', tsRegister];
}

/**
 * Whether a process of another, unprivileged user can reach the repository's files: every directory
 * from the root down to the repository must be searchable by others. A clone in a private directory
 * (`mktemp -d` makes 0700 ones) is not, and tests that run code as such a user cannot work there.
 */
export function repoOpenToOthers(): boolean {
  let dir = repoRoot.replace(/\/$/, '');
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}
