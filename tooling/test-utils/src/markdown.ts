// Runs the TypeScript samples of a Markdown file in-process: each ```ts block's named imports are
// resolved from a module map, the code is lowered with esbuild and run with a console that records
// what it prints, and the result is checked against the block's `// → expected` comments.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { transformSync } from 'esbuild';

export interface MarkdownSample {
  /** 1-based position of the block in the file. */
  index: number;
  code: string;
  /** The `// → …` comments, in order. */
  expected: string[];
}

/** The ```ts blocks of a Markdown file. */
export function markdownSamples(file: string | URL): MarkdownSample[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => {
    const code = m[1]!;
    const expected = [...code.matchAll(/\/\/ → (.*)$/gm)].map((e) => e[1]!.trim().replaceAll('\\n', '\n'));
    return { index: i + 1, code, expected };
  });
}

type AsyncFn = (...args: unknown[]) => Promise<void>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => AsyncFn;

/**
 * Runs one sample with `modules` standing in for its `import { a, b } from 'x'` and
 * `import x from 'y'` lines (other import forms are refused) and resolves with the lines it printed.
 */
export async function runMarkdownSample(
  sample: MarkdownSample,
  modules: Readonly<Record<string, object>>,
): Promise<string[]> {
  const names: string[] = [];
  const values: unknown[] = [];
  const lookup = (from: string): Record<string, unknown> => {
    const mod = modules[from];
    if (!mod) throw new Error(`sample ${sample.index}: no module ${from} given to the runner`);
    return mod as Record<string, unknown>;
  };
  const body = sample.code.replace(
    /^import\s+(type\s+)?(\w+|\{[^}]*\})\s+from\s+'([^']+)';[ \t]*$/gm,
    (_all, type, what: string, from: string) => {
      if (type) return '';
      const mod = lookup(from);
      if (!what.startsWith('{')) {
        names.push(what);
        values.push('default' in mod ? mod.default : mod);
        return '';
      }
      for (const spec of what
        .slice(1, -1)
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        if (spec.startsWith('type ')) continue;
        if (!(spec in mod)) throw new Error(`sample ${sample.index}: ${from} has no export ${spec}`);
        names.push(spec);
        values.push(mod[spec]);
      }
      return '';
    },
  );
  if (/^import\b/m.test(body)) throw new Error(`sample ${sample.index}: unsupported import form`);
  const code = transformSync(body, { loader: 'ts', target: 'es2022' }).code;
  const printed: string[] = [];
  const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
  await new AsyncFunction('console', 'Buffer', ...names, code)(fakeConsole, Buffer, ...values);
  return printed;
}
