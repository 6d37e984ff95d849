// Runs the README's TypeScript samples, so the documented API and output cannot drift from the code.
import * as assertModule from 'node:assert/strict';
import { markdownSamples, runMarkdownSample } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';
import * as protocol from '../src/index.js';

const samples = markdownSamples(new URL('../README.md', import.meta.url));
const modules = {
  '@cinder/protocol': protocol,
  'node:assert/strict': assertModule,
};

describe('README samples', () => {
  it('has samples', () => {
    expect(samples.length).toBeGreaterThanOrEqual(1);
  });

  it.each(samples)('sample $index prints what its comments say', async (sample) => {
    expect(await runMarkdownSample(sample, modules)).toEqual(sample.expected);
  });
});
