import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config-schema.js';
import {
  type CinderConfig,
  ConfigError,
  configFromEnvironment,
  configItems,
  defaultConfig,
  describeConfig,
  resolveConfig,
  serializerNames,
} from '../src/index.js';

const noEnv = { useEnvironment: false } as const;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('has the documented defaults', () => {
    const c = defaultConfig();
    expect(c.host).toBe('127.0.0.1');
    expect(c.nsHost).toBe('127.0.0.1');
    expect([c.nsPort, c.nsBcPort, c.nsBcHost]).toEqual([9090, 9091, null]);
    expect([c.nsAutocleanMs, c.nsLookupDelayMs, c.natHost, c.natPort]).toEqual([0, 0, null, 0]);
    expect([c.compression, c.commTimeoutMs, c.connectTimeoutMs, c.maxRetries]).toEqual([false, 0, 10000, 0]);
    expect([c.sockReuse, c.sockNodelay, c.keepAlive, c.detailedTraceback]).toEqual([true, true, true, false]);
    expect([c.preferIpVersion, c.serializer]).toEqual([0, 'cbor']);
    expect(c.serializersAccepted).toEqual(['cbor', 'json', 'msgpack', 'serpent', 'marshal']);
    expect([c.serpentBytesRepr, c.logWire, c.logLevel]).toEqual([false, false, 'silent']);
    expect([c.iterStreaming, c.iterStreamLifetimeMs, c.iterStreamLingerMs]).toEqual([true, 0, 30000]);
    expect([c.ssl, c.sslRequireClientCert, c.sslCaCerts, c.sslServerCert, c.sslClientKeyPasswd]).toEqual([
      false,
      false,
      '',
      '',
      '',
    ]);
    expect(c.hmacKey).toBeNull();
    expect(c.maxMessageSize).toBe(256 * 1024 * 1024);
    expect([c.maxDecodeItems, c.maxInflatedSize]).toEqual([250000, 16 * 1024 * 1024]);
    expect([c.maxConnections, c.maxConnectionsPerClient, c.handshakeTimeoutMs, c.idleTimeoutMs]).toEqual([
      4096, 512, 5000, 0,
    ]);
    expect([c.maxBatchSize, c.maxDepth, c.maxConcurrentCalls, c.multiplex, c.streamCredit]).toEqual([
      40000,
      100,
      256,
      true,
      64,
    ]);
    expect(c.broadcastAddrs).toEqual(['<broadcast>', '0.0.0.0']);
  });

  it('is what the schema produces from nothing', () => {
    expect(configSchema.parse({})).toEqual(defaultConfig());
    expect(resolveConfig(undefined, noEnv)).toBe(defaultConfig());
  });

  it('lists every item once, with env var, default and description', () => {
    const names = configItems.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(Object.keys(defaultConfig()).sort());
    for (const item of configItems) {
      expect(item.envVar).toMatch(/^CINDER_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(item.defaultValue).toEqual(defaultConfig()[item.name]);
      expect(item.description.length).toBeGreaterThan(10);
      expect(item.description).not.toContain('\n');
    }
    const byName = new Map(configItems.map((i) => [i.name, i]));
    expect(byName.get('nsBcPort')?.envVar).toBe('CINDER_NS_BC_PORT');
    expect(byName.get('iterStreamLifetimeMs')?.envVar).toBe('CINDER_ITER_STREAM_LIFETIME_MS');
    expect(byName.get('nsAutocleanMs')?.pyroItem).toBe('NS_AUTOCLEAN');
    expect(byName.get('multiplex')?.pyroItem).toBeNull();
  });
});

describe('environment coercion', () => {
  it('reads booleans the way Pyro does, case-insensitively', () => {
    for (const word of ['1', 'yes', 'on', 'true', 'TRUE', 'Yes', 'oN']) {
      expect(resolveConfig({}, { env: { CINDER_COMPRESSION: word } }).compression).toBe(true);
    }
    for (const word of ['0', 'no', 'off', 'false', 'FALSE', 'No', 'OFF']) {
      expect(resolveConfig({}, { env: { CINDER_SOCK_REUSE: word } }).sockReuse).toBe(false);
    }
  });

  it('refuses anything else as a boolean, naming the variable', () => {
    for (const word of ['', 'maybe', '2', ' true', 'y', 'truee']) {
      const err = configError(() => resolveConfig({}, { env: { CINDER_SSL: word } }));
      expect(err.message).toContain('CINDER_SSL (ssl)');
      expect(err.message).toContain('is not a boolean');
    }
  });

  it('parses numbers strictly', () => {
    expect(resolveConfig({}, { env: { CINDER_NS_PORT: '1234' } }).nsPort).toBe(1234);
    expect(resolveConfig({}, { env: { CINDER_PREFER_IP_VERSION: '6' } }).preferIpVersion).toBe(6);
    for (const text of [
      '',
      ' 5',
      '5 ',
      '+5',
      '0x10',
      '1e3',
      '5_0',
      '1.5',
      'abc',
      '٣',
      '99999999999999999999',
    ]) {
      const err = configError(() => resolveConfig({}, { env: { CINDER_NS_PORT: text } }));
      expect(err.message).toContain('CINDER_NS_PORT (nsPort)');
      expect(err.message).toContain('is not an integer');
    }
  });

  it('checks ranges after coercion, naming the variable', () => {
    const cases: [string, string, RegExp][] = [
      ['CINDER_NS_PORT', '65536', /<=65535/],
      ['CINDER_NS_PORT', '-1', />=0/],
      ['CINDER_PREFER_IP_VERSION', '5', /CINDER_PREFER_IP_VERSION/],
      ['CINDER_NS_AUTOCLEAN_MS', '2999', /must be 0 \(off\) or at least 3000 ms/],
      ['CINDER_MAX_DEPTH', '0', />=1/],
      ['CINDER_COMM_TIMEOUT_MS', String(2 ** 31), /<=2147483647/],
      ['CINDER_MAX_MESSAGE_SIZE', String(2 ** 32), /<=4294967295/],
    ];
    for (const [name, value, msg] of cases) {
      const err = configError(() => configFromEnvironment({ [name]: value }));
      expect(err.message).toContain(name);
      expect(err.message).toMatch(msg);
    }
    expect(configFromEnvironment({ CINDER_NS_AUTOCLEAN_MS: '3000' })).toEqual({ nsAutocleanMs: 3000 });
    expect(configFromEnvironment({ CINDER_NS_AUTOCLEAN_MS: '0' })).toEqual({ nsAutocleanMs: 0 });
  });

  it('validates enums', () => {
    expect(resolveConfig({}, { env: { CINDER_SERIALIZER: 'json' } }).serializer).toBe('json');
    expect(resolveConfig({}, { env: { CINDER_LOG_LEVEL: 'debug' } }).logLevel).toBe('debug');
    const err = configError(() => resolveConfig({}, { env: { CINDER_SERIALIZER: 'pickle' } }));
    expect(err.message).toContain('CINDER_SERIALIZER (serializer): "pickle"');
    expect(err.message).toContain('"cbor"|"json"');
    expect(configError(() => configFromEnvironment({ CINDER_LOG_LEVEL: 'DEBUG' })).message).toContain(
      'CINDER_LOG_LEVEL',
    );
  });

  it('splits lists on commas and trims the items', () => {
    expect(
      resolveConfig({}, { env: { CINDER_SERIALIZERS_ACCEPTED: ' json , serpent,msgpack ' } })
        .serializersAccepted,
    ).toEqual(['json', 'serpent', 'msgpack']);
    expect(resolveConfig({}, { env: { CINDER_BROADCAST_ADDRS: '10.0.0.255' } }).broadcastAddrs).toEqual([
      '10.0.0.255',
    ]);
    expect(resolveConfig({}, { env: { CINDER_BROADCAST_ADDRS: '  ' } }).broadcastAddrs).toEqual([]);
    const err = configError(() => configFromEnvironment({ CINDER_SERIALIZERS_ACCEPTED: 'json, foo' }));
    expect(err.message).toContain('CINDER_SERIALIZERS_ACCEPTED');
    expect(err.message).toContain('element 1');
    expect(configError(() => configFromEnvironment({ CINDER_SERIALIZERS_ACCEPTED: '' })).message).toMatch(
      /CINDER_SERIALIZERS_ACCEPTED.*>=1/,
    );
    expect(configError(() => configFromEnvironment({ CINDER_BROADCAST_ADDRS: 'a,,b' })).message).toContain(
      'element 1',
    );
  });

  it('gives nullable and string items the raw text', () => {
    const c = resolveConfig({}, { env: { CINDER_NAT_HOST: 'gw.example.com', CINDER_HMAC_KEY: ' se cret ' } });
    expect([c.natHost, c.hmacKey]).toEqual(['gw.example.com', ' se cret ']);
    expect(resolveConfig({}, { env: { CINDER_SSL_CA_CERTS: '/etc/ca.pem' } }).sslCaCerts).toBe('/etc/ca.pem');
    expect(resolveConfig({}, { env: { CINDER_SSL_CA_CERTS: '' } }).sslCaCerts).toBe('');
    expect(configError(() => configFromEnvironment({ CINDER_HOST: '' })).message).toContain('CINDER_HOST');
  });

  it('refuses unknown CINDER_ variables and lists the valid names', () => {
    const err = configError(() =>
      resolveConfig({}, { env: { CINDER_ONEWAY_THREADED: 'true', CINDER_BOGUS: 'x', CINDER_NS_PORT: '1' } }),
    );
    expect(err.message).toContain(
      'unknown configuration environment variables CINDER_BOGUS, CINDER_ONEWAY_THREADED',
    );
    for (const item of configItems) expect(err.message).toContain(item.envVar);
    expect(configError(() => configFromEnvironment({ CINDER_X: '1' })).message).toMatch(/variable CINDER_X;/);
  });

  it('ignores other variables and undefined values', () => {
    expect(
      configFromEnvironment({
        PATH: '/bin',
        PYRO_NS_PORT: '1',
        cinder_ns_port: '2',
        CINDER_NS_PORT: undefined,
      }),
    ).toEqual({});
    expect(Object.isFrozen(configFromEnvironment({ CINDER_NS_PORT: '5' }))).toBe(true);
  });

  it('reads process.env by default', () => {
    const saved = process.env.CINDER_NS_PORT;
    process.env.CINDER_NS_PORT = '4321';
    try {
      expect(resolveConfig().nsPort).toBe(4321);
      expect(resolveConfig({}, noEnv).nsPort).toBe(9090);
    } finally {
      if (saved === undefined) delete process.env.CINDER_NS_PORT;
      else process.env.CINDER_NS_PORT = saved;
    }
  });

  it('ignores the environment entirely with useEnvironment: false', () => {
    const env = { CINDER_NS_PORT: '1', CINDER_BOGUS: 'x' };
    expect(resolveConfig({}, { env, useEnvironment: false })).toBe(defaultConfig());
    expect(resolveConfig({ nsPort: 2 }, { env, useEnvironment: false }).nsPort).toBe(2);
  });
});

describe('explicit input', () => {
  it('takes precedence over the environment, which takes precedence over defaults', () => {
    const env = { CINDER_NS_PORT: '1111', CINDER_NS_HOST: 'envhost' };
    const c = resolveConfig({ nsPort: 2222, compression: true }, { env });
    expect([c.nsPort, c.nsHost, c.compression, c.host]).toEqual([2222, 'envhost', true, '127.0.0.1']);
  });

  it('treats undefined values as not given', () => {
    const c = resolveConfig({ nsPort: undefined } as unknown as Partial<CinderConfig>, {
      env: { CINDER_NS_PORT: '1111' },
    });
    expect(c.nsPort).toBe(1111);
  });

  it('reports every invalid item, naming item and variable', () => {
    const err = configError(() =>
      resolveConfig(
        { nsPort: 70000, serializer: 'pickle', bogus: 1, maxDepth: 1.5 } as unknown as Partial<CinderConfig>,
        noEnv,
      ),
    );
    expect(err.message).toContain('nsPort (CINDER_NS_PORT) = 70000');
    expect(err.message).toContain('serializer (CINDER_SERIALIZER) = "pickle"');
    expect(err.message).toContain('maxDepth (CINDER_MAX_DEPTH) = 1.5');
    expect(err.message).toMatch(/unknown item "bogus" \(valid: host, nsHost,/);
  });

  it('never crashes on odd values', () => {
    const odd: unknown[] = [
      10n,
      Symbol('s'),
      { a: 1 },
      Number.NaN,
      Number.POSITIVE_INFINITY,
      'x'.repeat(10_000),
    ];
    for (const value of odd) {
      const err = configError(() =>
        resolveConfig({ nsPort: value } as unknown as Partial<CinderConfig>, noEnv),
      );
      expect(err.message).toContain('nsPort (CINDER_NS_PORT)');
      expect(err.message.length).toBeLessThan(400);
    }
    expect(configError(() => resolveConfig(null as unknown as CinderConfig, noEnv)).message).toContain(
      'got null',
    );
    expect(configError(() => resolveConfig([] as unknown as CinderConfig, noEnv)).message).toContain(
      'expected an object',
    );
    expect(configError(() => resolveConfig(5 as unknown as CinderConfig, noEnv)).message).toContain(
      'got number',
    );
  });

  it('agrees with configSchema on arbitrary input', () => {
    const value = fc.oneof(
      fc.integer({ min: -10, max: 70000 }),
      fc.constantFrom(0, 4, 6, 3000, 2 ** 31, 1.5, '', 'json', 'debug', 'x', null, true, false),
      fc.constantFrom(['json'], [], ['x'], ['a', 'b']),
    );
    const input = fc.dictionary(fc.constantFrom(...configItems.map((i) => i.name)), value, { maxKeys: 4 });
    fc.assert(
      fc.property(input, (partial) => {
        const expected = configSchema.safeParse(partial);
        let actual: CinderConfig | undefined;
        try {
          actual = resolveConfig(partial as Partial<CinderConfig>, noEnv);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
        expect(actual !== undefined).toBe(expected.success);
        if (expected.success) expect(actual).toEqual(expected.data);
      }),
      { numRuns: 400 },
    );
  });
});

describe('immutability', () => {
  it('freezes resolved configs and their lists', () => {
    const list = ['json'] as ('json' | 'cbor')[];
    const c = resolveConfig({ serializersAccepted: list }, noEnv);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.serializersAccepted)).toBe(true);
    expect(Object.isFrozen(defaultConfig().broadcastAddrs)).toBe(true);
    expect(() => {
      (c as { nsPort: number }).nsPort = 1;
    }).toThrow(TypeError);
    // The caller's array is copied, not frozen in place or shared.
    expect(Object.isFrozen(list)).toBe(false);
    list.push('cbor');
    expect(c.serializersAccepted).toEqual(['json']);
  });

  it('passes an already resolved config through unchanged', () => {
    const c = resolveConfig({ nsPort: 1 }, noEnv);
    expect(resolveConfig(c, { env: { CINDER_NS_PORT: '2' } })).toBe(c);
    // A copy is ordinary input again: validated and merged over the environment.
    const copy = { ...c };
    expect(resolveConfig(copy, { env: { CINDER_NS_PORT: '2' } }).nsPort).toBe(1);
    expect(resolveConfig(copy, noEnv)).not.toBe(c);
    expect(resolveConfig(copy, noEnv)).toEqual(c);
  });

  it('keeps the readonly type', () => {
    const c = defaultConfig();
    // @ts-expect-error resolved configs are read-only
    expect(() => (c.nsPort = 5)).toThrow(TypeError);
    // @ts-expect-error lists are read-only too
    expect(() => c.serializersAccepted.push('json')).toThrow(TypeError);
    const name: (typeof serializerNames)[number] = c.serializer;
    expect(serializerNames).toContain(name);
  });
});

describe('describeConfig', () => {
  it('prints every item, marks changes and masks secrets', () => {
    const c = resolveConfig({ nsPort: 1234, hmacKey: 'topsecret', sslClientKeyPasswd: 'pw' }, noEnv);
    const text = describeConfig(c);
    const lines = text.split('\n');
    expect(lines).toHaveLength(configItems.length + 1);
    for (const item of configItems) expect(text).toMatch(new RegExp(`^[ *] ${item.name} +=`, 'm'));
    expect(text).toMatch(/^\* nsPort += 1234$/m);
    expect(text).toMatch(/^ {2}nsHost += "127\.0\.0\.1"$/m);
    expect(text).toMatch(/^\* hmacKey += <secret>$/m);
    expect(text).toMatch(/^\* sslClientKeyPasswd += <secret>$/m);
    expect(text).toMatch(/^ {2}sslServerKeyPasswd += ""$/m);
    expect(text).toMatch(/^ {2}broadcastAddrs += \["<broadcast>","0\.0\.0\.0"\]$/m);
    expect(text).not.toContain('topsecret');
    const list = describeConfig(resolveConfig({ serializersAccepted: ['json'] }, noEnv));
    expect(list).toMatch(/^\* serializersAccepted += \["json"\]$/m);
    expect(describeConfig(defaultConfig())).not.toMatch(/^\*/m);
  });
});
