// Who holds the daemon's connection slots, by client address: the connections still in their
// handshake (half-open) and those serving, oldest first in each, so that when slots run out the
// daemon can reclaim one from whoever holds the most (daemon.ts has the policy).
//
// Linked lists, not Sets (see @cinder/core's linked-list.ts for why).

import { Link, LinkedList } from '@cinder/core';

/** What the book needs of a connection. */
export interface SlotHolder {
  /** Nothing is being served or awaited on it: it may be closed to admit another client. */
  readonly idle: boolean;
}

/**
 * A connection's slot: its node in its address's half-open or serving list, filed under that
 * address (`group`), with the book's tick when the connection came (`joined`: its handshake deadline
 * counts from it). A plain Link, so the lists see one node shape.
 */
export type Slot<T extends SlotHolder> = Link<T, AddressSlots<T>>;

/** The slots held from one client address. */
export class AddressSlots<T extends SlotHolder> {
  readonly key: string;
  readonly halfOpen = new LinkedList<T, AddressSlots<T>>();
  readonly serving = new LinkedList<T, AddressSlots<T>>();

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
  /** Advanced by `expireHalfOpen`: the clock of the handshake deadline. */
  #tick = 0;

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
    const slot: Slot<T> = new Link(holder, address);
    slot.joined = this.#tick;
    address.halfOpen.push(slot);
    this.#halfOpen++;
    this.#held++;
    return slot;
  }

  /** The connection finished its handshake: it serves now. */
  ready(slot: Slot<T>): void {
    if (slot.group.halfOpen.remove(slot)) {
      this.#halfOpen--;
      slot.group.serving.push(slot);
    }
  }

  /** The connection gave its slot back (idempotent). */
  remove(slot: Slot<T>): void {
    const address = slot.group;
    if (address.halfOpen.remove(slot)) this.#halfOpen--;
    else if (!address.serving.remove(slot)) return;
    this.#held--;
  }

  /**
   * One step of the handshake deadline (the caller's interval is the deadline / `steps`): calls
   * `expire` with every connection still half-open `steps` full steps after the step it came in, so
   * between the deadline and one step later. Each address's half-open list is in arrival order, so
   * this looks at the expired connections and one more per address. `expire` may remove slots.
   */
  expireHalfOpen(steps: number, expire: (holder: T) => void): void {
    const tick = ++this.#tick;
    if (this.#halfOpen === 0) return;
    for (const address of this.#byAddress.values()) {
      for (let slot = address.halfOpen.first; slot !== null; ) {
        if (tick - slot.joined <= steps) break;
        const next = slot.next;
        expire(slot.value);
        slot = next;
      }
    }
  }

  /** The oldest half-open connection of the address holding the most of them. */
  oldestHalfOpenOfBiggest(): T | undefined {
    let victims: LinkedList<T, AddressSlots<T>> | undefined;
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
    const holders: LinkedList<T, AddressSlots<T>>[] = [];
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
