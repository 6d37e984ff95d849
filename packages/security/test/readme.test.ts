// The README stays true: its limits table matches securityLimits and its code samples run and
// print what their `// →` comments say.
import { readFileSync } from 'node:fs';
import * as protocol from '@cinder/protocol';
import { markdownSamples, runMarkdownSample } from '@cinder/test-utils';
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

  it.each(markdownSamples(new URL('../README.md', import.meta.url)))(
    'sample $index prints what its comments say',
    async (sample) => {
      expect(await runMarkdownSample(sample, modules)).toEqual(sample.expected);
    },
  );
});
