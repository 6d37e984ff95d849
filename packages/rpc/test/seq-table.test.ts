import { describe, expect, it } from 'vitest';
import { SeqTable } from '../src/seq-table.js';

interface Entry {
  seq: number;
  name: string;
}
const entry = (seq: number, name = `e${seq}`): Entry => ({ seq, name });

describe('SeqTable (calls in flight by seq)', () => {
  it('keeps, finds and forgets entries by seq, counting them', () => {
    const t = new SeqTable<Entry>();
    const a = entry(1);
    const b = entry(2);
    t.set(a);
    t.set(b);
    expect(t.size).toBe(2);
    expect(t.get(1)).toBe(a);
    expect(t.get(2)).toBe(b);
    expect(t.has(3)).toBe(false);
    expect(t.delete(1)).toBe(true);
    expect(t.delete(1)).toBe(false);
    expect(t.get(1)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  it('does not mistake an entry sharing a slot for the one asked for', () => {
    const t = new SeqTable<Entry>();
    t.set(entry(5));
    expect(t.get(5 + 16)).toBeUndefined();
    expect(t.delete(5 + 16)).toBe(false);
    expect(t.size).toBe(1);
  });

  it('grows when two live seqs share a slot, keeping every entry', () => {
    const t = new SeqTable<Entry>();
    const seqs = [0, 16, 32, 48, 1024, 65535, 7, 4096 + 7];
    for (const s of seqs) t.set(entry(s));
    expect(t.size).toBe(seqs.length);
    for (const s of seqs) expect(t.get(s)?.seq).toBe(s);
  });

  it('holds all 65,536 seqs at once', () => {
    const t = new SeqTable<Entry>();
    for (let s = 0; s < 65536; s++) t.set(entry(s));
    expect(t.size).toBe(65536);
    for (let s = 0; s < 65536; s += 4099) expect(t.get(s)?.seq).toBe(s);
  });

  it('replaces an entry set again under the same seq (as a Map would)', () => {
    const t = new SeqTable<Entry>();
    t.set(entry(9, 'old'));
    t.set(entry(9, 'new'));
    expect(t.size).toBe(1);
    expect(t.get(9)?.name).toBe('new');
  });

  it('lists entries oldest first, across the wrap of the 16-bit seq', () => {
    const t = new SeqTable<Entry>();
    for (const s of [65534, 65535, 0, 1, 2]) t.set(entry(s));
    t.delete(0);
    expect(t.values(2).map((e) => e.seq)).toEqual([65534, 65535, 1, 2]);
  });

  it('empties on clear', () => {
    const t = new SeqTable<Entry>();
    for (let s = 0; s < 100; s++) t.set(entry(s * 37));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.values(0)).toEqual([]);
    expect(t.get(37)).toBeUndefined();
  });
});
