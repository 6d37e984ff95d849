// Turns `{ signal, timeoutMs }` into one rejection path, so every async API can promise that it
// never hangs and always says why it stopped.
import { AbortedError, TimeoutError } from './errors.js';
import { CoarseDeadlines, type TickNode } from './tick-list.js';
import type { CallOptions } from './types.js';

/**
 * Races `promise` against the caller's signal and timeout. `what` names the operation in the error.
 * Timers and listeners are removed as soon as the race is decided.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  options: CallOptions | undefined,
  what: string,
): Promise<T> {
  const signal = options?.signal;
  const timeoutMs = options?.timeoutMs ?? 0;
  if (!signal && !(timeoutMs > 0)) return promise;
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(abortError(signal!, what));
    };
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`${what} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}

/** The error an aborted operation rejects with. */
export function abortError(signal: AbortSignal, what: string): AbortedError | TimeoutError {
  return abortErrorFor(signal.reason, what);
}

/** The error an operation aborted for `reason` rejects with (a TimeoutError reason stays a timeout). */
function abortErrorFor(reason: unknown, what: string): AbortedError | TimeoutError {
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError(`${what} timed out`, { cause: reason });
  }
  return new AbortedError(`${what} was aborted`, { cause: reason });
}

/** Resolves after `ms` milliseconds, or rejects when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal, 'sleep'));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!, 'sleep'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// set by Deadline's static block: what DeadlineController may do to the deadline it owns
let makeControlled: (timeoutMs: number) => Deadline;
let abortDeadline: (deadline: Deadline, reason: unknown) => void;
/** The coarse timers of deadlines made `within(…, coarse)`: one interval per duration. */
let coarseTimers: CoarseDeadlines<Deadline>;

/**
 * One operation's deadline: the caller's `timeoutMs` and `signal`, merged once when the operation
 * (a call) is made, then passed down to everything it waits for — queueing, connecting, resolving a
 * name, the handshake, the wire, the cancel message. It costs nothing until someone waits on it, and
 * at most one timer however many wait: the first `onExpire` arms it, the last unsubscription clears it.
 * A deadline can also end with another one (`within`: a connect bound inside the attempt that all
 * waiting calls may abandon) or when its owner aborts it (`DeadlineController`) — no AbortController
 * or EventTarget involved, so a connection does not pay for them.
 */
export class Deadline {
  /** No timeout and no signal: never expires. */
  static readonly NONE: Deadline = new Deadline(0, undefined);

  /** The caller's timeout in milliseconds (0 = none), as given. */
  readonly timeoutMs: number;
  /** The caller's signal, if any. */
  readonly callerSignal: AbortSignal | undefined;
  /** When the timeout passes, in `performance.now()` milliseconds (Infinity without a timeout). */
  readonly expiresAt: number;
  /** Whether it can ever expire (fixed when made: a field, read on every wait of a connection). */
  readonly bounded: boolean;
  #timer: NodeJS.Timeout | undefined;
  /** Timed by the shared coarse timers instead of a Node timer of its own (see `within`). */
  readonly #coarse: boolean;
  #tick: TickNode<Deadline> | undefined;
  #listeners: ((aborted: boolean) => void)[] | undefined;
  #onAbort: (() => void) | undefined;
  #fired: boolean | undefined; // undefined: not yet; else whether by abort
  /** This deadline also passes when the parent does (see `within`). */
  readonly #parent: Deadline | undefined;
  #offParent: (() => void) | undefined;
  /** It passed because the parent did (its error is the parent's). */
  #viaParent = false;
  /** Why the owner aborted it (DeadlineController.abort). */
  #reason: unknown;

  private constructor(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    parent?: Deadline,
    controlled = false,
    coarse = false,
  ) {
    // biome-ignore lint/complexity/useMathMinMax: NaN must become 0 here, and Math.max(NaN, 0) is NaN
    this.timeoutMs = timeoutMs > 0 ? timeoutMs : 0;
    this.callerSignal = signal;
    this.#coarse = coarse;
    this.#parent = parent?.bounded ? parent : undefined;
    this.expiresAt = this.timeoutMs > 0 ? performance.now() + this.timeoutMs : Number.POSITIVE_INFINITY;
    // made by a DeadlineController (controlled): its owner can abort it
    this.bounded = this.timeoutMs > 0 || signal !== undefined || this.#parent !== undefined || controlled;
  }

  static {
    makeControlled = (timeoutMs) => new Deadline(timeoutMs, undefined, undefined, true);
    abortDeadline = (deadline, reason) => deadline.#abort(reason);
    coarseTimers = new CoarseDeadlines((deadline) => deadline.#fire(false));
  }

  /** The deadline of `options`, with `defaultTimeoutMs` when they give no timeout. */
  static from(options: CallOptions | undefined, defaultTimeoutMs = 0): Deadline {
    const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs;
    const signal = options?.signal;
    if (signal === undefined && !(timeoutMs > 0)) return Deadline.NONE;
    return new Deadline(timeoutMs, signal);
  }

  /** A deadline `timeoutMs` from now (0 = none), with no signal. */
  static after(timeoutMs: number): Deadline {
    return timeoutMs > 0 ? new Deadline(timeoutMs, undefined) : Deadline.NONE;
  }

  /**
   * A deadline `timeoutMs` from now (0 = none) that also passes when `parent` does, with the
   * parent's error then. Watches the parent only while someone waits on it.
   *
   * `coarse`: for a bound that is waited on from the start and rarely passes (a connection's connect
   * bound): its timeout fires through a timer shared by every such deadline of the same `timeoutMs`
   * (one interval walking a list: no Node timer made and cleared per deadline), up to an eighth of
   * `timeoutMs` late, counted from the first wait. That timer does not keep the process alive:
   * whoever waits must hold something that does (a socket). `expired()` is exact either way.
   */
  static within(parent: Deadline, timeoutMs: number, coarse = false): Deadline {
    if (!parent.bounded && !(timeoutMs > 0)) return Deadline.NONE;
    return new Deadline(timeoutMs, undefined, parent, false, coarse);
  }

  /** Milliseconds left (Infinity without a timeout; 0 once passed). */
  remainingMs(): number {
    return this.timeoutMs > 0 ? Math.max(0, this.expiresAt - performance.now()) : Number.POSITIVE_INFINITY;
  }

  /** Whether it has passed: 'aborted' (the signal), 'timeout', or undefined. */
  expired(): 'aborted' | 'timeout' | undefined {
    if (this.#fired !== undefined) return this.#fired ? 'aborted' : 'timeout';
    if (this.callerSignal?.aborted) return 'aborted';
    if (this.timeoutMs > 0 && performance.now() >= this.expiresAt) return 'timeout';
    return this.#parent?.expired();
  }

  /** Whether it passed by its own timeout, signal or owner (not only through its parent). */
  #ownExpired(): boolean {
    if (this.#fired !== undefined) return !this.#viaParent;
    return this.callerSignal?.aborted === true || (this.timeoutMs > 0 && performance.now() >= this.expiresAt);
  }

  /**
   * The error for `what` when the deadline has passed: TimeoutError ("… timed out after N ms") or
   * AbortedError ("… was aborted", the signal's reason as cause; a TimeoutError reason stays a timeout).
   */
  error(what: string, aborted = this.expired() === 'aborted'): AbortedError | TimeoutError {
    const parent = this.#parent;
    if (parent !== undefined && !this.#ownExpired() && parent.expired() !== undefined) {
      return parent.error(what);
    }
    if (aborted) {
      if (this.#reason !== undefined) return abortErrorFor(this.#reason, what);
      if (this.callerSignal !== undefined) return abortError(this.callerSignal, what);
    }
    return new TimeoutError(`${what} timed out after ${this.timeoutMs} ms`);
  }

  /** What a signal made for an aborted deadline carries as its reason (the caller's, the owner's). */
  #abortReason(): unknown {
    if (this.#reason !== undefined) return this.#reason;
    if (this.callerSignal?.aborted) return this.callerSignal.reason;
    const parent = this.#parent;
    return parent !== undefined && parent.expired() === 'aborted' ? parent.#abortReason() : undefined;
  }

  /**
   * Calls `listener` once when the deadline passes (true: by the signal); returns the function that
   * stops listening. Already passed: the listener runs now. While others wait on it (it is armed),
   * the clock is not read again: a listener that joins then runs when the timer fires (the signal
   * and the parent fire at once, as they are watched), as do those already waiting — so a
   * connection's several waits on its bound read the clock once.
   */
  onExpire(listener: (aborted: boolean) => void): () => void {
    if (!this.bounded) return noop;
    let listeners = this.#listeners;
    if (listeners === undefined || listeners.length === 0) {
      // the first to wait (or the deadline has fired: no list then): has it passed already?
      const now = this.expired();
      if (now !== undefined) {
        listener(now === 'aborted');
        return noop;
      }
      listeners = this.#listeners ??= [];
    }
    listeners.push(listener);
    if (listeners.length === 1) this.#arm();
    return () => {
      if (this.#listeners !== listeners) return; // fired: the list is being run, leave it alone
      const i = listeners.indexOf(listener);
      if (i < 0) return;
      // (the last one pops: splice makes an array of what it removed, one per unsubscription)
      if (i === listeners.length - 1) listeners.pop();
      else listeners.splice(i, 1);
      if (listeners.length === 0) this.#disarm();
    };
  }

  /**
   * Runs `fn` with a signal that aborts when the deadline passes (for APIs that take a signal: name
   * lookups, connecting), driven by the same timer; listening stops when `fn` settles. The signal's
   * reason is the caller's on abort, else this deadline's TimeoutError for `what`.
   */
  async withSignal<T>(fn: (signal: AbortSignal | undefined) => Promise<T>, what = 'operation'): Promise<T> {
    if (!this.bounded) return fn(undefined);
    const controller = new AbortController();
    const stop = this.onExpire((aborted) =>
      controller.abort(aborted ? this.#abortReason() : this.error(what, false)),
    );
    try {
      return await fn(controller.signal);
    } finally {
      stop();
    }
  }

  /** `promise`, or the deadline's error for `what` if it passes first. */
  race<T>(promise: Promise<T>, what: string): Promise<T> {
    if (!this.bounded) return promise;
    return new Promise<T>((resolve, reject) => {
      const stop = this.onExpire((aborted) => reject(this.error(what, aborted)));
      promise.then(
        (value) => {
          stop();
          resolve(value);
        },
        (err: unknown) => {
          stop();
          reject(err);
        },
      );
    });
  }

  #arm(): void {
    if (this.#coarse) {
      if (this.timeoutMs > 0 && this.#tick === undefined) this.#tick = coarseTimers.add(this.timeoutMs, this);
    } else if (this.timeoutMs > 0 && this.#timer === undefined) {
      // whole milliseconds: Node keeps one timer list per duration, and a fractional one (9999.83…)
      // would make a list (and a priority-queue entry) for this timer alone
      const ms = Math.max(0, Math.ceil(this.expiresAt - performance.now()));
      this.#timer = setTimeout(() => this.#fire(false), ms);
    }
    const signal = this.callerSignal;
    if (signal !== undefined && this.#onAbort === undefined) {
      this.#onAbort = () => this.#fire(true);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    const parent = this.#parent;
    if (parent !== undefined && this.#offParent === undefined) {
      this.#offParent = noop; // a parent already passed fires us from inside onExpire
      const off = parent.onExpire((aborted) => {
        this.#viaParent = true;
        this.#fire(aborted);
      });
      if (this.#fired === undefined) this.#offParent = off;
    }
  }

  #disarm(): void {
    if (this.#tick !== undefined) {
      coarseTimers.cancel(this.#tick);
      this.#tick = undefined;
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#onAbort !== undefined) {
      this.callerSignal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
    }
    if (this.#offParent !== undefined) {
      const off = this.#offParent;
      this.#offParent = undefined;
      off();
    }
  }

  #abort(reason: unknown): void {
    if (this.#fired !== undefined) return;
    this.#reason = reason ?? new AbortedError('aborted');
    this.#fire(true);
  }

  #fire(aborted: boolean): void {
    if (this.#fired !== undefined) return;
    this.#fired = aborted;
    this.#disarm();
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const l of listeners) l(aborted);
  }
}

const noop = (): void => {};

/**
 * The owner's handle on a deadline it may abort — AbortController's counterpart for a Deadline,
 * without an EventTarget: listeners are the deadline's own (`onExpire`), and nothing is allocated
 * until someone waits on it. Give `deadline` to those who wait; keep `abort` to yourself.
 */
export class DeadlineController {
  /** Passes when `abort` is called, or `timeoutMs` from now (0 = never by itself). */
  readonly deadline: Deadline;

  constructor(timeoutMs = 0) {
    this.deadline = makeControlled(timeoutMs);
  }

  /** Ends the deadline now: its waiters get an AbortedError with `reason` as cause (a TimeoutError reason stays a timeout). */
  abort(reason?: unknown): void {
    abortDeadline(this.deadline, reason);
  }
}
