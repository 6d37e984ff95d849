// Runs the code samples of docs/getting-started.md and docs/concepts.md and compares what they print
// with their `// →` comments: `ts` blocks in-process against the sources (with `@cinder/cinder` and
// the packages it re-exports), `js` blocks as the `.mjs` files their first line names, under bare
// node against the built packages (what a JavaScript user on Node 20 runs). The getting-started
// servers run as their own processes; their clients get the URI they printed, or find them through
// a name server this test starts (CINDER_NS_PORT, as the page says). Every relative link of the
// docs, this package's README and examples README, and the root README must point at a file.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as daemon from '@cinder/daemon';
import * as naming from '@cinder/naming';
import * as proxy from '@cinder/proxy';
import {
  markdownSamples,
  repoRoot,
  runMarkdownSample,
  startChild,
  stopAllChildren,
} from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import * as cinder from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const docs = ['getting-started.md', 'concepts.md'];
const modules = {
  '@cinder/cinder': cinder,
  '@cinder/daemon': daemon,
  '@cinder/naming': naming,
  '@cinder/proxy': proxy,
};

/** The `js` blocks of a page, by the file name on their first line (`// server.mjs`). */
function jsFiles(doc: string): Map<string, { code: string; expected: string[] }> {
  const text = readFileSync(join(packageDir, 'docs', doc), 'utf8');
  const files = new Map<string, { code: string; expected: string[] }>();
  for (const [, code] of text.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w-]+\.mjs)\n/.exec(code!)?.[1];
    if (!name) throw new Error(`${doc}: a js block without its file name on the first line`);
    files.set(name, {
      code: code!,
      expected: [...code!.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim()),
    });
  }
  return files;
}

const built = ['core', 'proxy', 'daemon', 'naming', 'cinder'].every((p) =>
  existsSync(join(repoRoot, 'packages', p, 'dist', 'index.js')),
);
const dir = mkdtempSync(join(packageDir, 'test', '.docs-'));
const plainEnv = { NODE_NO_WARNINGS: '1', NODE_OPTIONS: undefined };

afterAll(async () => {
  await stopAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(docs)('docs/%s', (doc) => {
  const samples = markdownSamples(join(packageDir, 'docs', doc));

  it('has samples', () => {
    expect(samples.length).toBeGreaterThanOrEqual(2);
  });

  it.each(samples)('ts sample $index prints what its comments say', async (sample) => {
    expect(await runMarkdownSample(sample, modules)).toEqual(sample.expected);
  });
});

describe.skipIf(!built && !process.env.CI)('docs/getting-started.md, plain JavaScript on bare node', () => {
  const files = jsFiles('getting-started.md');
  const write = (name: string) => {
    const file = join(dir, name);
    writeFileSync(file, files.get(name)!.code);
    return file;
  };

  it('has the four programs, none with `await using`', () => {
    expect([...files.keys()]).toEqual(['server.mjs', 'client.mjs', 'named-server.mjs', 'named-client.mjs']);
    for (const { code } of files.values()) expect(code).not.toMatch(/await using/);
  });

  it('client.mjs calls server.mjs at the URI it printed; the server stops on SIGTERM', async () => {
    const server = startChild(write('server.mjs'), [], { env: plainEnv });
    const [uri] = await server.waitForLine(/^PYRO:example\.kitchen@127\.0\.0\.1:\d+$/);
    const client = startChild(write('client.mjs'), [uri], { env: plainEnv });
    expect(await client.exited).toBe(0);
    expect(client.stderr()).toBe('');
    expect(client.lines).toEqual(files.get('client.mjs')!.expected);
    expect(await server.stop('SIGTERM', 5000)).toBe(0);
    expect(server.stderr()).toBe('');
  });

  it('named-client.mjs finds named-server.mjs through the name server', async () => {
    await using ns = await naming.startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
    const env = { ...plainEnv, CINDER_NS_HOST: '127.0.0.1', CINDER_NS_PORT: String(ns.uri.port) };
    const server = startChild(write('named-server.mjs'), [], { env });
    await server.waitForLine(/^serving example\.clock$/);
    const client = startChild(write('named-client.mjs'), [], { env });
    expect(await client.exited).toBe(0);
    expect(client.stderr()).toBe('');
    expect(client.lines).toEqual(files.get('named-client.mjs')!.expected);
    expect(await server.stop('SIGTERM', 5000)).toBe(0);
    expect(server.stderr()).toBe('');
  });
});

describe('relative links', () => {
  const pages = [
    ...readdirSync(join(packageDir, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(packageDir, 'docs', f)),
    join(packageDir, 'README.md'),
    join(packageDir, 'examples', 'README.md'),
    join(repoRoot, 'README.md'),
  ];

  it.each(pages.map((p) => [relative(repoRoot, p), p] as const))(
    '%s links to files that exist',
    (_, page) => {
      const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
      const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!.split('#')[0]!)
        .filter((t) => t !== '' && !/^[a-z]+:/i.test(t));
      const missing = targets.filter((t) => !existsSync(join(dirname(page), t)));
      expect(missing).toEqual([]);
    },
  );
});
