// URIs, proxies and exceptions passed as values between Cinder and Python Pyro4, both ways: a Python
// client passing a Pyro proxy to its own callback object to a Cinder daemon that calls it, a Cinder
// daemon autoproxying a registered object to Python, and a Cinder proxy lending a registered object
// of its own daemon to a Python daemon that calls back.
import {
  connect,
  Daemon,
  expose,
  Flags,
  isProxy,
  MsgType,
  type ProxyOptions,
  type Remote,
  RemoteError,
  URI,
} from '@cinder/cinder';
import { decodeMessage, encodeMessage } from '@cinder/protocol';
import { proxyCore } from '@cinder/proxy/internal';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child, Hub } from './interop-objects.js';
import { describeWithPyro4, PythonRepl, type PythonServer, py, startPythonServer } from './interop-python.js';
import { RawConnection } from './interop-vectors.js';

// Pyro4's marshal serializer has no type hooks, so Pyro4 cannot autoproxy with it: marshal is left out.
const SERIALIZERS = ['serpent', 'json', 'msgpack'] as const;

describeWithPyro4('values between Cinder and Python Pyro4: a Python client and a Cinder daemon', () => {
  let daemon: Daemon;
  let python: PythonRepl;
  let hubUri: string;

  beforeAll(async () => {
    python = PythonRepl.start();
    daemon = await Daemon.start({ host: '127.0.0.1' });
    const child = new Child();
    daemon.register(child, 'test.child');
    hubUri = daemon.register(new Hub(child, []), 'test.hub').toString();
    await python.exec(
      [
        '@Pyro4.expose',
        'class Callback(object):',
        '    def __init__(self): self.calls = []',
        '    def hello(self, *args):',
        '        self.calls.append(args)',
        "        return 'python callback got %r' % (list(args),)",
        'callback = Callback()',
        'callback_daemon, (callback_uri,) = start_daemon(callback)',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await python?.close();
    await daemon?.close({ graceMs: 200 });
  });

  describe.each(SERIALIZERS)('with %s', (serializer) => {
    beforeAll(async () => {
      await python.exec(`hub = proxy(${py(hubUri)}, ${py(serializer)})\ncallback.calls.clear()`);
    });

    it('passes URIs both ways', async () => {
      expect(await python.repr("hub.describe(Pyro4.URI('PYRO:obj_1@example.org:5555'))")).toBe(
        "{'kind': 'URI', 'text': 'PYRO:obj_1@example.org:5555'}",
      );
      expect(await python.repr("hub.describe(Pyro4.URI('PYRO:obj@./u:/tmp/x.sock'))")).toBe(
        "{'kind': 'URI', 'text': 'PYRO:obj@./u:/tmp/x.sock'}",
      );
      expect(await python.repr("(lambda u: (type(u).__name__, str(u)))(hub.uri('PYRO:a@[::1]:7'))")).toBe(
        "('URI', 'PYRO:a@[::1]:7')",
      );
    });

    it('lets the Cinder daemon call back a Python object passed as an argument', async () => {
      // Pyro4 autoproxies the registered callback object: Cinder receives a proxy to Python's daemon
      expect(await python.repr("hub.callBack(callback, 'ping', 2)")).toBe(
        `'cinder got "python callback got [\\'ping\\', 2]"'`,
      );
      expect(await python.repr('callback.calls')).toBe("[('ping', 2)]");
      expect(await python.repr('hub.describe(callback)')).toMatch(
        /^\{'kind': 'proxy', 'text': 'PYRO:obj_[0-9a-f]+@127\.0\.0\.1:\d+'\}$/,
      );
    });

    it('hands out a registered Cinder object as a Pyro4 proxy (autoproxy)', async () => {
      await python.exec('c = hub.child()');
      expect(await python.repr('(type(c).__module__, type(c).__name__, str(c._pyroUri))')).toBe(
        `('Pyro4.core', 'Proxy', ${py(daemon.uriFor('test.child').toString()).replace(/"/g, "'")})`,
      );
      await python.exec(`c._pyroSerializer = ${py(serializer)}`);
      expect(await python.repr("c.hello('python')")).toBe("'child says hello to python'");
      // and back: Cinder receives a proxy to its own object
      expect(await python.repr('hub.describe(c)')).toBe(
        `{'kind': 'proxy', 'text': ${py(daemon.uriFor('test.child').toString()).replace(/"/g, "'")}}`,
      );
    });

    it('passes exceptions as values both ways', async () => {
      expect(await python.repr("hub.describe(ValueError('boom'))")).toBe(
        "{'kind': 'RemoteError', 'text': 'builtins.ValueError: boom'}",
      );
      expect(await python.repr('(lambda e: (type(e).__name__, e.args))(hub.errorValue())')).toBe(
        "('TypeError', ('an error as a value',))",
      );
    });
  });
});

/** The Python daemon's side of the values test (python/pyro4_server.py). */
interface PyThing {
  describe(value: unknown): { type: string; repr: string };
  call_back(callback: unknown, ...args: unknown[]): string;
  other(): Remote<{ who(): string }>;
  make_uri(text: string): URI;
  make_proxy(text: string): Remote<{ who(): string }>;
  exception_value(): Error;
}

@expose
class Listener {
  readonly heard: unknown[] = [];
  hello(what: unknown): string {
    this.heard.push(what);
    return `cinder listener heard ${JSON.stringify(what)}`;
  }
}

describeWithPyro4('values between Cinder and Python Pyro4: a Cinder proxy and a Python daemon', () => {
  let server: PythonServer;
  let local: Daemon;
  const listener = new Listener();

  beforeAll(async () => {
    server = await startPythonServer();
    local = await Daemon.start({ host: '127.0.0.1', protocols: [502, 48] });
    local.register(listener, 'test.listener');
  });

  afterAll(async () => {
    await local?.close({ graceMs: 200 });
    await stopAllChildren();
  });

  describe.each(SERIALIZERS)('with %s', (serializer) => {
    let p: Remote<PyThing>;
    const options = (): ProxyOptions => ({ protocol: 48, serializer, autoproxy: local, timeoutMs: 10_000 });

    beforeAll(() => {
      p = connect<PyThing>(server.uri, options());
    });

    afterAll(async () => {
      await p?.$release();
    });

    it('passes URIs both ways', async () => {
      expect(await p.describe(URI.parse('PYRO:obj_1@example.org:5555'))).toEqual({
        type: 'Pyro4.core.URI',
        repr: 'PYRO:obj_1@example.org:5555',
      });
      const uri = await p.make_uri('PYRONAME:some.name@ns.example.org:9090');
      expect(uri).toBeInstanceOf(URI);
      expect(uri.toString()).toBe('PYRONAME:some.name@ns.example.org:9090');
    });

    it('gets Pyro4 proxies as working Cinder proxies, and passes them back', async () => {
      const other = await p.other(); // autoproxy of a registered Python object
      expect(isProxy(other)).toBe(true);
      expect(proxyCore(other)?.uri.toString()).toBe(server.uriOf('test.other'));
      expect(await other.who()).toBe('other');
      const made = await p.make_proxy(server.uriOf('test.other'));
      expect(await made.who()).toBe('other');
      expect(await p.describe(other)).toEqual({ type: 'Pyro4.core.Proxy', repr: server.uriOf('test.other') });
      await other.$release();
      await made.$release();
    });

    it('lends a registered object of its own daemon, which the Python daemon calls back', async () => {
      listener.heard.length = 0;
      expect(await p.call_back(listener, 'hi')).toBe(`python got 'cinder listener heard "hi"'`);
      expect(listener.heard).toEqual(['hi']);
    });

    it('passes exceptions as values both ways', async () => {
      const sent = await p.describe(new RangeError('from JavaScript'));
      expect(sent.type).toBe('builtins.ValueError');
      expect(sent.repr).toBe("ValueError('from JavaScript')");
      const got = await p.exception_value();
      expect(got).toBeInstanceOf(RemoteError);
      expect((got as RemoteError).remoteType).toBe('builtins.KeyError');
      expect((got as RemoteError).args).toEqual(['as a value']);
    });
  });
});

describe('values with a Pyro5 client (raw protocol 502 json frames, as Pyro5 writes them)', () => {
  let daemon: Daemon;
  let conn: RawConnection;
  let seq = 0;

  /** Sends one frame (json payload) and returns the answer's type, flags and parsed payload. */
  async function exchange(
    type: number,
    payload: unknown,
  ): Promise<{ type: number; flags: number; value: any }> {
    const body = Buffer.from(JSON.stringify(payload).replace(/":/g, '": ').replace(/,"/g, ', "'));
    const frame = encodeMessage(
      { type, flags: 0, seq, serializerId: 3, correlationId: null, annotations: null, payload: body },
      { version: 502 },
    );
    conn.send(Buffer.concat(frame));
    const answer = await conn.next(5000);
    if (typeof answer === 'string') throw new Error(`the daemon ${answer}`);
    const message = decodeMessage(answer);
    return {
      type: message.type,
      flags: message.flags,
      value: JSON.parse(Buffer.from(message.payload).toString()),
    };
  }

  function invoke(method: string, params: unknown[]) {
    seq += 1;
    return exchange(MsgType.INVOKE, { object: 'test.hub', method, params, kwargs: {} });
  }

  beforeAll(async () => {
    daemon = await Daemon.start({ host: '127.0.0.1' });
    const child = new Child();
    daemon.register(child, 'test.child');
    daemon.register(new Hub(child, []), 'test.hub');
    conn = await RawConnection.open((daemon.endpoint as { port: number }).port);
    const ok = await exchange(MsgType.CONNECT, { handshake: 'hello', object: 'test.hub' });
    expect(ok.type).toBe(MsgType.CONNECTOK);
  });

  afterAll(async () => {
    conn?.close();
    await daemon?.close({ graceMs: 200 });
  });

  it('reads Pyro5.core.URI and Pyro5.client.Proxy dicts, and writes them', async () => {
    const uri = { __class__: 'Pyro5.core.URI', state: ['PYRO', 'obj_1', null, 'example.org', 5555] };
    expect((await invoke('describe', [uri])).value).toEqual({
      kind: 'URI',
      text: 'PYRO:obj_1@example.org:5555',
    });
    const childUri = daemon.uriFor('test.child').toString();
    const proxy = { __class__: 'Pyro5.client.Proxy', state: [childUri, [], ['hello'], [], 'hello', 'json'] };
    expect((await invoke('describe', [proxy])).value).toEqual({ kind: 'proxy', text: childUri });
    expect((await invoke('uri', ['PYRO:a@[::1]:7'])).value).toEqual({
      __class__: 'Pyro5.core.URI',
      state: ['PYRO', 'a', null, '::1', 7],
    });
    // autoproxy: the registered child travels as a Pyro5 proxy (state: uri, oneway, methods, attrs,
    // handshake, serializer)
    expect((await invoke('child', [])).value).toEqual({
      __class__: 'Pyro5.client.Proxy',
      state: [childUri, [], ['hello'], [], 'hello', null],
    });
  });

  it('passes exceptions as values in Pyro5 names', async () => {
    const sent = { __class__: 'builtins.KeyError', __exception__: true, args: ['k'], attributes: {} };
    expect((await invoke('describe', [sent])).value).toEqual({
      kind: 'RemoteError',
      text: 'builtins.KeyError: k',
    });
    const got = (await invoke('errorValue', [])).value;
    expect([got.__class__, got.__exception__, got.args]).toEqual([
      'builtins.TypeError',
      true,
      ['an error as a value'],
    ]);
    const naming = await invoke('naming', []);
    expect(naming.flags & Flags.EXCEPTION).toBe(Flags.EXCEPTION);
    expect([naming.value.__class__, naming.value.args]).toEqual([
      'Pyro5.errors.NamingError',
      ['no such name'],
    ]);
  });
});
