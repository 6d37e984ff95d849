// One attempt at connecting a proxy, shared by every call that waits for it. Each call waits with its
// own deadline (made once when the call was made, and used again on the wire), so a call with 300 ms
// left stops waiting after 300 ms even when another waits for longer. The attempt itself belongs to
// its waiters: when the last one gives up, its deadline aborts, and the name lookup, dial or handshake
// that nobody waits for any more stops holding a socket. (A Deadline the attempt owns, not an
// AbortController: no EventTarget per connection.) The connection's own bound
// (connectTimeoutMs) is applied inside the attempt, so whichever passes first ends a call's wait.
// An attempt started by a caller who waits without a deadline is never abandoned (that waiter never
// leaves): it gets no abandon deadline at all.
import { AbortedError, Deadline, DeadlineController } from '@cinder/core';

export class ConnectAttempt<T> {
  /** Settles with the attempt (never rejects unobserved). */
  readonly promise: Promise<T>;
  /** Undefined when the attempt cannot be abandoned. */
  private readonly abandon: DeadlineController | undefined;
  private waiters = 0;
  private settled = false;
  private readonly onEnd: () => void;

  /**
   * Starts `run` now, with the deadline that passes when every waiter gave up (Deadline.NONE when
   * `abandonable` is false: its first waiter is one who never gives up). `onEnd` runs once the
   * attempt is over for its owner: when it settles, or when it is abandoned first.
   */
  constructor(run: (abandoned: Deadline) => Promise<T>, onEnd: () => void, abandonable: boolean) {
    this.onEnd = onEnd;
    this.abandon = abandonable ? new DeadlineController() : undefined;
    this.promise = run(this.abandon?.deadline ?? Deadline.NONE);
    const done = () => {
      this.settled = true;
      onEnd();
    };
    // every waiter gets the outcome through join(); when all of them gave up first, nobody is
    // left to observe the attempt, so a failure must not surface as an unhandled rejection
    this.promise.then(done, done);
  }

  /** Whether the attempt was given up by its waiters (a new call must start another). */
  get abandoned(): boolean {
    return this.abandon !== undefined && this.abandon.deadline.expired() !== undefined;
  }

  /** The attempt's outcome, or `deadline`'s error for `what` if the deadline passes first. */
  join(deadline: Deadline, what: string): Promise<T> {
    this.waiters++;
    if (!deadline.bounded) return this.promise; // never leaves: the attempt is never abandoned under it
    const leave = deadline.onExpire(() => {
      if (--this.waiters === 0 && !this.settled && this.abandon !== undefined) {
        this.abandon.abort(new AbortedError(`${what}: every caller gave up`));
        this.onEnd();
      }
    });
    return deadline.race(this.promise, what).finally(leave);
  }
}
