import { readFileSync } from 'node:fs';
import { markdownSamples, runMarkdownSample } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The configuration table's rows as they must appear in the README, built from configItems. */
function configRows(): string[][] {
  return [
    ['Item', 'Environment variable', 'Default', 'Pyro', 'Description'],
    ...core.configItems.map((i) => [
      `\`${i.name}\``,
      `\`${i.envVar}\``,
      `\`${JSON.stringify(i.defaultValue)}\``,
      i.pyroItem ? `\`${i.pyroItem}\`` : '—',
      i.description,
    ]),
  ];
}

/** Cells of a Markdown table, whatever the column padding; the separator row is dropped. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => !/^\|[-\s|]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replaceAll('\\|', '|')),
    );
}

describe('README', () => {
  it('has the configuration table of every item, up to date', () => {
    const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(match, 'config-table markers').not.toBeNull();
    expect(tableRows(match![1]!)).toEqual(configRows());
    for (const item of core.configItems) expect(readme).toContain(`\`${item.envVar}\``);
  });

  it.each(markdownSamples(new URL('../README.md', import.meta.url)))(
    'sample $index prints what its comments say',
    async (sample) => {
      expect(await runMarkdownSample(sample, { '@cinder/core': core })).toEqual(sample.expected);
    },
  );
});
