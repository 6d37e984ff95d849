// Coarse timers shared by every connection: the handshake deadline of connections still shaking
// hands, a client's connect bound, the heartbeat of sessions. One interval per duration walks a
// list instead of a Node timer per connection (a Timeout made and cleared per connection, and — with one connection at a time —
// Node's timer list for that duration made and dropped with it). Joining or leaving the list is
// O(1) and allocates one small node; unlinking clears its pointers (see @cinder/core's
// linked-list.ts for why long-lived collections of short-lived connections are linked lists, not Sets).

import { Link, LinkedList } from './linked-list.js';

/** A value in a TickList, with the list's tick count when it joined (`joined`). */
export type TickNode<T> = Link<T>;

/**
 * Nodes in joining order, and an interval of `stepMs` that calls `onTick` while any are listed.
 * With none listed for `idleTicks` ticks the interval stops (the next node starts it again), so a
 * lone client connecting over and over does not start and stop it every time.
 */
export class TickList<T> extends LinkedList<T> {
  /** Ticks since the interval was first started. */
  tick = 0;
  readonly stepMs: number;
  readonly #idleTicks: number;
  readonly #onTick: (list: TickList<T>) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #idle = 0;

  constructor(stepMs: number, idleTicks: number, onTick: (list: TickList<T>) => void) {
    super();
    this.stepMs = stepMs;
    this.#idleTicks = idleTicks;
    this.#onTick = onTick;
  }

  /** Adds `value` at the end; the node is what `remove` takes. */
  override add(value: T): TickNode<T> {
    const node = new Link<T>(value);
    node.joined = this.tick;
    this.push(node);
    if (this.#timer === undefined) {
      const timer = setInterval(this.#fire, this.stepMs);
      (timer as { unref?: () => void }).unref?.(); // optional: a browser's timers are numbers
      this.#timer = timer;
    }
    return node;
  }

  readonly #fire = (): void => {
    this.tick++;
    if (this.size === 0) {
      if (++this.#idle >= this.#idleTicks) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        this.#idle = 0;
      }
      return;
    }
    this.#idle = 0;
    this.#onTick(this);
  };
}

/** Steps per timeout: a deadline fires between `ms` and `ms` plus one step (an eighth) late. */
const DEADLINE_STEPS = 8;

/**
 * Coarse deadlines of values of one kind: `add(ms, value)` has `expire(value)` called once `ms` have
 * passed (at most an eighth of `ms` later), unless the returned node is cancelled first. Every
 * deadline of the same `ms` shares one interval, which is unref'd: whoever waits must hold
 * something that keeps the process alive (a socket).
 */
export class CoarseDeadlines<T> {
  readonly #lists = new Map<number, TickList<T>>();
  readonly #walk: (list: TickList<T>) => void;

  constructor(expire: (value: T) => void) {
    // nodes join in deadline order (same `ms`): expire from the front until one is not due, once a
    // full DEADLINE_STEPS steps have passed since the step it joined in
    this.#walk = (list) => {
      for (
        let node = list.first;
        node !== null && list.tick - node.joined > DEADLINE_STEPS;
        node = list.first
      ) {
        list.remove(node);
        expire(node.value);
      }
    };
  }

  /** Has `expire(value)` called once `ms` have passed; the node is what `cancel` takes. */
  add(ms: number, value: T): TickNode<T> {
    let list = this.#lists.get(ms);
    if (list === undefined) {
      list = new TickList(ms / DEADLINE_STEPS, DEADLINE_STEPS, this.#walk);
      this.#lists.set(ms, list);
    }
    return list.add(value);
  }

  /** Cancels a deadline of `add` (idempotent). */
  cancel(node: TickNode<T>): void {
    node.list?.remove(node);
  }
}
