// Runs every `ts` code sample of the root README and of the daemon and proxy READMEs in its own
// process and compares what it prints with the sample's `// → value` comments, so they cannot rot.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const readmes = ['README.md', 'packages/daemon/README.md', 'packages/proxy/README.md'];
const samples = readmes.flatMap((file) =>
  [...readFileSync(join(repoRoot, file), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map(
    (m, i) => [`${file} #${i + 1}`, m[1]!] as const,
  ),
);
// Samples run from this package's directory so `@cinder/*` imports resolve like in any package.
const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.readme-'));

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe('README samples', () => {
  it('has samples to run', () => {
    expect(samples.length).toBeGreaterThan(0);
  });

  it.each(samples)('%s prints what its comments say', async (name, code) => {
    const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
    const file = join(dir, `sample-${name.replace(/[^a-z0-9]+/gi, '-')}.ts`);
    writeFileSync(file, code);
    const child = startChild(file, [], { env: { NODE_NO_WARNINGS: '1' } });
    const exitCode = await child.exited;
    expect(child.stderr()).toBe('');
    expect(exitCode).toBe(0);
    expect(child.lines).toEqual(expected);
  });
});
