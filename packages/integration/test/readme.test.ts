// Runs every `ts` code sample of the root README in its own process and compares what it prints
// with the sample's `// → value` comments, so the README cannot rot.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
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

  it.each(samples.map((code, i) => [i + 1, code] as const))(
    'sample %i prints what its comments say',
    async (i, code) => {
      const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
      const file = join(dir, `sample-${i}.ts`);
      writeFileSync(file, code);
      const child = startChild(file, [], { env: { NODE_NO_WARNINGS: '1' } });
      const code_ = await child.exited;
      expect(child.stderr()).toBe('');
      expect(code_).toBe(0);
      expect(child.lines).toEqual(expected);
    },
  );
});
