// Hostile payloads against a daemon in its own process: prototype pollution through `__proto__` and
// `constructor` keys in every serializer (arguments, keyword arguments, revived classes, exception
// dicts), `__class__` dicts of classes nobody registered, dunder class names, and every way to name
// a member that must stay out of reach (private, dotted, unexposed, JavaScript's own). The daemon
// is inspected from the inside (`probe`, `inspect`, `log`) after each attack.
import {
  CommunicationError,
  connect,
  Daemon,
  expose,
  type Remote,
  type RemoteError,
  SecurityError,
} from '@cinder/cinder';
import type { Serializer } from '@cinder/serializers';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import {
  invokeMessage,
  json,
  type RawClient,
  rawCall,
  rawSession,
  type SecurityServer,
  serializers,
  startSecurityServer,
} from './security-helpers.js';

let server: SecurityServer;
let good: Remote<Target>;
let baseline: Record<string, unknown>;
let raw: RawClient;
let seq = 0;

beforeAll(async () => {
  server = await startSecurityServer();
  good = connect<Target>(server.uri);
  baseline = await good.probe();
  expect(baseline.emptyObjectSees).toBeNull();
  raw = await rawSession(server);
}, 30_000);

afterAll(async () => {
  raw?.destroy();
  await good?.$release();
  await stopAllChildren();
});

/** The daemon's prototypes are as they were, and a well-behaved client is served. */
async function unpolluted(): Promise<void> {
  expect(await good.probe()).toEqual(baseline);
  expect(await good.add(20, 22)).toBe(42);
}

/** Calls `method` on the raw session in `serializer` (its own connection per serializer). */
const sessions = new Map<string, RawClient>();
async function call(
  serializer: Serializer,
  method: string,
  params: unknown[],
  kwargs: Record<string, unknown> = {},
): Promise<{ value: unknown; exception: boolean }> {
  let session = serializer === json ? raw : sessions.get(serializer.name);
  if (!session) {
    session = await rawSession(server);
    sessions.set(serializer.name, session);
  }
  return rawCall(session, invokeMessage(serializer, method, params, { seq: ++seq, kwargs }), serializer);
}

afterAll(() => {
  for (const s of sessions.values()) s.destroy();
});

// Own `__proto__` keys, as a hostile peer's decoder-independent JSON would carry them.
const pollution = (): Record<string, unknown> =>
  JSON.parse(
    '{"__proto__": {"polluted": "yes", "isAdmin": true}, "constructor": {"prototype": {"polluted": "yes"}}, "nested": {"__proto__": {"isAdmin": true}}}',
  ) as Record<string, unknown>;

describe('prototype pollution', () => {
  for (const name of ['json', 'serpent', 'msgpack', 'cbor', 'marshal']) {
    it(`${name}: __proto__ and constructor keys stay plain keys; Object.prototype is untouched`, async () => {
      const s = serializers.byName(name)!;
      const payload = pollution();
      // the attack really is on the wire
      const encoded = Buffer.from(invokeMessage(s, 'inspect', [payload]).payload);
      expect(encoded.includes('__proto__')).toBe(true);

      const r = await call(s, 'inspect', [payload]);
      expect(r.exception).toBe(false);
      const seen = r.value as Record<string, unknown>;
      expect(seen.plainObject).toBe(true);
      expect(seen.ownKeys).toEqual(['__proto__', 'constructor', 'nested']);
      expect(seen.polluted).toBeNull();
      expect(seen.isAdmin).toBeNull();

      // the same through keyword arguments: **rest and the trailing kwargs object
      const kw = await call(s, 'collect', [1], pollution());
      expect(kw.exception).toBe(false);
      const rest = (kw.value as { rest: Record<string, unknown> }).rest;
      expect(rest.ownKeys).toEqual(['__proto__', 'constructor', 'nested']);
      expect(rest.isAdmin).toBeNull();
      const trailing = await call(s, 'inspect', [], pollution());
      expect(trailing.value).toMatchObject({ plainObject: true, polluted: null, isAdmin: null });
      await unpolluted();
    });
  }

  it('a registered class revived with a __proto__ key keeps its own prototype', async () => {
    const dict = JSON.parse(
      '{"__class__": "sec.Point", "__proto__": {"norm": "hijacked"}, "x": 3, "y": 4}',
    ) as Record<string, unknown>;
    const r = await call(json, 'norm', [dict]);
    expect(r).toEqual({ value: 5, exception: false });
    await unpolluted();
  });

  it('an exception dict with __proto__ in its attributes does not reach any prototype', async () => {
    const dict = JSON.parse(
      '{"__class__": "builtins.ValueError", "__exception__": true, "args": ["x"], "attributes": {"__proto__": {"polluted": "yes"}, "isAdmin": true}}',
    ) as Record<string, unknown>;
    const r = await call(json, 'inspect', [dict]);
    expect(r.exception).toBe(false);
    expect((r.value as Record<string, unknown>).polluted).toBeNull();
    await unpolluted();
  });
});

describe('__class__ payloads', () => {
  it('an unregistered class arrives as a plain dict, whatever it claims to be', async () => {
    for (const className of ['os.system', 'subprocess.Popen', 'builtins.eval', 'Function', 'Object']) {
      const r = await call(json, 'inspect', [{ __class__: className, args: ['rm -rf /'] }]);
      expect(r.exception).toBe(false);
      expect(r.value).toMatchObject({ plainObject: true, ownKeys: ['__class__', 'args'], isPoint: false });
    }
    await unpolluted();
  });

  it('the registered class, and only it, is re-created', async () => {
    expect(await call(json, 'norm', [{ __class__: 'sec.Point', x: 6, y: 8 }])).toEqual({
      value: 10,
      exception: false,
    });
    const other = await call(json, 'norm', [{ __class__: 'sec.Pointless', x: 6, y: 8 }]);
    expect(other.value).toBe('not a Point: [object Object]');
  });

  it('class names with double underscores are refused with a SecurityError reply, in every serializer', async () => {
    for (const name of ['json', 'serpent', 'msgpack', 'cbor', 'marshal']) {
      const s = serializers.byName(name)!;
      for (const className of ['__main__.X', 'builtins.__import__', 'a__b']) {
        const r = await call(s, 'inspect', [{ deep: [{ __class__: className }] }]);
        expect(r.exception).toBe(true);
        expect(r.value).toBeInstanceOf(SecurityError);
        expect((r.value as Error).message).toBe(
          `refused to deserialize types with double underscores in their name: ${className}`,
        );
      }
    }
    await unpolluted();
  });
});

describe('names out of reach', () => {
  const priv = (name: string) => `attempt to access private attribute '${name}'`;
  const unexposed = (name: string) => `attempt to access unexposed attribute '${name}'`;
  const refused: Array<[string, unknown[], string]> = [
    ['_private', [], priv('_private')],
    ['__private', [], priv('__private')],
    ['vault.open', [], "dotted names are not allowed: 'vault.open'"],
    ['unexposed', [], unexposed('unexposed')],
    ['vault', [], unexposed('vault')],
    // JavaScript's own members are on the deny list, whatever the object has
    ['constructor', [], priv('constructor')],
    ['__proto__', [], priv('__proto__')],
    ['toString', [], priv('toString')],
    ['hasOwnProperty', ['x'], priv('hasOwnProperty')],
    ['__defineGetter__', ['add', null], priv('__defineGetter__')],
    ['__lookupGetter__', ['add'], priv('__lookupGetter__')],
    ['then', [], priv('then')],
    ['__init__', [], priv('__init__')],
    ['__class__', [], "'Target' object has no attribute '__class__'"],
    ['__getattr__', ['vault'], unexposed('vault')],
    ['__getattr__', ['_private'], priv('_private')],
    ['__getattr__', ['constructor'], priv('constructor')],
    ['__setattr__', ['balance', 1_000_000], unexposed('balance')],
    ['__setattr__', ['__proto__', { polluted: 'yes' }], priv('__proto__')],
  ];

  it('every hidden name is an AttributeError reply; nothing runs, the connection stays usable', async () => {
    const before = await good.balance();
    for (const [method, params, text] of refused) {
      const r = await call(json, method, params);
      expect(r.exception, method).toBe(true);
      expect((r.value as RemoteError).remoteMessage, method).toBe(text);
      expect((r.value as RemoteError).remoteType, method).toBe('builtins.AttributeError');
    }
    const log = await good.log();
    expect(log).not.toContain('private ran');
    expect(log).not.toContain('unexposed ran');
    expect(await good.balance()).toBe(before);
    expect((await call(json, 'add', [1, 2])).value).toBe(3);
    await unpolluted();
  });

  it('the proxy refuses them too, without asking the daemon', async () => {
    const p = good as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await expect(p._private!()).rejects.toThrow(/no exposed attribute or method '_private'/);
    await expect(p.unexposed!()).rejects.toThrow(/no exposed attribute or method 'unexposed'/);
    await expect(good.$call('vault.open', [])).rejects.toThrow(/dotted|no exposed attribute/);
  });

  it('other objects stay unreachable: an unknown object id is refused', async () => {
    const r = await rawCall(raw, invokeMessage(json, 'add', [1, 2], { seq: ++seq, object: 'sec.other' }));
    expect(r.exception).toBe(true);
    expect((r.value as Error).message).toBe('unknown object');
  });
});

describe('serializer allow-list', () => {
  @expose
  class Echo {
    echo<T>(v: T): T {
      return v;
    }
  }

  it('config.serializersAccepted: refused serializers fail on CONNECT and on every INVOKE', async () => {
    await using d = await Daemon.start({ config: { serializersAccepted: ['json', 'serpent'] } });
    const uri = d.register(new Echo(), 'echo').toString();
    await using ok = connect<Echo>(uri, { serializer: 'json' });
    expect(await ok.echo('json is fine')).toBe('json is fine');
    for (const serializer of ['cbor', 'msgpack', 'marshal']) {
      await using refused = connect<Echo>(uri, { serializer });
      const err = await refused.echo(1).catch((e: unknown) => e as Error);
      expect(err, serializer).toBeInstanceOf(CommunicationError);
      expect((err as Error).message, serializer).toMatch(
        new RegExp(`rejected: message used serializer that is not accepted: ${serializer}$`),
      );
    }
    // Pyro4 peers get Pyro4's text (with Pyro4's serializer id)
    await using pyro4 = connect<Echo>(uri, { serializer: 'msgpack', protocol: 48 });
    await expect(pyro4.echo(1)).rejects.toThrow(/rejected: message used serializer that is not accepted: 6$/);
    // a CONNECT in json, then an INVOKE in msgpack: the daemon drops the connection, nothing runs
    const endpoint = d.endpoint as { host: string; port: number };
    const rawJson = await rawSession({ host: endpoint.host, port: endpoint.port }, 'echo');
    try {
      const msgpack = serializers.byName('msgpack')!;
      rawJson.send({ ...invokeMessage(msgpack, 'echo', ['sneaky'], { object: 'echo' }) });
      expect(await rawJson.closesWithin(2000)).toBe(true);
      expect(rawJson.received).toEqual([]);
    } finally {
      rawJson.destroy();
    }
    expect(await ok.echo('still')).toBe('still');
  });
});
