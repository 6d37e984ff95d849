// Well-known paths of the repository, for tests that spawn processes or read fixtures.
import { fileURLToPath } from 'node:url';

export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url));
export const vectorsDir: string = fileURLToPath(new URL('../vectors/', import.meta.url));
export const tsRegister: string = fileURLToPath(new URL('../../node-ts/register.mjs', import.meta.url));

/** Node arguments that run a TypeScript source file of this repo directly (no build). */
export function tsNodeArgs(): string[] {
  return ['--conditions=@cinder/source', '--import', tsRegister];
}
