// Large json and serpent output is turned into UTF-8 in pieces as it is written (text-output.ts):
// the bytes must be exactly those of writing it in one piece, non-ASCII text and surrogate pairs
// included, at every piece boundary.
import { describe, expect, it } from 'vitest';
import { encodeJson, encodeJsonText } from '../../src/formats/json.js';
import { encodeSerpent, SERPENT_HEADER } from '../../src/formats/serpent.js';

describe('large text output', () => {
  const items = Array.from({ length: 30_000 }, (_, i): string | number =>
    i % 3 === 0 ? 'é✓😀' : i % 3 === 1 ? 'x'.repeat(i % 7) : i,
  );
  const nested = Array.from({ length: 3000 }, (_, i) => ({ k: [i, 'ü'], m: new Map([[i, '😀']]) }));

  it('json: the same bytes and text as one piece', () => {
    const one = `[${items.map((v) => JSON.stringify(v)).join(', ')}]`;
    expect(encodeJsonText(items)).toBe(one);
    expect(Buffer.from(encodeJson(items)).equals(Buffer.from(one, 'utf8'))).toBe(true);
    const text = encodeJsonText(nested);
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(text.startsWith('[{"k": [0, "ü"], "m": {"0": "😀"}}, {"k": [1, "ü"]')).toBe(true);
    expect(Buffer.from(encodeJson(nested)).toString('utf8')).toBe(text);
    expect(JSON.parse(text)).toHaveLength(3000);
  });

  it('serpent: the same bytes as one piece', () => {
    const repr = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v}'`);
    const one = `${SERPENT_HEADER}[${items.map(repr).join(',')}]`;
    expect(Buffer.from(encodeSerpent(items)).toString('utf8')).toBe(one);
  });
});
