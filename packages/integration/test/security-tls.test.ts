// TLS attacks and checks: one-way and mutual TLS against daemons in their own processes, clients
// without a certificate or with one from another CA, servers with the wrong name, an unknown CA or
// an expired certificate, certificate pins in the handshake hooks on both sides, TLS from the
// configuration items, TLS combined with a shared key, and a client that never finishes the TLS
// handshake. After each refusal a well-behaved client is still served.
import { X509Certificate } from 'node:crypto';
import {
  CommunicationError,
  connect,
  Daemon,
  expose,
  type Remote,
  requireCertificate,
  requirePeerCertificate,
  SecurityError,
} from '@cinder/cinder';
import { generateTestPki, stopAllChildren, type TestPki } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import { RawClient, type SecurityServer, startSecurityServer } from './security-helpers.js';

let pki: TestPki;
let oneWay: SecurityServer;
let mutual: SecurityServer;

const errorOf = (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );

/** The serial number of a PEM certificate, as node:tls reports it. */
const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

beforeAll(async () => {
  pki = await generateTestPki();
  [oneWay, mutual] = await Promise.all([
    startSecurityServer({ tls: { cert: pki.server.certPath, key: pki.server.keyPath } }),
    startSecurityServer({
      tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.ca.certPath, requestCert: true },
    }),
  ]);
}, 30_000);

afterAll(async () => {
  await stopAllChildren();
});

const trusting = () => ({ ca: pki.ca.cert });
const withClientCert = () => ({ ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });

async function oneWayServes(): Promise<void> {
  await using p = connect<Target>(oneWay.uri, { tls: trusting() });
  expect(await p.add(1, 2)).toBe(3);
}

async function mutualServes(): Promise<void> {
  await using p = connect<Target>(mutual.uri, { tls: withClientCert() });
  expect(await p.add(2, 3)).toBe(5);
}

describe('one-way TLS', () => {
  it('serves a client that trusts the CA; both hooks see the certificates', async () => {
    const seen: unknown[] = [];
    await using p = connect<Target>(oneWay.uri, {
      tls: trusting(),
      validateHandshake: (response, peer) => {
        seen.push(response);
        requirePeerCertificate(peer.peerCertificate, {
          subject: { CN: 'localhost' },
          issuer: { CN: 'Cinder Test CA' },
          serialNumber: serialOf(pki.server.cert),
        });
      },
    });
    expect(await p.add(1, 2)).toBe(3);
    // the daemon's validateHandshake saw no client certificate
    expect(seen).toEqual([{ clientCN: null, clientSerial: null }]);
  });

  it('refuses a client that does not trust the CA (system roots only)', async () => {
    await using p = connect<Target>(oneWay.uri, { tls: {} });
    const err = await errorOf(p.add(1, 2));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
    await oneWayServes();
  });

  it('a plain TCP client talking to a TLS port gets nowhere', async () => {
    await using p = connect<Target>(oneWay.uri, { connectTimeoutMs: 3000 });
    const err = await errorOf(p.add(1, 2));
    expect(err).toBeInstanceOf(CommunicationError);
    await oneWayServes();
  });

  it('a proxy-side pin that does not match refuses the daemon before any call is sent', async () => {
    await using p = connect<Target>(oneWay.uri, {
      tls: trusting(),
      validateHandshake: (_response, peer) => {
        requirePeerCertificate(peer.peerCertificate, { serialNumber: '0badc0ffee' });
      },
    });
    const err = await errorOf(p.transfer(777));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/serial/);
    await using check = connect<Target>(oneWay.uri, { tls: trusting() });
    expect(await check.log()).not.toContain('transfer 777');
  });

  it('a client that opens TCP and never finishes the TLS handshake is dropped by the handshake timeout', async () => {
    const idle = await RawClient.open(oneWay);
    const trickler = await RawClient.open(oneWay);
    // a TLS ClientHello record header, then one byte every 200 ms
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    let i = 0;
    const timer = setInterval(() => {
      if (i < hello.length) trickler.write(hello.subarray(i, ++i));
      else trickler.write(Buffer.from([0]));
    }, 200);
    try {
      const t0 = performance.now();
      // the fixture's handshakeTimeoutMs is 2000
      expect(await idle.closesWithin(4000)).toBe(true);
      expect(await trickler.closesWithin(1000)).toBe(true);
      expect(performance.now() - t0).toBeGreaterThan(1500);
    } finally {
      clearInterval(timer);
      idle.destroy();
      trickler.destroy();
    }
    await oneWayServes();
  });
});

describe('server certificates a client must refuse', () => {
  @expose
  class Secret {
    value(): string {
      return 'secret';
    }
  }

  async function serving(cert: { cert: string; key: string }) {
    const d = await Daemon.start({ tls: { cert: cert.cert, key: cert.key } });
    return { d, uri: d.register(new Secret(), 'secret').toString() };
  }

  it('wrong host name: refused unless the client asks for that name', async () => {
    const { d, uri } = await serving(pki.wrongHost);
    try {
      await using p = connect<Secret>(uri, { tls: trusting() });
      const err = await errorOf(p.value());
      expect(err).toBeInstanceOf(SecurityError);
      expect(err.message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list|altnames|host/i);
      await using named = connect<Secret>(uri, { tls: { ...trusting(), servername: 'wrong.example' } });
      expect(await named.value()).toBe('secret');
    } finally {
      await d.close({ graceMs: 0 });
    }
  });

  it('a certificate from another CA: refused', async () => {
    const { d, uri } = await serving(pki.otherServer);
    try {
      await using p = connect<Secret>(uri, { tls: trusting() });
      const err = await errorOf(p.value());
      expect(err).toBeInstanceOf(SecurityError);
      expect(err.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
    } finally {
      await d.close({ graceMs: 0 });
    }
  });

  it('an expired certificate: refused', async () => {
    const { d, uri } = await serving(pki.expired);
    try {
      await using p = connect<Secret>(uri, { tls: trusting() });
      const err = await errorOf(p.value());
      expect(err).toBeInstanceOf(SecurityError);
      expect(err.message).toMatch(/expired/i);
    } finally {
      await d.close({ graceMs: 0 });
    }
  });
});

describe('mutual TLS', () => {
  it('a client certificate from the CA gets in, and the daemon hook sees it', async () => {
    let response: unknown;
    await using p = connect<Target>(mutual.uri, {
      tls: withClientCert(),
      validateHandshake: (r) => {
        response = r;
      },
    });
    expect(await p.add(2, 3)).toBe(5);
    expect(response).toEqual({ clientCN: 'cinder-client', clientSerial: serialOf(pki.client.cert) });
  });

  it('no client certificate: refused, nothing runs', async () => {
    await using p = connect<Target>(mutual.uri, { tls: trusting(), connectTimeoutMs: 5000 });
    const err = await errorOf(p.transfer(501));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/refused during the handshake: .*alert certificate required/);
    await using check = connect<Target>(mutual.uri, { tls: withClientCert() });
    expect(await check.log()).not.toContain('transfer 501');
  });

  it('a client certificate from another CA: refused, nothing runs', async () => {
    await using p = connect<Target>(mutual.uri, {
      tls: { ca: pki.ca.cert, cert: pki.otherClient.cert, key: pki.otherClient.key },
      connectTimeoutMs: 5000,
    });
    const err = await errorOf(p.transfer(502));
    expect(err).toBeInstanceOf(CommunicationError);
    // Node refuses an untrusted client certificate after the TLS handshake by closing the socket,
    // without an alert, so the client can only report the close (the daemon logs the reason)
    expect(err.message).toMatch(
      /closed during the handshake \(a TLS daemon closes connections whose client certificate it refuses: see its log\)$/,
    );
    await using check = connect<Target>(mutual.uri, { tls: withClientCert() });
    expect(await check.log()).not.toContain('transfer 502');
  });

  it('a server certificate as client certificate (wrong key usage) is refused', async () => {
    await using p = connect<Target>(mutual.uri, {
      tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key },
      connectTimeoutMs: 5000,
    });
    const err = await errorOf(p.transfer(503));
    expect(err).toBeInstanceOf(CommunicationError);
    await mutualServes();
  });

  it('a daemon pin (requireCertificate) refuses valid certificates it does not name', async () => {
    const pinned = await Daemon.start({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true },
      validateHandshake: requireCertificate({ subject: { CN: 'someone-else' } }),
    });
    try {
      @expose
      class Vault {
        open(): string {
          return 'open';
        }
      }
      const uri = pinned.register(new Vault(), 'vault').toString();
      await using p = connect<Vault>(uri, { tls: withClientCert() });
      const err = await errorOf(p.open());
      expect(err).toBeInstanceOf(CommunicationError);
      expect(err.message).toMatch(
        /rejected: peer certificate subject CN is 'cinder-client', expected 'someone-else'$/,
      );
    } finally {
      await pinned.close({ graceMs: 0 });
    }
    await mutualServes();
  });
});

describe('TLS from configuration, and TLS with a shared key', () => {
  @expose
  class Box {
    get(): string {
      return 'box';
    }
  }

  it('tls: true reads sslServerCert/sslServerKey/sslCaCerts/sslRequireClientCert; the proxy its ssl* items', async () => {
    const d = await Daemon.start({
      config: {
        ssl: true,
        sslServerCert: pki.server.certPath,
        sslServerKey: pki.serverEncryptedKey.keyPath,
        sslServerKeyPasswd: pki.serverEncryptedKey.passphrase,
        sslCaCerts: pki.ca.certPath,
        sslRequireClientCert: true,
      },
    });
    try {
      const uri = d.register(new Box(), 'box').toString();
      await using p = connect<Box>(uri, {
        config: {
          ssl: true,
          sslCaCerts: pki.ca.certPath,
          sslClientCert: pki.client.certPath,
          sslClientKey: pki.client.keyPath,
        },
      });
      expect(await p.get()).toBe('box');
      await using noCert = connect<Box>(uri, { config: { ssl: true, sslCaCerts: pki.ca.certPath } });
      expect(await errorOf(noCert.get())).toBeInstanceOf(SecurityError);
    } finally {
      await d.close({ graceMs: 0 });
    }
  });

  it('sslRequireClientCert without sslCaCerts is a configuration error, not a daemon trusting public roots', async () => {
    const err = await errorOf(
      Daemon.start({
        config: {
          ssl: true,
          sslServerCert: pki.server.certPath,
          sslServerKey: pki.server.keyPath,
          sslRequireClientCert: true,
        },
      }),
    );
    expect(err.name).toMatch(/ConfigError|SecurityError/);
    expect(err.message).toMatch(/sslCaCerts/);
  });

  it('TLS and a shared key together: both are required', async () => {
    const key = 'tls-and-a-key-of-decent-length-0001';
    const d = await Daemon.start({ tls: { cert: pki.server.cert, key: pki.server.key }, hmacKey: key });
    try {
      const uri = d.register(new Box(), 'box').toString();
      await using both = connect<Box>(uri, { tls: trusting(), hmacKey: key });
      expect(await both.get()).toBe('box');
      await using noKey = connect<Box>(uri, { tls: trusting() });
      expect(await errorOf(noKey.get())).toBeInstanceOf(SecurityError);
      await using noTls = connect<Box>(uri, { hmacKey: key, connectTimeoutMs: 3000 });
      expect(await errorOf(noTls.get())).toBeInstanceOf(CommunicationError);
    } finally {
      await d.close({ graceMs: 0 });
    }
  });
});

describe('after every attack', () => {
  it('both TLS daemons still serve well-behaved clients', async () => {
    await oneWayServes();
    await mutualServes();
    const p: Remote<Target> = connect<Target>(mutual.uri, { tls: withClientCert() });
    try {
      expect((await p.stats()).connections).toBeLessThan(5);
    } finally {
      await p.$release();
    }
  });
});
