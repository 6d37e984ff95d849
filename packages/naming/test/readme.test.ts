// Runs the README's TypeScript samples, so the documented API and output cannot drift from the code.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import * as daemon from '@cinder/daemon';
import * as proxy from '@cinder/proxy';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as naming from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const modules: Record<string, Record<string, unknown>> = {
  '@cinder/daemon': daemon,
  '@cinder/naming': naming,
  '@cinder/proxy': proxy,
};

describe('README', () => {
  it('runs every TypeScript sample and prints what its comments say', async () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    for (const block of blocks) {
      const lines = block.split('\n');
      const names: string[] = [];
      const values: unknown[] = [];
      for (const line of lines.filter((l) => l.startsWith('import '))) {
        const m = /^import \{ (.+) \} from '([^']+)';$/.exec(line);
        expect(m, line).not.toBeNull();
        const mod = modules[m![2]!];
        expect(mod, `module ${m![2]}`).toBeDefined();
        for (const name of m![1]!.split(', ')) {
          expect(mod, name).toHaveProperty(name);
          names.push(name);
          values.push(mod![name]);
        }
      }
      const expected = lines.flatMap((l) => /\/\/ → (.*)$/.exec(l)?.[1] ?? []);
      const body = lines.filter((l) => !l.startsWith('import ')).join('\n');
      const code = transformSync(body, { loader: 'ts', target: 'es2022' }).code;
      const printed: string[] = [];
      const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
        ...args: string[]
      ) => (...args: unknown[]) => Promise<void>;
      await new AsyncFunction('console', ...names, code)(fakeConsole, ...values);
      expect(printed).toEqual(expected);
    }
  });
});
