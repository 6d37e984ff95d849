// Type-level tests of Remote<T>: `tsc` (the typecheck task) fails if the mapping regresses; the
// runtime part checks that the proxy object itself is not thenable and answers controls locally.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { connect } from '../src/connect.js';
import type { Remote, RemoteBatch, RemoteStream } from '../src/remote.js';

class Service {
  count = 0;
  add(a: number, b: number): number {
    return a + b;
  }
  async fetch(id: string): Promise<{ id: string; n: number }> {
    return { id, n: 1 };
  }
  *items(n: number): Generator<number> {
    yield n;
  }
  async *events(): AsyncGenerator<string> {
    yield 'e';
  }
  list(): number[] {
    return [1];
  }
  _internal(): void {}
  get label(): string {
    return 'x';
  }
}

describe('Remote<T> typings', () => {
  it('maps methods to promise-returning methods and hides private names', () => {
    type R = Remote<Service>;
    expectTypeOf<R['add']>().toEqualTypeOf<(a: number, b: number) => Promise<number>>();
    expectTypeOf<R['fetch']>().toEqualTypeOf<(id: string) => Promise<{ id: string; n: number }>>();
    expectTypeOf<R['items']>().toEqualTypeOf<(n: number) => Promise<RemoteStream<number>>>();
    expectTypeOf<R['events']>().toEqualTypeOf<() => Promise<RemoteStream<string>>>();
    expectTypeOf<R['list']>().toEqualTypeOf<() => Promise<number[]>>();
    expectTypeOf<R['label']>().toEqualTypeOf<Promise<string>>();
    expectTypeOf<R['count']>().toEqualTypeOf<Promise<number>>();
    // @ts-expect-error private names are not part of the remote interface
    type _P = R['_internal'];
    // @ts-expect-error arguments keep their types
    const _bad: Parameters<R['add']> = ['1', 2];
    expectTypeOf<R['$bind']>().toEqualTypeOf<
      (options?: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined }) => Promise<void>
    >();
    type B = RemoteBatch<Service>;
    expectTypeOf<B['add']>().toEqualTypeOf<(a: number, b: number) => void>();
    expectTypeOf<ReturnType<B['$run']>>().toEqualTypeOf<Promise<unknown[]>>();
  });

  it('a proxy is never mistaken for a promise and prints its URI', async () => {
    const p = connect<Service>('PYRO:obj@127.0.0.1:1');
    expect((p as unknown as { then?: unknown }).then).toBeUndefined();
    expect(String(p)).toBe('<cinder.Proxy at PYRO:obj@127.0.0.1:1>');
    expect(JSON.stringify({ p })).toBe('{"p":"PYRO:obj@127.0.0.1:1"}');
    expect(p.$uri.toString()).toBe('PYRO:obj@127.0.0.1:1');
    expect(p.$connected).toBe(false);
    // a resolved promise of the proxy is the proxy itself (no thenable unwrapping)
    expect(await Promise.resolve(p)).toBe(p);
    expect(() => {
      (p as unknown as Record<string, unknown>).label = 'y';
    }).toThrow(/\$set/);
    expect(typeof p.add).toBe('function');
    expect(p.add).toBe(p.add);
  });
});
