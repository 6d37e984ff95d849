// Runs every examples/*.mjs under bare node against the built packages (what a JavaScript user
// runs) and compares what it prints with its `// →` comments, and with the `# →` comments of a
// Python file of the same name when there is one (python-client.mjs relays what its Python client
// prints). tls.mjs gets the certificates made by the openssl commands of examples/README.md (so they
// are tested too); the Python examples run Debian's Pyro4 and are skipped, saying why, without it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const examplesDir = fileURLToPath(new URL('../examples', import.meta.url));
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.mjs'));
const built = ['core', 'proxy', 'daemon', 'naming', 'cinder'].every((p) =>
  existsSync(join(repoRoot, 'packages', p, 'dist', 'index.js')),
);
const PYTHON = '/usr/bin/python3';
const pyro4 = spawnSync(PYTHON, ['-c', 'import Pyro4'], { timeout: 20_000 }).status === 0;

const readme = readFileSync(join(examplesDir, 'README.md'), 'utf8');
const pkiDirs: string[] = [];

/** Runs README's openssl commands (the indented block starting `mkdir -p /tmp/pki`) in a fresh directory. */
function makePki(): string {
  const block = /^ {4}mkdir -p \/tmp\/pki && cd \/tmp\/pki\n((?: {4}.*\n)+)/m.exec(readme);
  if (!block) throw new Error('examples/README.md has no openssl block');
  const dir = scratchDir('example-pki');
  pkiDirs.push(dir);
  execFileSync('sh', ['-ec', block[1]!.replace(/\\\n\s*/g, ' ')], {
    cwd: dir,
    stdio: 'ignore',
    timeout: 20_000,
  });
  return dir;
}

/** What an example needs: its arguments, and whether it can run here. */
function setup(file: string): { args: string[]; skip?: string } {
  if (file === 'tls.mjs') return { args: [makePki()] };
  if (file.startsWith('python-') && !pyro4) return { args: [], skip: `${PYTHON} has no Pyro4` };
  return { args: [] };
}

function expectedLines(file: string): string[] {
  const comments = (path: string, marker: string) =>
    existsSync(path)
      ? [...readFileSync(path, 'utf8').matchAll(new RegExp(`${marker} → (.*)$`, 'gm'))].map((m) =>
          m[1]!.trim(),
        )
      : [];
  return [
    ...comments(join(examplesDir, file), '//'),
    ...comments(join(examplesDir, file.replace(/\.mjs$/, '.py')), '#'),
  ];
}

afterAll(async () => {
  await stopAllChildren();
  for (const dir of pkiDirs) rmSync(dir, { recursive: true, force: true });
});

describe('examples', () => {
  it('are listed in examples/README.md', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const file of examples) expect(readme).toContain(`(${file})`);
  });

  describe.skipIf(!built && !process.env.CI)('run under bare node', () => {
    it.for(examples)('%s prints what its comments say', { timeout: 30_000 }, async (file, ctx) => {
      const { args, skip } = setup(file);
      if (skip) ctx.skip(skip);
      const child = startChild(join(examplesDir, file), args, {
        env: { NODE_NO_WARNINGS: '1', NODE_OPTIONS: undefined, PYTHON, PYTHONDONTWRITEBYTECODE: '1' },
      });
      const exitCode = await child.exited;
      expect(child.stderr()).toBe('');
      expect(exitCode).toBe(0);
      expect(child.lines).toEqual(expectedLines(file));
    });
  });
});
