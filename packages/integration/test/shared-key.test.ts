// Shared-key authentication between a Cinder daemon and Cinder proxies, in-process on loopback:
// the right key works, every wrong configuration is refused with a clear SecurityError, and the
// daemon keeps serving well-behaved clients afterwards.
import { connect, Daemon, expose, SecurityError } from '@cinder/cinder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

@expose
class Echo {
  echo(v: unknown): unknown {
    return v;
  }
}

describe('shared-key authentication', () => {
  let keyed: Daemon;
  let open: Daemon;
  let keyedUri: string;
  let openUri: string;

  beforeAll(async () => {
    keyed = await Daemon.start({
      hmacKey: 'a shared secret of some length',
      config: { handshakeTimeoutMs: 2000 },
    });
    keyedUri = keyed.register(new Echo(), 'echo').toString();
    open = await Daemon.start();
    openUri = open.register(new Echo(), 'echo').toString();
  });

  afterAll(async () => {
    await keyed?.close();
    await open?.close();
  });

  it('lets a client with the right key call, with every message authenticated', async () => {
    await using p = connect<Echo>(keyedUri, { hmacKey: 'a shared secret of some length' });
    expect(await p.echo('hi')).toBe('hi');
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => p.echo(i)));
    expect(many[199]).toBe(199);
  });

  it('refuses a wrong key with nothing but "authentication failed"', async () => {
    await using p = connect<Echo>(keyedUri, { hmacKey: 'another secret of some length' });
    const err = (await p.echo(1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/rejected: authentication failed$/);
  });

  it('refuses a client without a key', async () => {
    await using p = connect<Echo>(keyedUri);
    const err = (await p.echo(1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/this daemon requires a shared key/);
  });

  it('reports a key on the client side only as an asymmetric configuration', async () => {
    await using p = connect<Echo>(openUri, { hmacKey: 'a shared secret of some length' });
    const err = (await p.echo(1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/not symmetric/);
  });

  it('still serves well-behaved clients after the refusals', async () => {
    await using p = connect<Echo>(keyedUri, { hmacKey: 'a shared secret of some length' });
    expect(await p.echo('still here')).toBe('still here');
  });
});
