// Each published package works on its own from its built `dist/`: plain Node (no source condition,
// no TypeScript hooks) can import it, its `exports` point at files that exist, and `pnpm pack`
// would ship them. The CI run builds first; locally the test is skipped until `pnpm build` ran.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';

const packages = [
  'core',
  'protocol',
  'serializers',
  'transport',
  'security',
  'proxy',
  'daemon',
  'naming',
  'cinder',
];
const built = packages.every((p) => existsSync(join(repoRoot, 'packages', p, 'dist', 'index.js')));

describe.skipIf(!built && !process.env.CI)('built packages', () => {
  it.each(packages)('@cinder/%s imports in plain Node from dist/', (name) => {
    const dir = join(repoRoot, 'packages', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string } | string | null>;
      files: string[];
    };
    const root = pkg.exports['.'] as { types: string; default: string };
    expect(existsSync(join(dir, root.default))).toBe(true);
    expect(existsSync(join(dir, root.types))).toBe(true);
    expect(pkg.files).toContain('dist');
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import('@cinder/${name}'); console.log(Object.keys(m).length);`,
      ],
      { cwd: dir, encoding: 'utf8', timeout: 20_000 },
    );
    expect(Number(out.trim())).toBeGreaterThan(0);
  });
});
