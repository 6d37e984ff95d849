// Builds the browser bundle of the Cinder client with esbuild: @cinder/transport becomes the
// platform-WebSocket transport, Node built-ins become the small shims in src/shims (Buffer on
// Uint8Array, random bytes from the platform, the rest refusing to work), and with
// `serializers: 'cbor'` the text serializers, msgpack and the Pyro4 codec (Pyro4 has no cbor) are
// left out.
// Usage: node scripts/build.mjs [outdir]   (writes cinder.js and cinder-cbor.js, minified, ESM)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const shims = {
  'node:buffer': here('../src/shims/buffer.ts'),
  'node:crypto': here('../src/shims/crypto.ts'),
  'node:async_hooks': here('../src/shims/async-hooks.ts'),
  'node:net': here('../src/shims/net.ts'),
};

/**
 * The configuration's defaults, computed from @cinder/core's zod schema at build time: the page
 * gets them as a frozen object and a resolveConfig that only merges and checks names, without zod
 * (most of the bundle otherwise) and without environment variables (a page has none).
 */
let configModule;
async function browserConfigModule() {
  if (configModule) return configModule;
  const dir = mkdtempSync(join(tmpdir(), 'cinder-browser-config-'));
  try {
    const file = join(dir, 'config.mjs');
    const out = await build({
      entryPoints: [here('../../core/src/config.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      logLevel: 'error',
    });
    writeFileSync(file, out.outputFiles[0].text);
    const core = await import(pathToFileURL(file).href);
    const errors = JSON.stringify(here('../../core/src/errors.ts'));
    configModule = `import { ConfigError } from ${errors};
const DEFAULTS = Object.freeze(${JSON.stringify(core.defaultConfig())});
export const serializerNames = ${JSON.stringify(core.serializerNames)};
export const logLevels = ${JSON.stringify(core.logLevels)};
export const configItems = [];
export function defaultConfig() { return DEFAULTS; }
export function configFromEnvironment() { return {}; }
export function describeConfig(config) { return JSON.stringify(config, null, 1); }
export function resolveConfig(input) {
  if (input === undefined || input === null || input === DEFAULTS) return DEFAULTS;
  for (const key of Object.keys(input)) {
    if (!(key in DEFAULTS)) throw new ConfigError('unknown item ' + JSON.stringify(key));
  }
  if (input.compression === true) {
    throw new ConfigError('compression is not available in the browser build (no synchronous zlib in a page)');
  }
  return Object.freeze({ ...DEFAULTS, ...input });
}
`;
    return configModule;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function browserPlugin(serializers) {
  return {
    name: 'cinder-browser',
    setup(b) {
      b.onResolve({ filter: /^\.\/config\.js$/ }, (args) =>
        args.importer.endsWith(join('core', 'src', 'index.ts'))
          ? { path: 'config', namespace: 'cinder-config' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'cinder-config' }, async () => ({
        contents: await browserConfigModule(),
        loader: 'js',
        resolveDir: here('.'),
      }));
      b.onResolve({ filter: /^@cinder\/transport$/ }, () => ({ path: here('../src/transport.ts') }));
      b.onResolve({ filter: /^@cinder\/security$/ }, () => ({ path: here('../src/security.ts') }));
      b.onResolve({ filter: /^node:/ }, (args) => ({
        path: shims[args.path] ?? here('../src/shims/unavailable.ts'),
      }));
      b.onResolve({ filter: /^(ws|zod)$/ }, (args) =>
        args.path === 'ws' ? { path: here('../src/shims/unavailable.ts') } : undefined,
      );
      if (serializers === 'cbor') {
        b.onResolve({ filter: /\/(text-serializers|binary\/msgpack-codec)\.js$/ }, () => ({
          path: here('../src/shims/text-serializers-off.ts'),
        }));
        b.onResolve({ filter: /^\.\/pyro4-codec\.js$/ }, (args) =>
          args.importer.endsWith(join('protocol', 'src', 'codec.ts'))
            ? { path: here('../src/shims/pyro4-codec-off.ts') }
            : undefined,
        );
      }
    },
  };
}

/** Builds one bundle; resolves with esbuild's result (metafile included). */
export function buildBrowserBundle({
  outfile,
  serializers = 'all',
  minify = true,
  entry = here('../src/index.ts'),
}) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@cinder/source'],
    inject: [here('../src/shims/buffer-global.ts')],
    plugins: [browserPlugin(serializers)],
    metafile: true,
    legalComments: 'none',
    logLevel: 'error',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = process.argv[2] ?? here('../dist');
  await buildBrowserBundle({ outfile: `${outdir}/cinder.js` });
  await buildBrowserBundle({ outfile: `${outdir}/cinder-cbor.js`, serializers: 'cbor' });
}
