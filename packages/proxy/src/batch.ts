// A proxy's batch (`proxy.$batch()`): calls queued locally (flat, see QueuedCalls), then sent as
// one `<batch>` INVOKE in Pyro's batch format by `$run`, `$results` or `$oneway`.
import type { CallOptions } from '@cinder/core';
import { ExceptionWrapper, QueuedCalls } from '@cinder/serializers';
import type { BatchControls, RemoteBatch } from './remote.js';

/** What sends a batch: the proxy it was made from. */
export interface BatchRunner {
  runBatch(calls: QueuedCalls, oneway: boolean, options?: CallOptions): Promise<unknown[] | undefined>;
}

/** The params of a `<batch>` INVOKE: none, its calls are the envelope's `batch`. */
export const NO_PARAMS: unknown[] = Object.freeze([]) as unknown as unknown[];

/** The results of `$run`: the list itself when no call raised, else the first call's exception. */
function checked(results: unknown[]): unknown[] {
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r instanceof ExceptionWrapper) throw r.exception;
  }
  return results;
}

export function makeBatch<T>(runner: BatchRunner): RemoteBatch<T> {
  let calls = new QueuedCalls();
  const queuers = new Map<string | symbol, (...args: unknown[]) => void>();
  const take = () => {
    const c = calls;
    calls = new QueuedCalls();
    return c;
  };
  const controls: BatchControls = {
    $queue(method, args = [], kwargs = null) {
      if (!Array.isArray(args)) throw new TypeError('$queue: args must be an array');
      calls.add(method, args, kwargs);
    },
    get $size() {
      return calls.length;
    },
    async $run(options) {
      return checked((await runner.runBatch(take(), false, options)) ?? []);
    },
    async *$results(options) {
      const results = (await runner.runBatch(take(), false, options)) ?? [];
      for (const r of results) {
        if (r instanceof ExceptionWrapper) throw r.exception;
        yield r;
      }
    },
    async $oneway(options) {
      await runner.runBatch(take(), true, options);
    },
  };
  return new Proxy(controls, {
    get(target, prop, receiver) {
      // the queuer of a method already used first: this trap runs once per queued call
      let queue = queuers.get(prop);
      if (queue !== undefined) return queue;
      if (typeof prop === 'symbol' || prop.startsWith('$') || prop === 'then')
        return Reflect.get(target, prop, receiver);
      queue = (...args: unknown[]) => {
        calls.add(prop, args, null);
      };
      queuers.set(prop, queue);
      return queue;
    },
  }) as unknown as RemoteBatch<T>;
}
