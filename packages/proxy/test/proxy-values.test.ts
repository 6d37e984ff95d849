// Proxies as values in calls, through the proxy's codec hooks: a proxy passed as an argument
// travels as Pyro's proxy dict, and a proxy dict in a result becomes a working proxy made with the
// receiving proxy's own options (here: its transport), Pyro5's and Pyro4's dict alike.
import { expose } from '@cinder/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, isProxy, type ProxyOptions } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Target {
  beta(): string {
    return 'beta';
  }
}

let server: EngineServer;
let over: ProxyOptions;

@expose
class Maker {
  /** Pyro5's proxy dict for object `b` of this server. */
  other(): Record<string, unknown> {
    return { __class__: 'Pyro5.client.Proxy', state: [server.uri('b'), [], ['beta'], [], 'hello', 'cbor'] };
  }

  /** Pyro4's proxy dict for object `b` of this server. */
  otherPyro4(): Record<string, unknown> {
    return {
      __class__: 'Pyro4.core.Proxy',
      state: [server.uri('b'), [], ['beta'], [], 0, null, 'hello', 0, 'cbor'],
    };
  }

  echo(value: unknown): unknown {
    return value;
  }
}

beforeAll(async () => {
  server = await startEngineServer({ a: new Maker(), b: new Target() });
  over = { transport: server.transport };
});

afterAll(async () => {
  await server?.close();
});

describe('proxies as values', () => {
  it('a proxy dict in a result becomes a proxy that calls over the receiving proxy’s transport', async () => {
    const maker = connect<Maker>(server.uri('a'), over);
    for (const made of [await maker.other(), await maker.otherPyro4()]) {
      expect(isProxy(made)).toBe(true);
      const other = made as unknown as ReturnType<typeof connect<Target>>;
      expect(String(other.$uri)).toBe(server.uri('b'));
      expect(other.$metadata?.methods).toEqual(['beta']);
      expect(await other.beta()).toBe('beta');
      await other.$release();
    }
    await maker.$release();
  });

  it('a proxy passed as an argument travels as a proxy dict and comes back as a proxy', async () => {
    const maker = connect<Maker>(server.uri('a'), over);
    const target = connect<Target>(server.uri('b'), over);
    await target.$bind();
    const back = (await maker.echo(target)) as unknown as ReturnType<typeof connect<Target>>;
    expect(isProxy(back)).toBe(true);
    expect(back).not.toBe(target);
    expect(String(back.$uri)).toBe(server.uri('b'));
    expect(await back.beta()).toBe('beta');
    await Promise.all([back.$release(), target.$release(), maker.$release()]);
  });
});
