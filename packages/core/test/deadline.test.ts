import { describe, expect, it } from 'vitest';
import { AbortedError, Deadline, sleep, TimeoutError, withDeadline } from '../src/index.js';

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
