// Turns `{ signal, timeoutMs }` into one rejection path, so every async API can promise that it
// never hangs and always says why it stopped.
import { AbortedError, TimeoutError } from './errors.js';
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
  const reason: unknown = signal.reason;
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
