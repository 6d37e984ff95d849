// The table of objects one end lent its peer: ids per lent object, dispatch by id, and forgetting
// them all when the connection they were lent on is gone.
import { DaemonError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { CallbackTable } from '../src/callbacks.js';
import type { IncomingCall } from '../src/session-types.js';

const callOf = (id: string, params: unknown[] = []): IncomingCall =>
  ({ call: { object: id, method: '__call__', params, kwargs: {} } }) as unknown as IncomingCall;

describe('CallbackTable', () => {
  it('gives a lent function one id and serves calls to it', async () => {
    const table = new CallbackTable();
    const fn = (a: number) => a * 2;
    const ref = table.reference(fn);
    expect(ref).toMatchObject({ __class__: 'cinder.Callback', kind: 'function' });
    expect(table.reference(fn)).toEqual(ref);
    expect(table.dispatch(callOf(ref!.id as string, [21]))).toBe(42);
    expect(table.reference({ plain: true })).toBeUndefined();
  });

  it('after clear() (its connection is gone) the same function lent again is served under a new id', () => {
    const table = new CallbackTable();
    const fn = (a: number) => a + 1;
    const first = table.reference(fn)!.id as string;
    table.clear();
    expect(() => table.dispatch(callOf(first, [1]))).toThrow(DaemonError);
    const again = table.reference(fn)!.id as string;
    expect(table.dispatch(callOf(again, [1]))).toBe(2);
  });

  it('a table that lent nothing answers calls with unknown object', () => {
    expect(() => new CallbackTable().dispatch(callOf('cb.1'))).toThrow('unknown object');
  });
});
