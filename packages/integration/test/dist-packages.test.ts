// Each published package works on its own from its built `dist/`: plain Node (no source condition,
// no TypeScript hooks) can import it, its `exports` point at files that exist, and `pnpm pack`
// would ship them. And what a process loads for Cinder: zod (the configuration's validator of record,
// ~3 MB of heap and ~100 ms to load) only when a configuration value needs it, not by importing a
// package, starting a daemon or making a call with ordinary settings (nor node:tls/http/https, which
// only TLS and WebSocket listeners use); asserted on what is loaded (module URLs, require's cache,
// process.moduleLoadList), not on milliseconds, so a loaded machine cannot flake it.
// The CI run builds first; locally the test is skipped until `pnpm build` ran.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';

const packages = [
  'core',
  'protocol',
  'serializers',
  'transport',
  'security',
  'rpc',
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

// Runs in a fresh node: records every ES module loaded (a loader hook) and CommonJS (require.cache).
const prelude = `
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const loaded = [];
let sentinel;
port1.on('message', (url) => { loaded.push(url); if (url.includes('footprint-sentinel')) sentinel?.(); });
port1.unref();
const hooks = 'let port; export function initialize(d) { port = d.port; } ' +
  'export async function load(url, context, next) { port.postMessage(url); return next(url, context); }';
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
const require = createRequire(process.cwd() + '/');
// Node built-ins that only TLS or WebSocket listeners use.
const optional = ['tls', 'http', 'https'];
globalThis.loadedNow = async () => {
  const seen = new Promise((resolve) => { sentinel = resolve; });
  port1.ref();
  await import('data:text/javascript,export default "footprint-sentinel-' + loaded.length + '"');
  await seen;
  port1.unref();
  return { esm: loaded.filter((u) => /[\\\\/]zod[\\\\/]/.test(u)).length,
    cjs: Object.keys(require.cache).filter((k) => /[\\\\/]zod[\\\\/]/.test(k)).length, modules: loaded.length,
    builtins: optional.filter((m) => loaded.includes('node:' + m) || process.moduleLoadList.includes('NativeModule ' + m)) };
};
`;

function run(pkg: string, body: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', prelude + body], {
    cwd: join(repoRoot, 'packages', pkg),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`child exited ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

describe.skipIf(!built && !process.env.CI)('import footprint', () => {
  // A module's source text stays on the V8 heap for the life of the process: the published
  // JavaScript is emitted without comments (the declarations keep the docs).
  it.each(packages)('@cinder/%s ships its JavaScript without comment text', (name) => {
    const dist = join(repoRoot, 'packages', name, 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(join(dist, file), 'utf8');
      expect(text, file).not.toMatch(/^\s*(\/\/|\/\*\*)/m);
    }
  });

  it.each(packages)('importing @cinder/%s loads neither zod nor node:tls/http/https', (name) => {
    const r = run(name, `await import('@cinder/${name}'); console.log(JSON.stringify(await loadedNow()));`);
    expect(r.modules).toBeGreaterThan(1);
    expect(r).toMatchObject({ esm: 0, cjs: 0, builtins: [] });
  });

  it('a TCP daemon, a call and ordinary settings load neither; a value that needs checking loads zod', () => {
    const r = run(
      'cinder',
      `
      const C = await import('@cinder/cinder');
      const env = { CINDER_NS_PORT: '9999', CINDER_COMPRESSION: 'on', CINDER_SERIALIZERS_ACCEPTED: 'json,cbor' };
      const config = C.resolveConfig({ serializer: 'json', maxDepth: 50, hmacKey: null }, { env });
      class Echo { echo(x) { return x; } }
      C.expose(Echo);
      const daemon = await C.Daemon.start({ host: '127.0.0.1', port: 0 });
      let answer;
      try {
        const uri = daemon.register(new Echo(), 'echo');
        const proxy = C.connect(uri, { config: C.resolveConfig({ commTimeoutMs: 5000 }) });
        answer = await proxy.echo('hi');
        await proxy.$release();
      } finally {
        await daemon.close();
      }
      const before = await loadedNow();
      let message;
      try { C.resolveConfig({ nsPort: 70000 }, { useEnvironment: false }); } catch (err) { message = err.message; }
      const after = await loadedNow();
      console.log(JSON.stringify({ answer, port: config.nsPort, before, after, message }));
      `,
    );
    expect(r.answer).toBe('hi');
    expect(r.port).toBe(9999);
    expect(r.before).toMatchObject({ esm: 0, cjs: 0, builtins: [] });
    expect((r.after as { cjs: number }).cjs).toBeGreaterThan(0);
    expect(r.message).toBe(
      'invalid configuration: nsPort (CINDER_NS_PORT) = 70000: Too big: expected number to be <=65535',
    );
  });
});
