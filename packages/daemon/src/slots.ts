// Who holds the daemon's connection slots, by client address: the connections still in their
// handshake (half-open) and those serving, oldest first in each, so that when slots run out the
// daemon can reclaim one from whoever holds the most (daemon.ts has the policy).
//
// Linked lists, not Sets: connections keep entering and leaving these, and a Set (or Map) that
// does so reallocates its table now and then; V8 leaves the old table holding its entries and a
// pointer to the new one, so once one table has been promoted to the old generation, the chain of
// later tables keeps every connection they ever held alive through young-generation GCs until the
// next full GC (each scavenge copied and promoted ~1 MB of dead connections). Unlinking a node
// clears its pointers; nothing dead points at anything young.

/** A list node: the value and its neighbours (null at the ends, and once unlinked). */
export class Link<T> {
  readonly value: T;
  prev: Link<T> | null = null;
  next: Link<T> | null = null;
  /** The list holding this node, null when unlinked. */
  list: LinkedList<T> | null = null;

  constructor(value: T) {
    this.value = value;
  }
}

/** A doubly linked list of nodes the caller keeps (O(1) removal, no allocation of its own). */
export class LinkedList<T> {
  first: Link<T> | null = null;
  last: Link<T> | null = null;
  size = 0;

  /** Appends `node` (which must not be in a list). */
  push(node: Link<T>): void {
    node.list = this;
    node.prev = this.last;
    node.next = null;
    if (this.last === null) this.first = node;
    else this.last.next = node;
    this.last = node;
    this.size++;
  }

  /** Unlinks `node` if it is in this list; true if it was. */
  remove(node: Link<T>): boolean {
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

  /** The values, oldest first (a node unlinked during the loop ends it only if it was the next one). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let at = this.first; at !== null; at = at.next) yield at.value;
  }
}

/** What the book needs of a connection. */
export interface SlotHolder {
  /** Nothing is being served or awaited on it: it may be closed to admit another client. */
  readonly idle: boolean;
}

/** A connection's slot: its node in its address's half-open or serving list. */
export class Slot<T extends SlotHolder> extends Link<T> {
  readonly address: AddressSlots<T>;

  constructor(holder: T, address: AddressSlots<T>) {
    super(holder);
    this.address = address;
  }
}

/** The slots held from one client address. */
export class AddressSlots<T extends SlotHolder> {
  readonly key: string;
  readonly halfOpen = new LinkedList<T>();
  readonly serving = new LinkedList<T>();

  constructor(key: string) {
    this.key = key;
  }

  get size(): number {
    return this.halfOpen.size + this.serving.size;
  }
}

/** Entries of addresses holding nothing are dropped once the map is this big (and twice the live ones). */
const PURGE_FROM = 64;

export class SlotBook<T extends SlotHolder> {
  /**
   * By address key. An address's entry stays while it holds nothing (a client connecting one
   * connection at a time would otherwise add and delete it every time, with the Map churn the
   * header describes); empty entries are purged in one sweep when the map has grown.
   */
  readonly #byAddress = new Map<string, AddressSlots<T>>();
  #purgeAt = PURGE_FROM;
  #halfOpen = 0;
  #held = 0;

  /** Connections holding a slot, from every address. */
  get held(): number {
    return this.#held;
  }

  /** Connections in their handshake, from every address. */
  get halfOpenCount(): number {
    return this.#halfOpen;
  }

  /** Connections holding a slot from `key`. */
  countFor(key: string): number {
    return this.#byAddress.get(key)?.size ?? 0;
  }

  /** A new connection from `key` holds a slot: half-open until `ready`. */
  add(holder: T, key: string): Slot<T> {
    let address = this.#byAddress.get(key);
    if (address === undefined) {
      if (this.#byAddress.size >= this.#purgeAt) this.#purge();
      address = new AddressSlots(key);
      this.#byAddress.set(key, address);
    }
    const slot = new Slot(holder, address);
    address.halfOpen.push(slot);
    this.#halfOpen++;
    this.#held++;
    return slot;
  }

  /** The connection finished its handshake: it serves now. */
  ready(slot: Slot<T>): void {
    if (slot.address.halfOpen.remove(slot)) {
      this.#halfOpen--;
      slot.address.serving.push(slot);
    }
  }

  /** The connection gave its slot back (idempotent). */
  remove(slot: Slot<T>): void {
    const address = slot.address;
    if (address.halfOpen.remove(slot)) this.#halfOpen--;
    else if (!address.serving.remove(slot)) return;
    this.#held--;
  }

  /** The oldest half-open connection of the address holding the most of them. */
  oldestHalfOpenOfBiggest(): T | undefined {
    let victims: LinkedList<T> | undefined;
    for (const address of this.#byAddress.values()) {
      if (address.halfOpen.size > (victims?.size ?? 0)) victims = address.halfOpen;
    }
    return victims?.first?.value;
  }

  /**
   * The oldest idle connection of an address holding more connections than `key` would with one
   * more, the address holding the most first; undefined if there is none.
   */
  idleOfBiggerHolder(key: string): T | undefined {
    const own = this.countFor(key) + 1;
    const holders: LinkedList<T>[] = [];
    for (const address of this.#byAddress.values()) {
      if (address.serving.size > own) holders.push(address.serving);
    }
    holders.sort((a, b) => b.size - a.size);
    for (const serving of holders) {
      for (const holder of serving) if (holder.idle) return holder;
    }
    return undefined;
  }

  #purge(): void {
    for (const [key, address] of this.#byAddress) {
      if (address.size === 0) this.#byAddress.delete(key);
    }
    this.#purgeAt = Math.max(PURGE_FROM, 2 * this.#byAddress.size);
  }
}
