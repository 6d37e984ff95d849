// The README's code samples run and print what their `// →` comments say, and its tables name
// every serializer and error class the code has.
import { readFileSync } from 'node:fs';
import * as core from '@cinder/core';
import { markdownSamples, runMarkdownSample } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import * as serializers from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const modules: Record<string, Record<string, unknown>> = {
  '@cinder/core': core,
  '@cinder/serializers': serializers,
};

describe('README', () => {
  it.each(markdownSamples(new URL('../README.md', import.meta.url)))(
    'sample $index prints what its comments say',
    async (sample) => {
      expect(await runMarkdownSample(sample, modules)).toEqual(sample.expected);
    },
  );

  it('lists every serializer id and every Cinder error class', () => {
    for (const s of serializers.createSerializers().all()) {
      expect(readme).toMatch(new RegExp(`\\| ${s.id} +\\| ${s.name} `));
    }
    for (const name of Object.keys(core.errorClasses)) expect(readme, name).toContain(`\`${name}\``);
  });
});
