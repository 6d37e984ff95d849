import { describe, expect, it } from 'vitest';
import { Link, LinkedList } from '../src/index.js';

describe('LinkedList', () => {
  it('keeps values in order of joining and removes any node in O(1)', () => {
    const list = new LinkedList<string>();
    const a = list.add('a');
    const b = list.add('b');
    const c = list.add('c');
    expect(list.values()).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
    expect(list.remove(b)).toBe(true);
    expect([...list]).toEqual(['a', 'c']);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(c)).toBe(true);
    expect(list.values()).toEqual([]);
    expect(list.first).toBeNull();
    expect(list.last).toBeNull();
    expect(list.size).toBe(0);
  });

  it('removal is idempotent and only from the list holding the node', () => {
    const one = new LinkedList<number>();
    const other = new LinkedList<number>();
    const node = one.add(1);
    one.add(2);
    expect(other.remove(node)).toBe(false);
    expect(one.remove(node)).toBe(true);
    expect(one.remove(node)).toBe(false);
    expect(one.values()).toEqual([2]);
    expect(one.size).toBe(1);
  });

  it('an unlinked node points at nothing (a dead node keeps no neighbour alive)', () => {
    const list = new LinkedList<number>();
    list.add(1);
    const middle = list.add(2);
    list.add(3);
    list.remove(middle);
    expect(middle.prev).toBeNull();
    expect(middle.next).toBeNull();
    expect(middle.list).toBeNull();
  });

  it('a node the caller made can be pushed, and joins again after removal', () => {
    const list = new LinkedList<string>();
    const node = new Link('x');
    list.push(node);
    list.add('y');
    list.remove(node);
    list.push(node);
    expect(list.values()).toEqual(['y', 'x']);
    expect(list.last).toBe(node);
  });

  it('values() is a snapshot: removing during a walk over it visits every value', () => {
    const list = new LinkedList<number>();
    const nodes = [1, 2, 3, 4].map((v) => list.add(v));
    const seen: number[] = [];
    for (const v of list.values()) {
      seen.push(v);
      list.remove(nodes[v - 1]!);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(list.size).toBe(0);
  });
});
