// The README's code samples run and print what their `// →` comments say, and its tables name
// every serializer and error class the code has.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import * as core from '@cinder/core';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as serializers from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const modules: Record<string, Record<string, unknown>> = {
  '@cinder/core': core,
  '@cinder/serializers': serializers,
};

describe('README', () => {
  it('runs every code sample and prints what the comments say', () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const lines = block.split('\n');
      const scope: Record<string, unknown> = {};
      for (const line of lines.filter((l) => l.startsWith('import '))) {
        const m = /^import \{ (.+) \} from '(@cinder\/[a-z]+)';$/.exec(line);
        expect(m, line).not.toBeNull();
        const mod = modules[m![2]!]!;
        for (const name of m![1]!.split(', ')) {
          expect(mod, name).toHaveProperty(name);
          scope[name] = mod[name];
        }
      }
      const expected = lines
        .flatMap((l) => /\/\/ → (.*)$/.exec(l)?.[1] ?? [])
        .map((e) => e.replaceAll('\\n', '\n'));
      const code = transformSync(lines.filter((l) => !l.startsWith('import ')).join('\n'), {
        loader: 'ts',
      }).code;
      const printed: string[] = [];
      const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
      new Function('console', ...Object.keys(scope), code)(fakeConsole, ...Object.values(scope));
      expect(printed).toEqual(expected);
    }
  });

  it('lists every serializer id and every Cinder error class', () => {
    for (const s of serializers.createSerializers().all()) {
      expect(readme).toMatch(new RegExp(`\\| ${s.id} +\\| ${s.name} `));
    }
    for (const name of Object.keys(core.errorClasses)) expect(readme, name).toContain(`\`${name}\``);
  });
});
