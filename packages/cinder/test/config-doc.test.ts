// docs/configuration.md is generated from the schema and checked in: it must be what the script
// writes today, and list every item's CINDER_* variable.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC, renderConfigDoc } from '../scripts/config-doc.js';
import { configItems } from '../src/index.js';

describe('docs/configuration.md', () => {
  it('is up to date with the schema (regenerate: pnpm docs:config in packages/cinder)', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigDoc());
  });

  it('lists every item with its variable and default', () => {
    const doc = readFileSync(CONFIG_DOC, 'utf8');
    for (const item of configItems) {
      expect(doc).toContain(`| \`${item.name}\` | \`${item.envVar}\` |`);
    }
  });
});
