// The API reports (`<package>/api/*.api.md`, api-extractor over the built .d.ts) match the built
// packages: a change of a public API changes a checked-in report, so it shows in review. After a
// meant change, `pnpm api:update` rewrites the reports. The CI run builds first; locally the test is
// skipped until `pnpm build` ran.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const built = ['core', 'rpc', 'proxy', 'daemon', 'cinder'].every((p) =>
  existsSync(join(repoRoot, 'packages', p, 'dist', 'index.d.ts')),
);

describe.skipIf(!built && !process.env.CI)('API reports', () => {
  it('match the public surface of every published entry point (pnpm api:update after a meant change)', async () => {
    const result = await run(process.execPath, [join(repoRoot, 'tooling/api-report/report.mjs')], {
      cwd: repoRoot,
      timeout: 280_000,
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      }),
    );
    expect(result.out).toContain('every report matches the built API');
    expect(result.code).toBe(0);
  }, 300_000);
});
