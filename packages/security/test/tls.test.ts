// TLS helpers on real files and real sockets: loadTlsOptions against a throwaway openssl PKI, and
// node:tls servers and clients on 127.0.0.1 using its options, with certificate checks in hooks.
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ConfigError, SecurityError } from '@cinder/core';
import { generateTestPki, scratchDir, type TestPki } from '@cinder/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateExpectation,
  certificateMatches,
  certificateMismatch,
  loadCaCertificates,
  loadTlsOptions,
  requirePeerCertificate,
  type TlsClientOptions,
  type TlsServerOptions,
} from '../src/index.js';

let pki: TestPki;
let scratch: string;
const servers = new Set<tls.Server>();

beforeAll(async () => {
  pki = await generateTestPki();
  scratch = scratchDir('security-tls');
});

afterEach(async () => {
  await Promise.all([...servers].map((s) => new Promise((resolve) => s.close(resolve))));
  servers.clear();
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

function expectSecurity(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SecurityError);
  expect((caught as Error).message).toMatch(pattern);
}

describe('loadTlsOptions', () => {
  it('builds server and client options for mutual TLS', () => {
    const { server, client } = loadTlsOptions({
      sslServerCert: pki.server.certPath,
      sslServerKey: pki.server.keyPath,
      sslRequireClientCert: true,
      sslClientCert: pki.client.certPath,
      sslClientKey: pki.client.keyPath,
      sslCaCerts: pki.ca.certPath,
    });
    expect(server).toMatchObject({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(server?.cert).toContain('BEGIN CERTIFICATE');
    expect(server?.key).toContain('PRIVATE KEY');
    expect(server?.ca).toHaveLength(1);
    expect(server).not.toHaveProperty('passphrase');
    expect(client).toMatchObject({ rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(client.cert).toContain('BEGIN CERTIFICATE');
    expect(client.ca).toHaveLength(1);
  });

  it('gives one-way options without client certificates, and client-only options without a server cert', () => {
    const oneWay = loadTlsOptions({ sslServerCert: pki.server.certPath, sslServerKey: pki.server.keyPath });
    expect(oneWay.server).toMatchObject({ requestCert: false, rejectUnauthorized: false });
    expect(oneWay.server).not.toHaveProperty('ca');
    const clientOnly = loadTlsOptions({ sslCaCerts: pki.ca.certPath, sslServerCert: '', sslServerKey: '' });
    expect(clientOnly.server).toBeUndefined();
    expect(clientOnly.client).not.toHaveProperty('cert');
    expect(loadTlsOptions({}).client).toEqual({ rejectUnauthorized: true, minVersion: 'TLSv1.2' });
  });

  it('names the item and the file when a file is missing, a directory, not PEM or holds no certificate', () => {
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: join(scratch, 'nope.pem'), sslServerKey: pki.server.keyPath }),
      /^sslServerCert: cannot read .*nope\.pem: file not found$/,
    );
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: scratch, sslServerKey: pki.server.keyPath }),
      /^sslServerCert: cannot read .*: is a directory$/,
    );
    const garbage = file('garbage.pem', 'hello, I am not a certificate\n');
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: garbage, sslServerKey: pki.server.keyPath }),
      /^sslServerCert: .*garbage\.pem is not a PEM file/,
    );
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: pki.server.keyPath, sslServerKey: pki.server.keyPath }),
      /^sslServerCert: .*server\.key contains no PEM certificate$/,
    );
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: pki.server.certPath, sslServerKey: garbage }),
      /^sslServerKey: .*garbage\.pem is not a PEM file/,
    );
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: pki.server.certPath, sslServerKey: pki.server.certPath }),
      /^sslServerKey: .*server\.pem contains no PEM private key$/,
    );
    expectSecurity(
      () => loadTlsOptions({ sslCaCerts: garbage }),
      /^sslCaCerts: .*garbage\.pem is not a PEM file/,
    );
    const broken = file(
      'broken.pem',
      '-----BEGIN CERTIFICATE-----\nTUlJQm9ndXM=\n-----END CERTIFICATE-----\n',
    );
    expectSecurity(
      () => loadTlsOptions({ sslCaCerts: broken }),
      /^sslCaCerts: .*broken\.pem contains an invalid certificate$/,
    );
  });

  it('reports an unreadable file', () => {
    if (process.getuid?.() === 0) {
      // Root reads any file whatever its mode; a path through a plain file cannot be read either.
      const notADir = file('plain', 'x');
      expectSecurity(
        () => loadTlsOptions({ sslCaCerts: join(notADir, 'ca.pem') }),
        /^sslCaCerts: cannot read .*plain\/ca\.pem: /,
      );
    } else {
      const locked = file('locked.pem', pki.ca.cert);
      chmodSync(locked, 0o000);
      expectSecurity(() => loadTlsOptions({ sslCaCerts: locked }), /permission denied/);
    }
  });

  it('refuses a key that does not belong to the certificate', () => {
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: pki.server.certPath, sslServerKey: pki.client.keyPath }),
      /^sslServerKey: the key in .*client\.key does not match .*server\.pem$/,
    );
  });

  it('handles encrypted keys: missing or wrong passphrase is reported, the right one is passed on', () => {
    const enc = pki.serverEncryptedKey;
    expectSecurity(
      () => loadTlsOptions({ sslServerCert: pki.server.certPath, sslServerKey: enc.keyPath }),
      /the key is encrypted and sslServerKeyPasswd is not set/,
    );
    expectSecurity(
      () =>
        loadTlsOptions({
          sslServerCert: pki.server.certPath,
          sslServerKey: enc.keyPath,
          sslServerKeyPasswd: 'wrong',
        }),
      /cannot decrypt the key \(wrong sslServerKeyPasswd\?\)/,
    );
    const { server } = loadTlsOptions({
      sslServerCert: pki.server.certPath,
      sslServerKey: enc.keyPath,
      sslServerKeyPasswd: enc.passphrase,
    });
    expect(server?.passphrase).toBe(enc.passphrase);
    expect(server?.key).toContain('ENCRYPTED PRIVATE KEY');
  });

  it('accepts a certificate file that also holds the key, as Python does', () => {
    const combined = file('combined.pem', pki.client.cert + pki.client.key);
    const { client } = loadTlsOptions({ sslClientCert: combined });
    expect(client.key).toContain('PRIVATE KEY');
    expect(client.cert).not.toContain('PRIVATE KEY');
  });

  it('refuses inconsistent settings with a ConfigError', () => {
    expect(() => loadTlsOptions({ sslServerCert: pki.server.certPath })).toThrow(ConfigError);
    expect(() => loadTlsOptions({ sslServerKey: pki.server.keyPath })).toThrow(
      /sslServerKey is set but sslServerCert is not/,
    );
    expect(() => loadTlsOptions({ sslClientKey: pki.client.keyPath })).toThrow(ConfigError);
    expect(() =>
      loadTlsOptions({
        sslServerCert: pki.server.certPath,
        sslServerKey: pki.server.keyPath,
        sslRequireClientCert: true,
      }),
    ).toThrow(/sslRequireClientCert needs sslCaCerts/);
  });

  it('reads CA certificates from a bundle and from a directory with c_rehash links, once each', () => {
    const bundle = file('bundle.pem', `# comment\n${pki.ca.cert}\n${pki.otherCa.cert}`);
    expect(loadCaCertificates(bundle)).toHaveLength(2);

    const dir = join(scratch, 'cadir');
    mkdirSync(dir);
    copyFileSync(pki.ca.certPath, join(dir, 'ca.pem'));
    copyFileSync(pki.otherCa.certPath, join(dir, 'other.crt'));
    symlinkSync(join(dir, 'ca.pem'), join(dir, '1a2b3c4d.0'));
    writeFileSync(join(dir, 'README.txt'), 'ignored: not a certificate file name');
    writeFileSync(join(dir, '1a2b3c4d.r0'), 'ignored: a CRL link name');
    mkdirSync(join(dir, 'sub.pem'));
    const certs = loadCaCertificates(dir);
    expect(certs).toHaveLength(2);
    const subjects = certs.map((c) => new X509Certificate(c).subject).sort();
    expect(subjects[0]).toContain('CN=Cinder Test CA');
    expect(subjects[1]).toContain('CN=Other Test CA');

    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    expectSecurity(() => loadCaCertificates(empty), /contains no certificate files/);
    const bad = join(scratch, 'baddir');
    mkdirSync(bad);
    writeFileSync(join(bad, 'x.pem'), 'not pem');
    expectSecurity(() => loadCaCertificates(bad), /x\.pem is not a PEM file/);
  });
});

interface Exchange {
  /** What the server's hook wrote back, or null when the connection failed. */
  reply: string | null;
  clientError: Error | null;
  serverError: Error | null;
  serverPeer: tls.PeerCertificate | null;
  clientPeer: tls.PeerCertificate | null;
}

/**
 * One connection: the server runs `hook` on the client's certificate and writes "ok" or
 * "refused: <reason>"; the client reads until the server closes. Bounded by a 5 s timer.
 */
async function exchange(
  serverOptions: TlsServerOptions,
  clientOptions: TlsClientOptions & tls.ConnectionOptions,
  hook: (peer: tls.PeerCertificate) => void = () => {},
): Promise<Exchange> {
  const result: Exchange = {
    reply: null,
    clientError: null,
    serverError: null,
    serverPeer: null,
    clientPeer: null,
  };
  const server = tls.createServer(serverOptions, (socket) => {
    const peer = socket.getPeerCertificate();
    result.serverPeer = peer;
    try {
      hook(peer);
      socket.end('ok');
    } catch (err) {
      socket.end(`refused: ${(err as Error).message}`);
    }
  });
  servers.add(server);
  server.on('tlsClientError', (err) => {
    result.serverError = err;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      result.clientError ??= new Error('timed out');
      socket.destroy();
    }, 5000);
    let data = '';
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...clientOptions }, () => {
      result.clientPeer = socket.getPeerCertificate();
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      data += d;
    });
    socket.on('error', (err) => {
      result.clientError = err;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (data !== '') result.reply = data;
      resolve();
    });
  });
  // The server may report its side of a failed handshake just after the client saw it.
  if (result.reply === null && result.serverError === null) await new Promise((r) => setTimeout(r, 50));
  return result;
}

function mutualOptions() {
  return loadTlsOptions({
    sslServerCert: pki.server.certPath,
    sslServerKey: pki.server.keyPath,
    sslRequireClientCert: true,
    sslClientCert: pki.client.certPath,
    sslClientKey: pki.client.keyPath,
    sslCaCerts: pki.ca.certPath,
  });
}

describe('TLS on 127.0.0.1 with the loaded options', () => {
  it('completes mutual TLS; each side checks the other in a hook', async () => {
    const { server, client } = mutualOptions();
    const expected: CertificateExpectation = {
      subject: { CN: 'cinder-client', O: 'Cinder Test' },
      issuer: { CN: 'Cinder Test CA' },
      serialNumber: serialOf(pki.client.cert).toLowerCase(),
      fingerprint256: new X509Certificate(pki.client.cert).fingerprint256,
    };
    const r = await exchange(server!, client, (peer) => {
      requirePeerCertificate(peer, expected, 'client');
    });
    expect(r.clientError).toBeNull();
    expect(r.reply).toBe('ok');
    expect(certificateMatches(r.serverPeer, expected)).toBe(true);
    // The client side: the daemon's certificate, as a proxy's handshake hook would check it.
    expect(
      requirePeerCertificate(
        r.clientPeer,
        { subject: { CN: 'localhost' }, issuer: { O: 'Cinder Test' } },
        'server',
      ),
    ).toBe(r.clientPeer);
  });

  it('lets the hook refuse a valid certificate that is not the expected one', async () => {
    const { server, client } = mutualOptions();
    const r = await exchange(server!, client, (peer) => {
      requirePeerCertificate(peer, { serialNumber: ['01', '02'] }, 'client');
    });
    expect(r.reply).toMatch(/^refused: client certificate serial number is [0-9A-F]+, expected '01', '02'$/);
    const r2 = await exchange(server!, client, (peer) => {
      requirePeerCertificate(peer, { subject: { CN: 'admin' } }, 'client');
    });
    expect(r2.reply).toBe("refused: client certificate subject CN is 'cinder-client', expected 'admin'");
  });

  it('refuses a client certificate from another CA', async () => {
    const { server } = mutualOptions();
    const { client } = loadTlsOptions({
      sslClientCert: pki.otherClient.certPath,
      sslClientKey: pki.otherClient.keyPath,
      sslCaCerts: pki.ca.certPath,
    });
    let hookRan = false;
    const r = await exchange(server!, client, () => {
      hookRan = true;
    });
    expect(hookRan).toBe(false);
    expect(r.reply).toBeNull();
    // Node's server drops the handshake and reports only a hang-up; with TLS 1.3 the client has
    // already finished its side and sees just the close. What matters: nothing reached the hook.
    expect(r.serverError).not.toBeNull();
  });

  it('refuses a client without a certificate when one is required', async () => {
    const { server } = mutualOptions();
    const { client } = loadTlsOptions({ sslCaCerts: pki.ca.certPath });
    const r = await exchange(server!, client);
    expect(r.reply).toBeNull();
    expect(r.serverError?.message ?? r.clientError?.message).toMatch(/certificate/i);
  });

  it('refuses a server certificate from another CA, and one for another host name', async () => {
    const { client } = loadTlsOptions({ sslCaCerts: pki.ca.certPath });
    const other = loadTlsOptions({
      sslServerCert: pki.otherServer.certPath,
      sslServerKey: pki.otherServer.keyPath,
    });
    const r = await exchange(other.server!, client);
    expect(r.reply).toBeNull();
    expect((r.clientError as NodeJS.ErrnoException | null)?.code).toMatch(
      /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
    );

    const wrong = loadTlsOptions({
      sslServerCert: pki.wrongHost.certPath,
      sslServerKey: pki.wrongHost.keyPath,
    });
    const r2 = await exchange(wrong.server!, client);
    expect(r2.reply).toBeNull();
    expect((r2.clientError as NodeJS.ErrnoException | null)?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('serves one-way TLS with an encrypted key; the server sees no client certificate', async () => {
    const { server } = loadTlsOptions({
      sslServerCert: pki.server.certPath,
      sslServerKey: pki.serverEncryptedKey.keyPath,
      sslServerKeyPasswd: pki.serverEncryptedKey.passphrase,
    });
    const { client } = loadTlsOptions({ sslCaCerts: pki.ca.certPath });
    const r = await exchange(server!, client, (peer) => {
      requirePeerCertificate(peer, {}, 'client');
    });
    expect(r.reply).toBe('refused: client presented no certificate');
    expect(certificateMatches(r.serverPeer, {})).toBe(false);
    expect(r.clientPeer?.subject?.CN).toBe('localhost');
  });
});

describe('certificateMatches', () => {
  const cert = {
    subject: { CN: 'svc', O: 'Org', OU: ['a', 'b'] },
    issuer: { CN: 'CA' },
    serialNumber: '00AB12',
    fingerprint256: 'AA:BB:CC',
  };

  it('matches every given field and reports the first mismatch', () => {
    expect(certificateMatches(cert, {})).toBe(true);
    expect(certificateMatches(cert, { subject: { CN: 'svc', OU: 'b' }, issuer: { CN: 'CA' } })).toBe(true);
    expect(certificateMismatch(cert, { subject: { OU: 'c' } })).toBe(
      "certificate subject OU is 'a', 'b', expected 'c'",
    );
    expect(certificateMismatch(cert, { subject: { L: 'x' } })).toBe(
      "certificate subject L is none, expected 'x'",
    );
    expect(certificateMismatch(cert, { issuer: { CN: 'Other' } })).toBe(
      "certificate issuer CN is 'CA', expected 'Other'",
    );
  });

  it('compares serial numbers and fingerprints as hex, ignoring case, colons and leading zeros', () => {
    expect(certificateMatches(cert, { serialNumber: 'ab:12' })).toBe(true);
    expect(certificateMatches(cert, { serialNumber: ['1', 'AB12'] })).toBe(true);
    expect(certificateMatches(cert, { serialNumber: 'AB13' })).toBe(false);
    expect(certificateMatches(cert, { fingerprint256: 'aabbcc' })).toBe(true);
    expect(certificateMatches(cert, { fingerprint256: ['AABBCD'] })).toBe(false);
    expect(certificateMatches({ subject: {} }, { serialNumber: '0' })).toBe(false);
  });

  it('treats null, undefined and the empty object node returns as no certificate', () => {
    for (const none of [null, undefined, {}]) {
      expect(certificateMatches(none, {})).toBe(false);
      expect(() => requirePeerCertificate(none)).toThrow('peer presented no certificate');
    }
  });
});
