// Runs every `ts` sample of packages/cinder/docs/security.md in its own process and compares what
// it prints with its `// → value` comments, once with the certificates of generateTestPki() and
// once with those the page's own openssl recipe makes, both in the samples' working directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateTestPki, repoRoot, scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const doc = readFileSync(join(repoRoot, 'packages/cinder/docs/security.md'), 'utf8');
const samples = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (m, i) => [`sample #${i + 1}`, m[1]!] as const,
);
const recipe = /## Test certificates[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
// Samples live in this package so `@cinder/*` and pino resolve; they run in a certificate directory.
const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.readme-security-docs-'));
const recipeDir = scratchDir('doc-pki');
let pkiDir: string;

beforeAll(async () => {
  pkiDir = (await generateTestPki()).dir;
  await run('/bin/sh', ['-e', '-c', recipe], { cwd: recipeDir, timeout: 20_000 });
}, 30_000);

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
  rmSync(recipeDir, { recursive: true, force: true });
});

describe('docs/security.md', () => {
  it('has samples and a certificate recipe', () => {
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(recipe).toMatch(/openssl req/);
  });

  for (const certificates of ['generateTestPki', 'the openssl recipe'] as const) {
    it.each(samples)(
      `%s prints what its comments say (certificates from ${certificates})`,
      async (name, code) => {
        const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
        const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.ts`);
        writeFileSync(file, code);
        const child = startChild(file, [], {
          cwd: certificates === 'generateTestPki' ? pkiDir : recipeDir,
          env: { NODE_NO_WARNINGS: '1' },
        });
        const exitCode = await child.exited;
        expect(child.stderr()).toBe('');
        expect(exitCode).toBe(0);
        expect(child.lines).toEqual(expected);
      },
    );
  }
});
