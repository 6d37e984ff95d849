// The API reference (TypeDoc, configured in tooling/typedoc) builds without a warning: every
// symbol of the facade, @cinder/proxy and @cinder/daemon is documented (or listed in typedoc.json as
// not yet), no exported type refers to an unexported one, and no {@link} is broken. It is generated here
// into a temporary directory; `pnpm docs:api` writes it to
// packages/cinder/docs/api (gitignored: generated HTML that would change with every API edit).
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, scratchDir } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const toolDir = join(repoRoot, 'tooling', 'typedoc');
const typedoc = join(toolDir, 'node_modules', 'typedoc', 'bin', 'typedoc');
const out = scratchDir('api');

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

describe('API reference', () => {
  it('builds with TypeDoc without warnings', { timeout: 240_000 }, async () => {
    expect(existsSync(typedoc)).toBe(true);
    const child = spawn(process.execPath, [typedoc, '--options', 'typedoc.json', '--out', out], {
      cwd: toolDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const text = output.replace(/\x1b\[[0-9;]*m/g, '');
    expect(text.split('\n').filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
    expect(code).toBe(0);
    for (const module of ['cinder', 'proxy', 'daemon', 'naming']) {
      expect(existsSync(join(out, 'modules', `_cinder_${module}.html`))).toBe(true);
    }
    // a symbol is documented under the first entry point exporting it: the package users install for it
    for (const page of [
      '_cinder_proxy.connect.html',
      '_cinder_daemon.expose.html',
      '_cinder_cinder.serve.html',
    ]) {
      expect(existsSync(join(out, 'functions', page))).toBe(true);
    }
  });
});
