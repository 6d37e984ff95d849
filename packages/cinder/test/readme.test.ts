// Runs every sample of this package's README in its own process and compares what it prints with
// the sample's `// → value` comments: `ts` blocks with the TypeScript hooks against the sources,
// `js` blocks as plain `.mjs` files under bare `node` against the built `dist/` (what a JavaScript
// user on Node 20 runs). A `js` block starting with `// server.mjs` is started first; the
// `// client.mjs` block after it gets the URI the server printed as its argument.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(ts|js)\n([\s\S]*?)```/g)].map((m, i) => ({
  name: `README #${i + 1} (${m[1]})`,
  lang: m[1] as 'ts' | 'js',
  code: m[2]!,
  expected: [...m[2]!.matchAll(/\/\/ → (.*)$/gm)].map((e) => e[1]!.trim()),
}));
const ts = blocks.filter((b) => b.lang === 'ts');
const js = blocks.filter((b) => b.lang === 'js' && !/^\/\/ (server|client)\.mjs/.test(b.code));
const server = blocks.find((b) => b.code.startsWith('// server.mjs'));
const client = blocks.find((b) => b.code.startsWith('// client.mjs'));
// Samples live inside this package so `@cinder/cinder` resolves to the package itself.
const dir = mkdtempSync(join(packageDir, 'test', '.readme-'));
// Plain node resolves `@cinder/*` through `exports` to dist/: the CI run builds first.
const built = ['core', 'proxy', 'daemon', 'cinder'].every((p) =>
  existsSync(join(repoRoot, 'packages', p, 'dist', 'index.js')),
);
const plainEnv = { NODE_NO_WARNINGS: '1', NODE_OPTIONS: undefined };

function write(name: string, code: string, ext: string): string {
  const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.${ext}`);
  writeFileSync(file, code);
  return file;
}

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe('@cinder/cinder README samples', () => {
  it('has TypeScript, plain JavaScript and two-process samples', () => {
    expect(ts.length).toBeGreaterThanOrEqual(2);
    expect(js.length).toBeGreaterThanOrEqual(1);
    expect(server && client).toBeTruthy();
    for (const b of blocks.filter((x) => x.lang === 'js')) expect(b.code).not.toMatch(/await using/);
  });

  it.each(ts.map((b) => [b.name, b] as const))(
    '%s prints what its comments say',
    async (name, { code, expected }) => {
      const child = startChild(write(name, code, 'ts'), [], { env: { NODE_NO_WARNINGS: '1' } });
      const exitCode = await child.exited;
      expect(child.stderr()).toBe('');
      expect(exitCode).toBe(0);
      expect(child.lines).toEqual(expected);
    },
  );

  describe.skipIf(!built && !process.env.CI)('plain JavaScript on bare node', () => {
    it.each(js.map((b) => [b.name, b] as const))(
      '%s prints what its comments say',
      async (name, { code, expected }) => {
        const child = startChild(write(name, code, 'mjs'), [], { env: plainEnv });
        const exitCode = await child.exited;
        expect(child.stderr()).toBe('');
        expect(exitCode).toBe(0);
        expect(child.lines).toEqual(expected);
      },
    );

    it('server.mjs serves until SIGTERM and client.mjs calls it with the printed URI', async () => {
      const srv = startChild(write('server', server!.code, 'mjs'), [], { env: plainEnv });
      const [uri] = await srv.waitForLine(/^PYRO:example\.counter@127\.0\.0\.1:\d+$/);
      const cli = startChild(write('client', client!.code, 'mjs'), [uri], { env: plainEnv });
      expect(await cli.exited).toBe(0);
      expect(cli.stderr()).toBe('');
      expect(cli.lines).toEqual(client!.expected);
      // the server stops cleanly on SIGTERM: the daemon closes and the process exits by itself
      expect(await srv.stop('SIGTERM', 5000)).toBe(0);
      expect(srv.stderr()).toBe('');
    });
  });
});
