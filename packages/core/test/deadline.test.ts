import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  Deadline,
  DeadlineController,
  sleep,
  TimeoutError,
  withDeadline,
} from '../src/index.js';

describe('withDeadline', () => {
  it('passes the value through when nothing limits it', async () => {
    await expect(withDeadline(Promise.resolve(5), undefined, 'op')).resolves.toBe(5);
    await expect(withDeadline(Promise.resolve(6), { timeoutMs: 1000 }, 'op')).resolves.toBe(6);
  });

  it('rejects with a TimeoutError naming the operation', async () => {
    const never = new Promise<void>(() => {});
    await expect(withDeadline(never, { timeoutMs: 20 }, 'call add')).rejects.toThrow(
      new TimeoutError('call add timed out after 20 ms'),
    );
  });

  it('rejects with an AbortedError when the signal fires, before or during', async () => {
    const ac = new AbortController();
    const p = withDeadline(new Promise<void>(() => {}), { signal: ac.signal }, 'op');
    ac.abort(new Error('stop'));
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(withDeadline(Promise.resolve(1), { signal: ac.signal }, 'op')).rejects.toBeInstanceOf(
      AbortedError,
    );
    await expect(
      withDeadline(new Promise<void>(() => {}), { signal: AbortSignal.timeout(10) }, 'op'),
    ).rejects.toBeInstanceOf(TimeoutError);
  });

  it('sleep honours abort', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});

describe('Deadline', () => {
  it('a timeout that is not a number above 0 (NaN, negative) means none, also next to a signal', () => {
    const signal = new AbortController().signal;
    for (const timeoutMs of [Number.NaN, -5, 0]) {
      const d = Deadline.from({ timeoutMs, signal });
      expect(d.timeoutMs).toBe(0);
      expect(d.bounded).toBe(true);
      expect(d.remainingMs()).toBe(Number.POSITIVE_INFINITY);
      expect(d.expired()).toBeUndefined();
    }
  });

  it('without timeout or signal is the shared never-expiring NONE, and costs no timer', () => {
    const d = Deadline.from(undefined);
    expect(d).toBe(Deadline.NONE);
    expect(d.bounded).toBe(false);
    const fired: boolean[] = [];
    d.onExpire((a) => fired.push(a))();
    expect(d.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    expect(fired).toEqual([]);
  });

  it('counts from when it is made, and fires every listener once from one timer', async () => {
    const d = Deadline.from({ timeoutMs: 60 });
    const fired: string[] = [];
    d.onExpire(() => fired.push('a'));
    const stopB = d.onExpire(() => fired.push('b'));
    d.onExpire(() => fired.push('c'));
    stopB();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(fired).toEqual(['a', 'c']);
    expect(d.expired()).toBe('timeout');
    expect(d.error('call x')).toBeInstanceOf(TimeoutError);
    expect(d.error('call x').message).toBe('call x timed out after 60 ms');
    // already passed: a late listener runs at once
    d.onExpire(() => fired.push('late'));
    expect(fired).toEqual(['a', 'c', 'late']);
  });

  it("follows the caller's signal, with AbortedError carrying its reason", async () => {
    const controller = new AbortController();
    const d = Deadline.from({ signal: controller.signal, timeoutMs: 10_000 });
    const race = d.race(new Promise(() => {}), 'call y');
    controller.abort(new Error('stop'));
    const err = await race.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).message).toBe('call y was aborted');
    expect((err as Error).cause).toEqual(new Error('stop'));
  });

  it('gives a scoped signal that aborts with a TimeoutError reason when the timeout passes', async () => {
    const d = Deadline.after(30);
    const seen = await d.withSignal(
      (signal) =>
        new Promise<unknown>((resolve) => signal?.addEventListener('abort', () => resolve(signal.reason))),
    );
    expect(seen).toBeInstanceOf(TimeoutError);
  });
});

describe('Deadline.within and DeadlineController', () => {
  it('an owner-aborted deadline fires its listeners once, with the reason as cause, and allocates no signal', () => {
    const owner = new DeadlineController();
    const d = owner.deadline;
    expect(d.bounded).toBe(true);
    expect(d.expired()).toBeUndefined();
    const fired: boolean[] = [];
    d.onExpire((aborted) => fired.push(aborted));
    owner.abort(new Error('every caller gave up'));
    owner.abort(new Error('again'));
    expect(fired).toEqual([true]);
    expect(d.expired()).toBe('aborted');
    const err = d.error('connect to x');
    expect(err).toBeInstanceOf(AbortedError);
    expect(err.message).toBe('connect to x was aborted');
    expect(err.cause).toEqual(new Error('every caller gave up'));
  });

  it('a TimeoutError reason stays a timeout', () => {
    const owner = new DeadlineController();
    owner.abort(new TimeoutError('bound passed'));
    expect(owner.deadline.error('dial')).toBeInstanceOf(TimeoutError);
  });

  it('within: passes with the parent, with the parent’s error, and stops watching it when unsubscribed', () => {
    const owner = new DeadlineController();
    const child = Deadline.within(owner.deadline, 10_000);
    const fired: boolean[] = [];
    const stop = child.onExpire((aborted) => fired.push(aborted));
    const other = child.onExpire((aborted) => fired.push(aborted));
    stop();
    owner.abort(new Error('gone'));
    expect(fired).toEqual([true]);
    expect(child.expired()).toBe('aborted');
    expect(child.error('handshake').message).toBe('handshake was aborted');
    expect(child.error('handshake').cause).toEqual(new Error('gone'));
    other();
    // a child whose listeners all left no longer listens to the parent
    const owner2 = new DeadlineController();
    const child2 = Deadline.within(owner2.deadline, 10_000);
    child2.onExpire(() => fired.push(false))();
    owner2.abort();
    expect(fired).toEqual([true]);
    expect(child2.expired()).toBe('aborted'); // still reports the parent's state when asked
  });

  it('within: its own timeout gives its own TimeoutError; an unbounded parent adds nothing', async () => {
    const owner = new DeadlineController();
    const child = Deadline.within(owner.deadline, 30);
    const err = await child.race(new Promise(() => {}), 'handshake with h').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('handshake with h timed out after 30 ms');
    owner.abort(); // after the child passed: nothing changes
    expect(child.error('x').message).toBe('x timed out after 30 ms');
    expect(Deadline.within(Deadline.NONE, 0)).toBe(Deadline.NONE);
  });

  it('a listener that unsubscribes another while the deadline fires does not make it skip one', () => {
    const owner = new DeadlineController();
    const d = owner.deadline;
    const fired: string[] = [];
    let stopB = (): void => {};
    d.onExpire(() => {
      fired.push('a');
      stopB();
    });
    stopB = d.onExpire(() => fired.push('b'));
    d.onExpire(() => fired.push('c'));
    owner.abort();
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('withSignal on a parent-aborted deadline aborts the signal with the owner’s reason', async () => {
    const owner = new DeadlineController();
    const child = Deadline.within(owner.deadline, 10_000);
    const seen = child.withSignal(
      (signal) =>
        new Promise<unknown>((resolve) => signal?.addEventListener('abort', () => resolve(signal.reason))),
    );
    owner.abort(new Error('left'));
    expect(await seen).toEqual(new Error('left'));
  });

  it('within(…, coarse): fires through the shared coarse timer (no Node timer per deadline), at most an eighth late, and not once unsubscribed', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const exact = Deadline.within(Deadline.NONE, 80);
    const stopExact = exact.onExpire(() => {});
    expect(timers()).toBe(before + 1); // a deadline of its own keeps a Node timer
    stopExact();
    expect(timers()).toBe(before);

    const start = performance.now();
    const d = Deadline.within(Deadline.NONE, 80, true);
    expect(d.bounded).toBe(true);
    const left = Deadline.within(Deadline.NONE, 80, true);
    const fired = new Promise<[boolean, number]>((resolve) =>
      d.onExpire((aborted) => resolve([aborted, performance.now() - start])),
    );
    let leftFired = false;
    left.onExpire(() => {
      leftFired = true;
    })();
    // shared and unref'd: nothing here keeps the process alive
    expect(timers()).toBe(before);
    const [aborted, after] = await fired;
    expect(aborted).toBe(false);
    expect(after).toBeGreaterThanOrEqual(79);
    expect(after).toBeLessThan(80 + 10 + 250); // an eighth late at most, plus a loaded machine's slack
    expect(d.expired()).toBe('timeout');
    expect(d.error('connecting').message).toBe('connecting timed out after 80 ms');
    await sleep(40);
    expect(leftFired).toBe(false);
    // one that passed before anyone waits fires at once, as any deadline
    const late = Deadline.within(Deadline.NONE, 1, true);
    await sleep(5);
    let now = false;
    late.onExpire(() => {
      now = true;
    });
    expect(now).toBe(true);
  });

  it('a listener joining an armed deadline reads no clock: it runs with the others when the timer fires', async () => {
    const d = Deadline.within(Deadline.NONE, 20, true);
    const fired: string[] = [];
    const first = new Promise<void>((resolve) =>
      d.onExpire(() => {
        fired.push('first');
        resolve();
      }),
    );
    const until = performance.now() + 25;
    while (performance.now() < until); // the time passes before the timer can run
    expect(d.expired()).toBe('timeout'); // exact, as always
    d.onExpire((aborted) => fired.push(aborted ? 'aborted' : 'second'));
    expect(fired).toEqual([]); // not now: with the timer
    await first;
    expect(fired).toEqual(['first', 'second']);
    // once fired, a new listener runs at once
    d.onExpire(() => fired.push('third'));
    expect(fired).toEqual(['first', 'second', 'third']);
  });

  it('within(…, coarse) inside a parent passes with the parent', () => {
    const owner = new DeadlineController();
    const child = Deadline.within(owner.deadline, 10_000, true);
    const fired: boolean[] = [];
    child.onExpire((aborted) => fired.push(aborted));
    owner.abort(new Error('gone'));
    expect(fired).toEqual([true]);
    expect(child.error('handshake').cause).toEqual(new Error('gone'));
  });
});
