// The README stays true: its limits table matches securityLimits and its code samples run and
// print what their `// →` comments say.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import * as protocol from '@cinder/protocol';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as security from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const modules: Record<string, Record<string, unknown>> = {
  '@cinder/security': security,
  '@cinder/protocol': protocol,
};

describe('README', () => {
  it('has the limits table of securityLimits, up to date', () => {
    const match = /<!-- limits-table:start -->\n([\s\S]*?)\n<!-- limits-table:end -->/.exec(readme);
    expect(match, 'limits-table markers').not.toBeNull();
    const rows = match![1]!
      .split('\n')
      .filter((line) => !/^\|[-:\s|]+\|$/.test(line))
      .map((line) =>
        line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      );
    const expected = [
      ['Limit', 'Default', '0 means', 'Enforced by', 'When exceeded'],
      ...Object.values(security.securityLimits).map((s) => [
        `\`${s.name}\``,
        `\`${s.default}\``,
        s.zero,
        s.enforcedBy,
        s.onExceeded,
      ]),
    ];
    expect(rows).toEqual(expected);
  });

  it('runs every TypeScript sample and prints what the comments say', () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const lines = block.split('\n');
      const bindings: Record<string, unknown> = {};
      for (const line of lines.filter((l) => l.startsWith('import '))) {
        const m = /^import \{ (.+) \} from '(@cinder\/[a-z]+)';$/.exec(line);
        expect(m, line).not.toBeNull();
        const module = modules[m![2]!];
        expect(module, line).toBeDefined();
        for (const name of m![1]!.split(', ')) {
          expect(module, name).toHaveProperty(name);
          bindings[name] = module![name];
        }
      }
      const expected = lines.flatMap((l) => /\/\/ → (.*)$/.exec(l)?.[1] ?? []);
      expect(expected.length).toBeGreaterThan(0);
      const code = transformSync(lines.filter((l) => !l.startsWith('import ')).join('\n'), {
        loader: 'ts',
      }).code;
      const printed: string[] = [];
      const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
      new Function('console', ...Object.keys(bindings), code)(fakeConsole, ...Object.values(bindings));
      expect(printed).toEqual(expected);
    }
  });
});
