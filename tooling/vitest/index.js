// Shared vitest settings for every Cinder package: tests run against src/ (no build needed),
// TypeScript standard decorators are lowered by esbuild (Node 20 cannot parse them), and every
// test is bounded in time. Plain JavaScript so vitest can load it from node_modules unbundled.
import { transform } from 'esbuild';
import { defineProject } from 'vitest/config';

export const sourceCondition = '@cinder/source';

/** Lowers TypeScript (including standard decorators) with esbuild before vite sees the file. */
export function decoratorsPlugin() {
  return {
    name: 'cinder:lower-decorators',
    enforce: 'pre',
    async transform(code, id) {
      const file = id.split('?')[0] ?? id;
      if (!file.endsWith('.ts') || file.includes('/node_modules/')) return null;
      if (!code.includes('@')) return null;
      const out = await transform(code, {
        loader: 'ts',
        target: 'es2022',
        sourcemap: true,
        sourcefile: file,
        format: 'esm',
      });
      return { code: out.code, map: out.map };
    },
  };
}

/** A vitest project for one package directory. */
export function cinderProject(name, extra = {}) {
  const conditions = [sourceCondition, 'import', 'node', 'default'];
  return defineProject({
    plugins: [decoratorsPlugin()],
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      name,
      environment: 'node',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 20_000,
      passWithNoTests: true,
      hookTimeout: 20_000,
      ...extra,
    },
  });
}
