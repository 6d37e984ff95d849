// node:async_hooks in the browser build: the store is visible during the synchronous part of
// run() only (browsers have no async context yet). The engine sets it around each incoming call
// (callbacks into the page), whose handler reads it synchronously if at all.
export class AsyncLocalStorage<T> {
  #store: T | undefined;

  getStore(): T | undefined {
    return this.#store;
  }

  run<R>(store: T, fn: (...args: unknown[]) => R, ...args: unknown[]): R {
    const previous = this.#store;
    this.#store = store;
    try {
      return fn(...args);
    } finally {
      this.#store = previous;
    }
  }
}
