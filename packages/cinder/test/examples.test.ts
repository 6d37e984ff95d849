// Runs every examples/*.mjs under bare node against the built packages (what a JavaScript user
// runs) and compares what it prints with its `// →` comments.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const examplesDir = fileURLToPath(new URL('../examples', import.meta.url));
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.mjs'));
const built = ['core', 'proxy', 'daemon', 'naming', 'cinder'].every((p) =>
  existsSync(join(repoRoot, 'packages', p, 'dist', 'index.js')),
);

afterAll(async () => {
  await stopAllChildren();
});

describe('examples', () => {
  it('are listed in examples/README.md', () => {
    const readme = readFileSync(join(examplesDir, 'README.md'), 'utf8');
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const file of examples) expect(readme).toContain(`(${file})`);
  });

  it.skipIf(!built && !process.env.CI).each(examples)('%s prints what its comments say', async (file) => {
    const code = readFileSync(join(examplesDir, file), 'utf8');
    const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
    const child = startChild(join(examplesDir, file), [], {
      env: { NODE_NO_WARNINGS: '1', NODE_OPTIONS: undefined },
    });
    const exitCode = await child.exited;
    expect(child.stderr()).toBe('');
    expect(exitCode).toBe(0);
    expect(child.lines).toEqual(expected);
  });
});
