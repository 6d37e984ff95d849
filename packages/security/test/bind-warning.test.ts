// When binding a daemon deserves a warning, and when it does not.
import { describe, expect, it } from 'vitest';
import { bindWarning, isLoopbackHost } from '../src/index.js';

const open = { tls: false, key: false };

describe('isLoopbackHost', () => {
  it('recognises loopback names and addresses in every spelling', () => {
    for (const host of [
      'localhost',
      'LOCALHOST',
      'db.localhost',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '',
      '10.0.0.1',
      '192.168.1.5',
      'fe80::1',
      '1::',
      'example.com',
      '128.0.0.1',
      'localhost.example.com',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('bindWarning', () => {
  it('warns for all interfaces and non-loopback addresses without TLS or a key', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '']) {
      expect(bindWarning(host, open), host).toMatch(
        /^listening on all network interfaces .* without TLS or a shared key/,
      );
    }
    expect(bindWarning('192.168.1.5', open)).toMatch(
      /^listening on 192\.168\.1\.5, which is not a loopback address/,
    );
    expect(bindWarning('myhost.example', open)).toMatch(/not a loopback address/);
  });

  it('stays quiet for loopback, Unix sockets, and when TLS or a key protects the daemon', () => {
    expect(bindWarning('127.0.0.1', open)).toBeNull();
    expect(bindWarning('localhost', open)).toBeNull();
    expect(bindWarning('::1', open)).toBeNull();
    expect(bindWarning('/run/cinder.sock', open)).toBeNull();
    expect(bindWarning('./u:/tmp/x.sock', open)).toBeNull();
    expect(bindWarning('0.0.0.0', { tls: false, key: true })).toBeNull();
    expect(bindWarning('0.0.0.0', { tls: true, key: false })).toBeNull();
    expect(bindWarning('0.0.0.0', { tls: true, key: false, clientCertificates: true })).toBeNull();
  });

  it('says that one-way TLS alone still lets anyone call', () => {
    expect(bindWarning('0.0.0.0', { tls: true, key: false, clientCertificates: false })).toMatch(
      /with TLS but neither client certificates nor a shared key/,
    );
    expect(bindWarning('0.0.0.0', { tls: true, key: true, clientCertificates: false })).toBeNull();
  });
});
