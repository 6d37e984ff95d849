// What a user sees when a call fails, end to end over a loopback socket: custom error classes keep
// their name (and come back as the class when registered), values that cannot mean anything remotely
// are refused before they leave, and abort errors pass the usual `name === 'AbortError'` check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  ClassRegistry,
  CommunicationError,
  connect,
  Daemon,
  expose,
  NotExposedError,
  RemoteError,
  SerializeError,
  TimeoutError,
} from '../src/index.js';

class InsufficientFunds extends Error {
  override name = 'InsufficientFunds';
  constructor(
    message: string,
    readonly shortBy = 0,
  ) {
    super(message);
  }
}

class Account {
  calls = 0;
  withdraw(amount: number): number {
    throw new InsufficientFunds(`cannot withdraw ${amount}`, amount - 10);
  }
  echo(value: unknown): unknown {
    this.calls++;
    return value;
  }
  count(): number {
    return this.calls;
  }
  async slow(ms: number): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  }
}
expose(Account);

let daemon: Daemon;
let uri: string;
beforeAll(async () => {
  daemon = await Daemon.start();
  uri = daemon.register(new Account(), 'bank.account').toString();
});
afterAll(async () => {
  await daemon.close();
});

describe('custom error classes between Cinder peers', () => {
  it("arrive as a RemoteError whose remoteType is the class's name, with its attributes", async () => {
    await using account = connect<Account>(uri, { timeoutMs: 5000 });
    const err = await account.withdraw(25).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    const remote = err as RemoteError;
    expect(remote.remoteType).toBe('InsufficientFunds');
    expect(remote.message).toBe('InsufficientFunds: cannot withdraw 25');
    expect(remote.attributes.shortBy).toBe(15);
    expect(remote.remoteStack).toContain('InsufficientFunds: cannot withdraw 25');
  });

  it('come back as the class itself when the client registered it under its name', async () => {
    const registry = new ClassRegistry().register(InsufficientFunds, 'InsufficientFunds');
    await using account = connect<Account>(uri, { timeoutMs: 5000, registry });
    const err = await account.withdraw(30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientFunds);
    expect((err as InsufficientFunds).message).toBe('cannot withdraw 30');
    expect((err as InsufficientFunds).shortBy).toBe(20);
    expect((err as { remoteTraceback: string[] }).remoteTraceback.join('')).toContain('withdraw');
  });
});

describe("a failed call's stack", () => {
  async function placeOrder(account: { withdraw(n: number): Promise<number> }): Promise<number> {
    return await account.withdraw(5);
  }

  it("with callerStacks, shows the caller's line, not only Cinder's frames; the remote stack stays in remoteStack", async () => {
    await using account = connect<Account>(uri, { timeoutMs: 5000, config: { callerStacks: true } });
    const err = (await placeOrder(account).catch((e: unknown) => e)) as RemoteError;
    expect(err.stack).toMatch(/^RemoteError: InsufficientFunds: cannot withdraw 5\n/);
    expect(err.stack).toMatch(/\n {4}at (async )?placeOrder \(.*errors\.test\.ts:\d+:\d+\)/);
    expect(err.stack).not.toMatch(/decodeError|error-codec/);
    expect(err.remoteStack).toMatch(/at Account\.withdraw/);
  });

  it('without callerStacks (the default, free for successful calls), keeps the stack it was made with', async () => {
    await using account = connect<Account>(uri, { timeoutMs: 5000 });
    const err = (await placeOrder(account).catch((e: unknown) => e)) as RemoteError;
    expect(err.stack).toMatch(/^RemoteError: InsufficientFunds: cannot withdraw 5\n/);
    expect(err.stack).not.toMatch(/placeOrder/);
    expect(err.remoteStack).toMatch(/at Account\.withdraw/);
  });
});

describe('values that cannot mean anything remotely', () => {
  async function* gen() {
    yield 1;
  }
  function* syncGen() {
    yield 1;
  }
  const cases: [string, () => unknown, RegExp][] = [
    ['a Promise (a forgotten await)', () => Promise.resolve(1), /Promise.*await it first/],
    ['a Promise inside an object', () => ({ total: Promise.resolve(1) }), /forgotten `await`/],
    ['an async generator', () => gen(), /async iterator or async generator/],
    ['a generator', () => syncGen(), /iterator or generator.*array first/],
    ["a Map's entries() iterator", () => new Map([[1, 2]]).entries(), /iterator or generator/],
    ['a WeakMap', () => new WeakMap(), /cannot send a WeakMap/],
  ];

  it.each(cases)('%s is refused on the client with a clear SerializeError', async (_, make, message) => {
    await using account = connect<Account>(uri, { timeoutMs: 5000 });
    const before = await account.count();
    const err = await account.echo(make()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializeError);
    expect((err as Error).message).toMatch(message);
    // the call never reached the server, and the connection still works
    expect(await account.count()).toBe(before);
    expect(await account.echo([1, 'two'])).toEqual([1, 'two']);
  });
});

describe('local refusals and unknown objects', () => {
  it('an unexposed or private method is refused by the proxy as a NotExposedError, not a RemoteError', async () => {
    await using account = connect<Account & { transfer(): void }>(uri, { timeoutMs: 5000 });
    const before = await account.count();
    const refusals = [
      ['transfer', await account.transfer().catch((e: unknown) => e)],
      ['_secret', await account.$call('_secret').catch((e: unknown) => e)],
    ] as const;
    for (const [method, err] of refusals) {
      expect(err).toBeInstanceOf(NotExposedError);
      expect(err).not.toBeInstanceOf(RemoteError);
      expect((err as NotExposedError).code).toBe('NOT_EXPOSED');
      expect((err as Error).message).toBe(
        `remote object '${uri}' has no exposed attribute or method '${method}'`,
      );
    }
    expect(await account.count()).toBe(before); // nothing reached the server
  });

  it("an unknown object's error names the object", async () => {
    await using missing = connect<Account>(uri.replace('bank.account', 'bank.acount'), { timeoutMs: 5000 });
    const err = await missing.count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(/rejected: unknown object 'bank\.acount'$/);
  });
});

describe('abort errors', () => {
  it('AbortSignal.timeout() gives a TimeoutError (code TIMEOUT), before and after connecting', async () => {
    await using account = connect<Account>(uri, { timeoutMs: 5000 });
    const early = await account
      .$call('count', [], { signal: AbortSignal.timeout(0) })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 5));
    const expired = AbortSignal.timeout(1);
    await new Promise((r) => setTimeout(r, 20));
    const late = await account.$call('count', [], { signal: expired }).catch((e: unknown) => e);
    // a signal that fires while the call is in flight (the method takes longer than the signal)
    const slow = await account
      .$call('slow', [300], { signal: AbortSignal.timeout(20) })
      .catch((e: unknown) => e);
    for (const err of [early, late, slow]) {
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).code).toBe('TIMEOUT');
    }
  });

  it("satisfy err.name === 'AbortError' and are AbortedError with code ABORTED", async () => {
    await using account = connect<Account>(uri, { timeoutMs: 5000 });
    const controller = new AbortController();
    controller.abort();
    const err = await account.$call('count', [], { signal: controller.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).code).toBe('ABORTED');
  });
});
