// cinder-ns over TLS with client certificates (2-way), driven by the tools' --ssl-* options: a
// client with the right certificate gets in, one without is refused with exit code 1.
import { generateTestPki, stopAllChildren, type TestPki } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsc, type RunningNs, removeCliBundle, startNs } from './helpers.js';

afterAll(async () => {
  await stopAllChildren();
  await removeCliBundle();
});

describe('cinder-ns with mutual TLS', () => {
  let pki: TestPki;
  let ns: RunningNs;
  /** The name server's address, trusting its CA. */
  const atNs = () => ['-n', '127.0.0.1', '-p', String(ns.port), '--ssl-ca', pki.ca.certPath];
  beforeAll(async () => {
    pki = await generateTestPki();
    ns = await startNs([
      '-n',
      '127.0.0.1',
      '-p',
      '0',
      '-x',
      '--log-level',
      'warn',
      '--ssl-cert',
      pki.server.certPath,
      '--ssl-key',
      pki.server.keyPath,
      '--ssl-ca',
      pki.ca.certPath,
      '--ssl-require-client-cert',
    ]);
  });

  it('lets a client with a certificate from the trusted CA in', async () => {
    const out = await nsc([
      ...atNs(),
      '--ssl-cert',
      pki.client.certPath,
      '--ssl-key',
      pki.client.keyPath,
      'register',
      'tls.thing',
      'PYRO:thing@localhost:1',
    ]);
    expect(out).toEqual({ code: 0, stdout: 'Registered tls.thing\n', stderr: '' });
  });

  it('refuses a client without a certificate, and a plain-TCP client', async () => {
    const noCert = await nsc([...atNs(), '--timeout', '3000', 'ping']);
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toMatch(
      /^cinder-nsc: error: NamingError: failed to locate the nameserver at 127\.0\.0\.1:\d+: /,
    );
    const plain = await nsc(['-n', '127.0.0.1', '-p', String(ns.port), '--timeout', '3000', 'ping']);
    expect(plain.code).toBe(1);
  });
});
