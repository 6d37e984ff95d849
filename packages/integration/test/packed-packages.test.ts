// The published packages as a user gets them: every package is packed with `pnpm pack` (which
// applies publishConfig: the workspace-only `@cinder/source` condition is dropped), then
//  - publint (strict) and arethetypeswrong (the checks of `attw --profile esm-only`: the packages
//    are ESM only, so node10 and require-from-CJS resolutions are out of scope) find nothing;
//  - a client-only install from the tarballs with plain npm, in an empty folder outside the
//    workspace, imports @cinder/proxy and calls a daemon; it holds no daemon, name server, SQLite,
//    etcd or ws, and the installed size and dependency count of each package are printed.
// The CI run builds first; locally the test is skipped until `pnpm build` ran.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkPackage, createPackageFromTarballData, Package, type Problem } from '@arethetypeswrong/core';
import { Daemon, expose } from '@cinder/cinder';
import { repoRoot, scratchDir } from '@cinder/test-utils';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** Every published package (directory under the repository root). */
const published = [
  'packages/core',
  'packages/protocol',
  'packages/serializers',
  'packages/transport',
  'packages/security',
  'packages/rpc',
  'packages/proxy',
  'packages/daemon',
  'packages/naming',
  'packages/cinder',
  'packages/browser',
  'apps/echoserver',
  'apps/gateway',
  'apps/nameserver',
];

interface Manifest {
  name: string;
  exports?: unknown;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;
const built = published.every((dir) => existsSync(join(repoRoot, dir, 'dist')));

/** The attw problems that count for an ESM-only package (what `attw --profile esm-only` fails on). */
function esmOnlyProblems(problems: readonly Problem[]): Problem[] {
  return problems.filter(
    (p) => !('resolutionKind' in p) || (p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs'),
  );
}

async function attwProblems(pkg: Package): Promise<string[]> {
  const result = await checkPackage(pkg);
  if (!result.types) return ['the package has no types'];
  return esmOnlyProblems(result.problems).map((p) => JSON.stringify(p));
}

async function publintMessages(files: { name: string; data: Uint8Array | string }[]): Promise<string[]> {
  const { messages, pkg } = await publint({
    pkgDir: 'package',
    pack: { files },
    strict: true,
    level: 'suggestion',
  });
  return messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, pkg) ?? ''}`);
}

/** Apparent size in bytes and file count of a directory, without nested node_modules. */
function sizeOf(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = sizeOf(path);
      bytes += inner.bytes;
      files += inner.files;
    } else {
      bytes += statSync(path).size;
      files += 1;
    }
  }
  return { bytes, files };
}

/** Names of the packages installed in `nodeModules` (scoped ones as `@scope/name`). */
function installedPackages(nodeModules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const inner of readdirSync(join(nodeModules, entry))) names.push(`${entry}/${inner}`);
    } else names.push(entry);
  }
  return names.sort();
}

describe.skipIf(!built && !process.env.CI)('packed packages', () => {
  let packDir = '';
  const tarballs = new Map<string, string>();

  beforeAll(async () => {
    packDir = scratchDir('packs');
    // A few at a time: each `pnpm pack` is a short process of its own.
    const queue = [...published];
    const worker = async () => {
      for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) {
        const { name, version } = manifest(dir);
        await run('pnpm', ['pack', '--pack-destination', packDir], {
          cwd: join(repoRoot, dir),
          timeout: 60_000,
        });
        const file = join(packDir, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
        expect(existsSync(file), `pnpm pack wrote ${file}`).toBe(true);
        tarballs.set(name, file);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }, 120_000);

  afterAll(() => {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  });

  it('ship only dist/, README.md, CHANGELOG.md and package.json, without the source condition', () => {
    for (const [name, file] of tarballs) {
      const pkg = createPackageFromTarballData(new Uint8Array(readFileSync(file)));
      const files = pkg.listFiles().map((f) => f.slice(`/node_modules/${name}/`.length));
      const stray = files.filter(
        (f) => !/^(dist\/.*\.(js|d\.ts)|README\.md|CHANGELOG\.md|package\.json)$/.test(f),
      );
      expect(stray, name).toEqual([]);
      expect(files, name).toContain('README.md');
      const packed = JSON.parse(pkg.readFile(`/node_modules/${name}/package.json`)) as Manifest;
      expect(JSON.stringify(packed.exports), name).not.toContain('@cinder/source');
      expect(JSON.stringify(packed.dependencies ?? {}), name).not.toContain('workspace:');
    }
  });

  it('publint (strict) and arethetypeswrong (ESM-only profile) find nothing', async () => {
    const report: Record<string, string[]> = {};
    for (const [name, file] of tarballs) {
      const data = new Uint8Array(readFileSync(file));
      const { messages, pkg } = await publint({
        pack: { tarball: data.slice().buffer },
        strict: true,
        level: 'suggestion',
      });
      const found = [
        ...messages.map((m) => `publint ${m.type} ${m.code}: ${formatMessage(m, pkg) ?? ''}`),
        ...(await attwProblems(createPackageFromTarballData(data))).map((p) => `attw ${p}`),
      ];
      if (found.length > 0) report[name] = found;
    }
    expect(report).toEqual({});
  }, 120_000);

  it('publint and arethetypeswrong do report a package whose exports point at nothing', async () => {
    const manifestText = JSON.stringify({
      name: 'broken',
      version: '1.0.0',
      type: 'module',
      exports: { '.': { types: './dist/missing.d.ts', default: './dist/index.js' } },
    });
    const files = { 'package.json': manifestText, 'dist/index.js': 'export const x = 1;\n' };
    const lint = await publintMessages(
      Object.entries(files).map(([f, data]) => ({ name: `package/${f}`, data })),
    );
    expect(lint.join('\n')).toMatch(/FILE_DOES_NOT_EXIST/);
    const pkg = new Package(
      Object.fromEntries(Object.entries(files).map(([f, data]) => [`/node_modules/broken/${f}`, data])),
      'broken',
      '1.0.0',
    );
    expect((await attwProblems(pkg)).length).toBeGreaterThan(0);
  }, 60_000);

  it('a client-only install with npm calls a daemon and holds no server, SQLite, etcd or ws', async () => {
    // The tarballs @cinder/proxy needs, found from the packed packages' own dependencies.
    const byName = new Map(published.map((dir) => [manifest(dir).name, manifest(dir)]));
    const needed = new Set<string>();
    const visit = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      for (const dep of Object.keys(byName.get(name)?.dependencies ?? {})) {
        if (byName.has(dep)) visit(dep);
      }
    };
    visit('@cinder/proxy');

    const appDir = scratchDir('client-only');
    class Greeter {
      hello(name: string): string {
        return `hello, ${name}`;
      }
    }
    expose(Greeter);
    const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
    try {
      const uri = daemon.register(Greeter, 'packed.greeter');
      writeFileSync(
        join(appDir, 'package.json'),
        JSON.stringify({ name: 'client-only', private: true, type: 'module' }),
      );
      writeFileSync(
        join(appDir, 'client.mjs'),
        [
          "import { connect } from '@cinder/proxy';",
          'const greeter = connect(process.argv[2], { timeoutMs: 10000 });',
          'try {',
          "  console.log(await greeter.hello('packed'));",
          '} finally {',
          '  await greeter.$release();',
          '}',
          // ws is an optional peer dependency: the WebSocket transport says what to install.
          "const page = connect('ws://127.0.0.1:9/cinder#page', { timeoutMs: 10000 });",
          'try {',
          '  await page.hello();',
          '} catch (err) {',
          "  console.log(err.name + ': ' + err.message);",
          '} finally {',
          '  await page.$release();',
          '}',
        ].join('\n'),
      );
      // Plain npm, as a user runs it; the environment pnpm gives this test is left out.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|PNPM_)/i.test(k)),
      );
      const started = performance.now();
      await run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--no-package-lock',
          '--prefer-offline',
          '--ignore-scripts',
          '--loglevel=error',
          ...[...needed].map((name) => tarballs.get(name)!),
        ],
        { cwd: appDir, env, timeout: 180_000 },
      );
      const installMs = performance.now() - started;

      const nodeModules = join(appDir, 'node_modules');
      const installed = installedPackages(nodeModules);
      expect(installed).toEqual([...needed, 'zod'].sort());
      for (const absent of ['@cinder/daemon', '@cinder/naming', 'better-sqlite3', 'etcd3', 'ws']) {
        expect(installed).not.toContain(absent);
      }

      const { stdout } = await run(process.execPath, ['client.mjs', String(uri)], {
        cwd: appDir,
        env: { ...env, NODE_OPTIONS: '' },
        timeout: 30_000,
      });
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toBe('hello, packed');
      expect(lines[1]).toMatch(/ConfigError: .*needs the optional dependency ws/);

      // Each installed package: its own size on disk (apparent bytes) and declared dependencies.
      const rows = installed.map((name) => {
        const dir = join(nodeModules, name);
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
        const { bytes, files } = sizeOf(dir);
        return { name, bytes, files, dependencies: Object.keys(pkg.dependencies ?? {}).length };
      });
      const total = rows.reduce((sum, r) => sum + r.bytes, 0);
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      console.log(
        [
          `client-only install (npm, ${rows.length} packages, ${(installMs / 1000).toFixed(1)} s, ${kb(total)}):`,
          '| package | installed size | files | dependencies |',
          '| --- | ---: | ---: | ---: |',
          ...rows.map((r) => `| ${r.name} | ${kb(r.bytes)} | ${r.files} | ${r.dependencies} |`),
        ].join('\n'),
      );
    } finally {
      await daemon.close();
      rmSync(appDir, { recursive: true, force: true });
    }
  }, 240_000);
});
