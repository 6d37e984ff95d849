// Pyro4's HMAC message authentication between Cinder and Python Pyro4 (protocol 48 only), both ways:
// the daemon's and the proxy's `hmacKey` option against Pyro4's `_pyroHmacKey`, the refusals for a
// missing or wrong key with Pyro4's texts, and callbacks in both directions under the key.
import { CommunicationError, connect, Daemon, expose, type Remote, SecurityError } from '@cinder/cinder';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child, Hub, Thing } from './interop-objects.js';
import { describeWithPyro4, PythonRepl, type PythonServer, py, startPythonServer } from './interop-python.js';

const KEY = 'secret';

describeWithPyro4('Pyro4 HMAC: Python clients of a Cinder daemon with a key', () => {
  let daemon: Daemon;
  let python: PythonRepl;
  let uri: string;
  let hubUri: string;

  beforeAll(async () => {
    python = PythonRepl.start();
    // a shared key serves Cinder's own scheme on 502; Pyro4's HMAC on 48 is asked for explicitly
    daemon = await Daemon.start({ host: '127.0.0.1', hmacKey: KEY, protocols: [502, 48] });
    uri = daemon.register(Thing, 'test.thing').toString();
    const child = new Child();
    daemon.register(child, 'test.child');
    hubUri = daemon.register(new Hub(child, []), 'test.hub').toString();
  });

  afterAll(async () => {
    await python?.close();
    await daemon?.close({ graceMs: 200 });
  });

  describe.each(['serpent', 'json', 'msgpack', 'marshal'])('with %s', (serializer) => {
    it('serves a client with the same key', async () => {
      expect(await python.repr(`proxy(${py(uri)}, ${py(serializer)}, hmac=${py(KEY)}).add(1, 2)`)).toBe('3');
      expect(await python.repr(`list(proxy(${py(uri)}, ${py(serializer)}, hmac=${py(KEY)}).gen(3))`)).toBe(
        '[1, 2, 3]',
      );
    });
  });

  it('refuses a client without a key, and one with another key, with Pyro4’s texts', async () => {
    const none = await python.raises(`proxy(${py(uri)}, 'serpent').add(1, 2)`);
    expect(none.type).toBe('Pyro4.errors.CommunicationError');
    expect(none.message).toMatch(/hmac key config not symmetric$/);
    const wrong = await python.raises(`proxy(${py(uri)}, 'serpent', hmac='wrong-key').add(1, 2)`);
    expect(wrong.type).toBe('Pyro4.errors.CommunicationError');
    expect(wrong.message).toMatch(/message hmac mismatch$/);
  });

  it('calls back a Python object under the key, and autoproxies its own objects', async () => {
    await python.exec(
      [
        '@Pyro4.expose',
        'class Callback(object):',
        "    def hello(self, *args): return 'keyed callback got %r' % (list(args),)",
        'keyed_callback = Callback()',
        `keyed_daemon, _ = start_daemon(keyed_callback, hmac=${py(KEY)})`,
        `hub = proxy(${py(hubUri)}, 'json', hmac=${py(KEY)})`,
      ].join('\n'),
    );
    // the proxy Cinder revives from the callback has no key of its own (Pyro4 never sends one): the
    // daemon's key is used for it
    expect(await python.repr("hub.callBack(keyed_callback, 'x')")).toBe(
      `'cinder got "keyed callback got [\\'x\\']"'`,
    );
    await python.exec(`c = hub.child()\nc._pyroHmacKey = ${py(KEY)}.encode()`);
    expect(await python.repr("c.hello('keyed')")).toBe("'child says hello to keyed'");
  });
});

interface PyThing {
  add(a: number, b: number): number;
  gen(n: number): Iterator<number>;
  call_back(callback: unknown, ...args: unknown[]): string;
}

@expose
class Listener {
  hello(what: unknown): string {
    return `keyed listener heard ${String(what)}`;
  }
}

describeWithPyro4('Pyro4 HMAC: a Cinder proxy calling a Python daemon with a key', () => {
  let server: PythonServer;
  let local: Daemon;
  const listener = new Listener();

  beforeAll(async () => {
    server = await startPythonServer(['--hmac-key', KEY]);
    local = await Daemon.start({ host: '127.0.0.1', hmacKey: KEY, protocols: [502, 48] });
    local.register(listener, 'test.listener');
  });

  afterAll(async () => {
    await local?.close({ graceMs: 200 });
    await stopAllChildren();
  });

  describe.each(['serpent', 'json', 'msgpack', 'marshal'])('with %s', (serializer) => {
    it('calls with the same key', async () => {
      await using p = connect<PyThing>(server.uri, { protocol: 48, serializer, hmacKey: KEY });
      expect(await p.add(1, 2)).toBe(3);
      const items: number[] = [];
      for await (const i of await p.gen(3)) items.push(i);
      expect(items).toEqual([1, 2, 3]);
    });
  });

  it('is refused without the key or with another key', async () => {
    await using none = connect<PyThing>(server.uri, { protocol: 48, serializer: 'serpent' });
    // a key problem is a SecurityError or, for a refusal the daemon sent, a CommunicationError
    const noKey = await none.$bind().catch((e: unknown) => e);
    expect(noKey instanceof SecurityError || noKey instanceof CommunicationError).toBe(true);
    expect(String(noKey)).toMatch(/hmac key config not symmetric/);
    await using wrong = connect<PyThing>(server.uri, {
      protocol: 48,
      serializer: 'serpent',
      hmacKey: 'wrong-key',
    });
    const wrongKey = await wrong.$bind().catch((e: unknown) => e);
    expect(wrongKey instanceof SecurityError || wrongKey instanceof CommunicationError).toBe(true);
    expect(String(wrongKey)).toMatch(/hmac mismatch|not symmetric/);
  });

  it('lends an object of its keyed daemon, which the Python daemon calls back under the key', async () => {
    await using p: Remote<PyThing> = connect<PyThing>(server.uri, {
      protocol: 48,
      serializer: 'serpent',
      hmacKey: KEY,
      autoproxy: local,
    });
    expect(await p.call_back(listener, 'hi')).toBe("python got 'keyed listener heard hi'");
  });
});
