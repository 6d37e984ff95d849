// A doubly linked list whose nodes the caller keeps: for long-lived collections that short-lived
// objects (connections, sessions, timers) keep entering and leaving.
//
// Why not a Set or a Map: one that entries keep joining and leaving reallocates its table now and
// then, and V8 leaves the obsolete table holding its entries and a pointer to its successor (for
// live iterators). Once one such table has been promoted to the old generation, that dead table
// keeps the chain of later tables — and every object any of them held — alive through every
// young-generation GC until the next full GC. Measured on a daemon accepting connections one at a
// time: ~1.25 MB promoted per scavenge instead of ~0.4 MB, scavenge pauses of 5-27 ms instead of
// 1-4 ms. Unlinking a node here clears its pointers, so nothing dead points at anything young.

/**
 * A list node: the value and its neighbours (null at the ends, and once unlinked). Every list's
 * nodes are this one class, with the fields of every kind of list (a TickList's `joined`, a daemon
 * slot's `group`): push and remove then see one node shape, not one per subclass, which is what they
 * cost in V8's unoptimised tiers — where a connection's nodes are linked and unlinked — when the
 * property accesses are polymorphic.
 */
export class Link<T, G = null> {
  readonly value: T;
  /** What the list's keeper files the node under (a daemon slot: its client address); null if nothing. */
  readonly group: G;
  prev: Link<T, G> | null = null;
  next: Link<T, G> | null = null;
  /** The list holding this node, null when unlinked. */
  list: LinkedList<T, G> | null = null;
  /** A clock's tick when the node joined (a TickList's, a daemon slot book's); 0 if unused. */
  joined = 0;

  constructor(value: T, group: G = null as G) {
    this.value = value;
    this.group = group;
  }
}

/** A doubly linked list of nodes the caller keeps: O(1) append and removal, nothing allocated of its own. */
export class LinkedList<T, G = null> {
  first: Link<T, G> | null = null;
  last: Link<T, G> | null = null;
  size = 0;

  /** Appends `node` (which must not be in a list). */
  push(node: Link<T, G>): void {
    node.list = this;
    node.prev = this.last;
    node.next = null;
    if (this.last === null) this.first = node;
    else this.last.next = node;
    this.last = node;
    this.size++;
  }

  /** Appends `value` in a new node; the node is what `remove` takes. */
  add(this: LinkedList<T>, value: T): Link<T> {
    const node = new Link<T>(value);
    this.push(node);
    return node;
  }

  /** Unlinks `node` if it is in this list (idempotent); true if it was. */
  remove(node: Link<T, G>): boolean {
    if (node.list !== this) return false;
    if (node.prev === null) this.first = node.next;
    else node.prev.next = node.next;
    if (node.next === null) this.last = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = null;
    node.list = null;
    this.size--;
    return true;
  }

  /** The values, oldest first, as they are now (removing some meanwhile is safe). */
  values(): T[] {
    const out: T[] = [];
    for (let at = this.first; at !== null; at = at.next) out.push(at.value);
    return out;
  }

  /** The values, oldest first (a node unlinked during the loop ends it only if it was the next one). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let at = this.first; at !== null; at = at.next) yield at.value;
  }
}
