import { describe, expect, it } from 'vitest';
import { AbortedError, sleep, TimeoutError, withDeadline } from '../src/index.js';

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
