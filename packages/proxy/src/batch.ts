// A proxy's batch (`proxy.$batch()`): calls queued locally, then sent as one `<batch>` INVOKE in
// Pyro's batch format by `$run`, `$results` or `$oneway`.
import type { CallOptions } from '@cinder/core';
import { ExceptionWrapper, Tuple } from '@cinder/serializers';
import { EMPTY_KWARGS } from './proxy-setup.js';
import type { BatchControls, RemoteBatch } from './remote.js';

/** One queued call: method, positional arguments, keyword arguments. */
export type BatchCall = [string, unknown[], Record<string, unknown> | null];

/** What sends a batch: the proxy it was made from. */
export interface BatchRunner {
  runBatch(
    calls: readonly BatchCall[],
    oneway: boolean,
    options?: CallOptions,
  ): Promise<unknown[] | undefined>;
}

/** A queued batch call with `null` kwargs written as `{}`, as Pyro's batch format has them. */
function noNullKwargs(call: BatchCall): [string, unknown[], Record<string, unknown>] {
  if (call[2] === null) call[2] = EMPTY_KWARGS;
  return call as [string, unknown[], Record<string, unknown>];
}

/**
 * The params of a `<batch>` INVOKE: Pyro's list of (name, args, kwargs) tuples. Only serpent and
 * marshal tell tuples from lists; the other formats write both as arrays, so the queued entries go
 * out as they are.
 */
export function batchParams(serializerName: string, calls: readonly BatchCall[]): unknown[] {
  return serializerName === 'serpent' || serializerName === 'marshal'
    ? calls.map(([m, a, k]) => Tuple.of<unknown>(m, Tuple.fromArray(a), k ?? EMPTY_KWARGS))
    : calls.map(noNullKwargs);
}

export function makeBatch<T>(runner: BatchRunner): RemoteBatch<T> {
  let calls: BatchCall[] = [];
  const queuers = new Map<string, (...args: unknown[]) => void>();
  const take = () => {
    const c = calls;
    calls = [];
    return c;
  };
  const controls: BatchControls = {
    $queue(method, args = [], kwargs = null) {
      calls.push([method, args, kwargs]);
    },
    get $size() {
      return calls.length;
    },
    async $run(options) {
      const results = (await runner.runBatch(take(), false, options)) ?? [];
      const out: unknown[] = [];
      for (const r of results) {
        if (r instanceof ExceptionWrapper) throw r.exception;
        out.push(r);
      }
      return out;
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
      if (typeof prop === 'symbol' || prop.startsWith('$') || prop === 'then')
        return Reflect.get(target, prop, receiver);
      let queue = queuers.get(prop);
      if (queue === undefined) {
        queue = (...args: unknown[]) => {
          calls.push([prop, args, null]);
        };
        queuers.set(prop, queue);
      }
      return queue;
    },
  }) as unknown as RemoteBatch<T>;
}
