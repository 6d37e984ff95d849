// Runs the code sample of README.md, so the documented API cannot drift from the real one.
import * as assertModule from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { transform } from 'esbuild';
import { expect, it } from 'vitest';
import * as protocol from '../src/index.js';

it('README sample runs', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const sample = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(sample).toBeDefined();
  const { code } = await transform(sample!, { loader: 'ts', format: 'esm' });
  const modules: Record<string, unknown> = {
    '@cinder/protocol': protocol,
    'node:assert/strict': assertModule,
  };
  // The sample's imports become lookups in `modules`; anything else it imports is a doc bug.
  const body = code
    .replace(
      /import (\w+) from "([^"]+)";/g,
      (_m, name: string, from: string) => `const ${name} = __modules[${JSON.stringify(from)}].default;`,
    )
    .replace(
      /import \{([^}]*)\} from "([^"]+)";/g,
      (_m, names: string, from: string) => `const {${names}} = __modules[${JSON.stringify(from)}];`,
    );
  expect(body).not.toMatch(/\bimport\b/);
  for (const from of body.matchAll(/__modules\["([^"]+)"\]/g)) expect(modules).toHaveProperty([from[1]!]);
  new Function('__modules', body)(modules);
});
