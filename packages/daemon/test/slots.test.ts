// The slot book's handshake deadline: connections still half-open a full number of steps after the
// step they came in are expired, per address in arrival order; serving ones never.
import { describe, expect, it } from 'vitest';
import { type Slot, SlotBook } from '../src/slots.js';

class Holder {
  idle = false;
  slot: Slot<Holder> | undefined;
  constructor(readonly name: string) {}
}

function expired(book: SlotBook<Holder>, steps: number, removeOnExpiry = false): string[] {
  const out: string[] = [];
  book.expireHalfOpen(steps, (h) => {
    out.push(h.name);
    if (removeOnExpiry && h.slot) book.remove(h.slot);
  });
  return out;
}

describe('SlotBook.expireHalfOpen', () => {
  it('expires half-open connections after a full number of steps, oldest first, never serving ones', () => {
    const book = new SlotBook<Holder>();
    const a = new Holder('a');
    const b = new Holder('b');
    const c = new Holder('c');
    const d = new Holder('d');
    a.slot = book.add(a, '10.0.0.1');
    b.slot = book.add(b, '10.0.0.1');
    c.slot = book.add(c, '10.0.0.2');
    d.slot = book.add(d, '10.0.0.2');
    book.ready(d.slot);
    for (let i = 0; i < 4; i++) expect(expired(book, 4)).toEqual([]);
    // a joined later than a, b, c, d: three steps on
    const e = new Holder('e');
    e.slot = book.add(e, '10.0.0.1');
    expect(expired(book, 4, true)).toEqual(['a', 'b', 'c']);
    expect(book.halfOpenCount).toBe(1);
    expect(book.held).toBe(2);
    for (let i = 0; i < 3; i++) expect(expired(book, 4, true)).toEqual([]);
    expect(expired(book, 4, true)).toEqual(['e']);
    expect(book.halfOpenCount).toBe(0);
    // d serves: never expired
    for (let i = 0; i < 10; i++) expect(expired(book, 4, true)).toEqual([]);
    expect(book.held).toBe(1);
  });

  it('expires again on the next step a connection whose slot is not given back at once', () => {
    const book = new SlotBook<Holder>();
    const a = new Holder('a');
    a.slot = book.add(a, '');
    for (let i = 0; i < 2; i++) expired(book, 2);
    expect(expired(book, 2)).toEqual(['a']);
    expect(expired(book, 2)).toEqual(['a']);
    book.remove(a.slot);
    expect(expired(book, 2)).toEqual([]);
  });
});
