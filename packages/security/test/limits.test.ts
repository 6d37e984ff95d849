// The limits table against the configuration schema, and the connection limiter, including on a
// real TCP listener on 127.0.0.1.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ConfigError, configItems, defaultConfig, SecurityError } from '@cinder/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionLimitError,
  ConnectionLimiter,
  clientAddressKey,
  clientHostKey,
  type LimitName,
  limitsFromConfig,
  securityLimits,
} from '../src/index.js';

const names: LimitName[] = [
  'maxMessageSize',
  'maxConnections',
  'maxConnectionsPerClient',
  'maxHalfOpenConnections',
  'handshakeTimeoutMs',
  'maxBatchSize',
  'maxDepth',
  'maxDecodeItems',
  'maxInflatedSize',
  'maxConcurrentCalls',
  'maxBufferedOutput',
  'drainTimeoutMs',
  'idleTimeoutMs',
];

describe('securityLimits', () => {
  it('documents every limit with the default of the configuration schema', () => {
    expect(Object.keys(securityLimits).sort()).toEqual([...names].sort());
    const defaults = defaultConfig();
    for (const name of names) {
      const spec = securityLimits[name];
      expect(spec.name).toBe(name);
      expect(spec.default, name).toBe(defaults[name]);
      expect(configItems.some((item) => item.name === name)).toBe(true);
      expect(spec.onExceeded.length).toBeGreaterThan(10);
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });

  it('resolves the effective limits from a configuration', () => {
    expect(limitsFromConfig()).toEqual(Object.fromEntries(names.map((n) => [n, securityLimits[n].default])));
    const limits = limitsFromConfig({ maxConnections: 10, idleTimeoutMs: undefined });
    expect(limits.maxConnections).toBe(10);
    expect(limits.idleTimeoutMs).toBe(defaultConfig().idleTimeoutMs);
    expect(Object.isFrozen(limits)).toBe(true);
    expect(limitsFromConfig(defaultConfig())).toEqual(limitsFromConfig());
  });
});

describe('clientHostKey', () => {
  it('keys an IP address as clientAddressKey keys it with a port, and nothing else', () => {
    const pairs: Array<[string, string]> = [
      ['127.0.0.1', '127.0.0.1:5555'],
      ['::1', '[::1]:5555'],
      ['::ffff:10.1.2.3', '[::ffff:10.1.2.3]:80'],
      ['FE80::1%eth0', '[FE80::1%eth0]:80'],
      ['10.0.0.7', '10.0.0.7:1'],
      ['10.0.0.7', '10.0.0.7:2'],
      ['::ffff:10.1.2.3', '[::ffff:10.1.2.3]:81'],
    ];
    for (const [host, withPort] of pairs) {
      expect(clientHostKey(host), host).toBe(clientAddressKey(withPort));
      expect(clientHostKey(host), host).not.toBeNull();
    }
    expect(clientHostKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    for (const junk of ['', 'host', '/tmp/cinder.sock', '1.2.3.4:80', '[::1]']) {
      expect(clientHostKey(junk), junk).toBeNull();
    }
  });
});

describe('clientAddressKey', () => {
  it('extracts the client address and folds IPv4-mapped IPv6', () => {
    expect(clientAddressKey('127.0.0.1:5555')).toBe('127.0.0.1');
    expect(clientAddressKey('[::1]:5555')).toBe('::1');
    expect(clientAddressKey('[::ffff:10.1.2.3]:80')).toBe('10.1.2.3');
    expect(clientAddressKey('[FE80::1%eth0]:80')).toBe('fe80::1%eth0');
    expect(clientAddressKey('10.0.0.7')).toBe('10.0.0.7');
    expect(clientAddressKey('::1')).toBe('::1');
  });

  it('has no client key for Unix sockets or junk', () => {
    for (const address of ['/tmp/cinder.sock', '\0abstract', '', 'host:99', '[nope]:1', '[::1']) {
      expect(clientAddressKey(address), address).toBeNull();
    }
  });
  it('keys each address by itself when addresses alternate (the last key is reused only for the same host)', () => {
    const seq: Array<[string, string | null]> = [
      ['10.0.0.1:1', '10.0.0.1'],
      ['10.0.0.1:2', '10.0.0.1'],
      ['[::ffff:10.0.0.2]:3', '10.0.0.2'],
      ['10.0.0.1:4', '10.0.0.1'],
      ['/tmp/x.sock', null],
      ['/tmp/x.sock', null],
      ['[FE80::1%eth0]:5', 'fe80::1%eth0'],
      ['[fe80::1%eth0]:6', 'fe80::1%eth0'],
      ['10.0.0.2:7', '10.0.0.2'],
      ['', null],
      ['10.0.0.1:8', '10.0.0.1'],
    ];
    for (const [address, key] of seq) expect(clientAddressKey(address), address).toBe(key);
  });
});

describe('ConnectionLimiter', () => {
  it('limits per client address and in total, and frees slots on release', () => {
    const limiter = new ConnectionLimiter({ maxConnections: 4, maxConnectionsPerClient: 2 });
    const a1 = limiter.tryAcquire('10.0.0.1:1000');
    const a2 = limiter.tryAcquire('[::ffff:10.0.0.1]:1001');
    const a3 = limiter.tryAcquire('10.0.0.1:1002');
    expect(typeof a1).toBe('function');
    expect(typeof a2).toBe('function');
    expect(a3).toBeInstanceOf(ConnectionLimitError);
    expect(a3).toBeInstanceOf(SecurityError);
    expect((a3 as ConnectionLimitError).limit).toBe('maxConnectionsPerClient');
    expect((a3 as ConnectionLimitError).message).toMatch(
      /2 connections open from 10\.0\.0\.1 \(maxConnectionsPerClient=2\)/,
    );
    expect(limiter.activeFor('10.0.0.1:9')).toBe(2);

    const b1 = limiter.tryAcquire('10.0.0.2:1');
    const u1 = limiter.tryAcquire('/tmp/sock');
    expect(limiter.active).toBe(4);
    const full = limiter.tryAcquire('10.0.0.3:1');
    expect(full).toBeInstanceOf(ConnectionLimitError);
    expect((full as ConnectionLimitError).limit).toBe('maxConnections');
    expect((full as ConnectionLimitError).max).toBe(4);
    expect((full as ConnectionLimitError).code).toBe('SECURITY');

    (a1 as () => void)();
    (a1 as () => void)(); // twice: no double count
    expect(limiter.active).toBe(3);
    expect(limiter.activeFor('10.0.0.1:1')).toBe(1);
    expect(typeof limiter.tryAcquire('10.0.0.1:3')).toBe('function');
    for (const r of [a2, b1, u1]) (r as () => void)();
    expect(limiter.activeFor('10.0.0.2:1')).toBe(0);
  });

  it('does not grow with the number of distinct clients seen', () => {
    const limiter = new ConnectionLimiter({
      maxConnections: Number.POSITIVE_INFINITY,
      maxConnectionsPerClient: 1,
    });
    for (let i = 0; i < 10_000; i++) {
      const release = limiter.tryAcquire(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1`);
      (release as () => void)();
    }
    expect(limiter.active).toBe(0);
    // Only observable through behaviour: a released client can connect again at its full quota.
    expect(typeof limiter.tryAcquire('10.0.0.0:1')).toBe('function');
  });

  it('refuses invalid limits', () => {
    expect(() => new ConnectionLimiter({ maxConnections: 0, maxConnectionsPerClient: 1 })).toThrow(
      ConfigError,
    );
    expect(() => new ConnectionLimiter({ maxConnections: 1, maxConnectionsPerClient: 1.5 })).toThrow(
      /positive integer/,
    );
  });

  describe('on a real listener', () => {
    let server: Server | undefined;
    const sockets: Socket[] = [];
    afterEach(async () => {
      for (const s of sockets) s.destroy();
      sockets.length = 0;
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      server = undefined;
    });

    it('closes connections beyond maxConnectionsPerClient at once and accepts again after a close', async () => {
      const limiter = new ConnectionLimiter({ maxConnections: 100, maxConnectionsPerClient: 2 });
      const refused: ConnectionLimitError[] = [];
      server = createServer((socket) => {
        const slot = limiter.tryAcquire(`${socket.remoteAddress}:${socket.remotePort}`);
        if (slot instanceof ConnectionLimitError) {
          refused.push(slot);
          socket.destroy();
          return;
        }
        socket.on('close', slot);
        socket.write('welcome');
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      // Resolves with what the server said before closing, or '' if it closed without a word.
      const dial = () =>
        new Promise<{ socket: Socket; first: string }>((resolve, reject) => {
          const socket = createConnection({ host: '127.0.0.1', port });
          sockets.push(socket);
          const timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3000);
          socket.once('data', (d) => {
            clearTimeout(timer);
            resolve({ socket, first: String(d) });
          });
          socket.once('close', () => {
            clearTimeout(timer);
            resolve({ socket, first: '' });
          });
          socket.on('error', () => {});
        });
      const c1 = await dial();
      const c2 = await dial();
      const c3 = await dial();
      expect([c1.first, c2.first, c3.first]).toEqual(['welcome', 'welcome', '']);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.message).toMatch(/from 127\.0\.0\.1 \(maxConnectionsPerClient=2\)/);
      const closed = new Promise((resolve) => c1.socket.once('close', resolve));
      c1.socket.destroy();
      await closed;
      // The server sees the close asynchronously; poll briefly for the slot to come back.
      for (let i = 0; i < 50 && limiter.activeFor('127.0.0.1:0') > 1; i++)
        await new Promise((r) => setTimeout(r, 10));
      const c4 = await dial();
      expect(c4.first).toBe('welcome');
    });
  });
});
