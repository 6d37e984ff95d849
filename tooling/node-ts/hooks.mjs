// Node module hooks: `.js` specifiers that name a `.ts` source are redirected, and `.ts` files are
// lowered by esbuild (types stripped, standard decorators lowered for Node 20).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

export async function resolve(specifier, context, nextResolve) {
  if (
    specifier.endsWith('.js') &&
    context.parentURL?.startsWith('file:') &&
    (specifier.startsWith('.') || specifier.startsWith('/'))
  ) {
    const tsUrl = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (context.parentURL.endsWith('.ts') && existsSync(fileURLToPath(tsUrl))) {
      return nextResolve(tsUrl.href, context);
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const file = fileURLToPath(url);
    const source = await readFile(file, 'utf8');
    const out = await transform(source, {
      loader: 'ts',
      target: 'es2022',
      format: 'esm',
      sourcemap: 'inline',
      sourcefile: file,
    });
    return { format: 'module', source: out.code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
