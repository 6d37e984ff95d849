// A throwaway PKI for TLS tests, made with the `openssl` CLI: two unrelated CAs and the server,
// client, wrong-host and expired certificates the transport and security tests need. EC P-256 keys
// keep generation around a tenth of a second; the result is cached per process.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeAbandonedScratch } from './scratch.js';

const run = promisify(execFile);

/** One certificate and its unencrypted private key, as PEM text and as files. */
export interface TestCert {
  /** The certificate (PEM). */
  cert: string;
  /** The private key (PEM, unencrypted PKCS#8). */
  key: string;
  certPath: string;
  keyPath: string;
}

export interface TestPki {
  /** Directory holding every file. */
  dir: string;
  /** Root CA `CN=Cinder Test CA`. */
  ca: TestCert;
  /** `CN=localhost`, SANs DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth, signed by `ca`. */
  server: TestCert;
  /** `server`'s key encrypted with `passphrase` (AES-256), for passphrase tests. */
  serverEncryptedKey: { key: string; keyPath: string; passphrase: string };
  /** `CN=cinder-client`, clientAuth, signed by `ca`. */
  client: TestCert;
  /** A second, unrelated root CA `CN=Other Test CA`. */
  otherCa: TestCert;
  /** `CN=other-client`, clientAuth, signed by `otherCa` (a client the first CA does not know). */
  otherClient: TestCert;
  /** Same names as `server` but signed by `otherCa` (a server the first CA does not know). */
  otherServer: TestCert;
  /** `CN=wrong.example`, SAN DNS:wrong.example only, signed by `ca` (hostname mismatch). */
  wrongHost: TestCert;
  /** Same names as `server`, signed by `ca`, but expired yesterday. */
  expired: TestCert;
}

const cache = new Map<string, Promise<TestPki>>();

/**
 * Generates the test PKI into `dir` (default: a fresh temporary directory removed at process exit).
 * Repeated calls with the same `dir` (or none) return the same promise.
 */
export function generateTestPki(dir?: string): Promise<TestPki> {
  const cacheKey = dir ?? '';
  let pki = cache.get(cacheKey);
  if (!pki) {
    pki = generate(dir);
    cache.set(cacheKey, pki);
    pki.catch(() => cache.delete(cacheKey));
  }
  return pki;
}

interface CertSpec {
  name: string;
  subject: Record<string, string>;
  extensions: string[];
}

const serverExtensions = [
  'basicConstraints = critical,CA:FALSE',
  'keyUsage = critical,digitalSignature',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
];

const clientExtensions = [
  'basicConstraints = critical,CA:FALSE',
  'keyUsage = critical,digitalSignature',
  'extendedKeyUsage = clientAuth',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
];

const caExtensions = [
  'basicConstraints = critical,CA:TRUE',
  'keyUsage = critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier = hash',
];

async function generate(requestedDir: string | undefined): Promise<TestPki> {
  let dir: string;
  if (requestedDir) {
    mkdirSync(requestedDir, { recursive: true });
    dir = requestedDir;
  } else {
    removeAbandonedScratch();
    dir = mkdtempSync(join(tmpdir(), `cinder-pki-${process.pid}-`));
    // Sync removal: 'exit' handlers cannot wait for promises. A test worker that is killed never
    // runs it, so the next generation removes what dead processes left (removeAbandonedScratch).
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }

  const ca = await selfSigned(dir, {
    name: 'ca',
    subject: { CN: 'Cinder Test CA', O: 'Cinder Test' },
    extensions: caExtensions,
  });
  const otherCa = await selfSigned(dir, {
    name: 'other-ca',
    subject: { CN: 'Other Test CA', O: 'Elsewhere' },
    extensions: caExtensions,
  });
  const localhost = { CN: 'localhost', O: 'Cinder Test' };
  const [server, client, otherClient, otherServer, wrongHost, expired] = await Promise.all([
    signed(dir, ca, { name: 'server', subject: localhost, extensions: serverExtensions }),
    signed(dir, ca, {
      name: 'client',
      subject: { CN: 'cinder-client', O: 'Cinder Test' },
      extensions: clientExtensions,
    }),
    signed(dir, otherCa, {
      name: 'other-client',
      subject: { CN: 'other-client', O: 'Elsewhere' },
      extensions: clientExtensions,
    }),
    signed(dir, otherCa, { name: 'other-server', subject: localhost, extensions: serverExtensions }),
    signed(dir, ca, {
      name: 'wrong-host',
      subject: { CN: 'wrong.example', O: 'Cinder Test' },
      extensions: serverExtensions.map((e) =>
        e.startsWith('subjectAltName') ? 'subjectAltName = DNS:wrong.example' : e,
      ),
    }),
    signed(dir, ca, { name: 'expired', subject: localhost, extensions: serverExtensions }, -1),
  ]);

  const passphrase = 'cinder-test-passphrase';
  const encryptedKeyPath = join(dir, 'server-encrypted.key');
  await run('openssl', [
    'pkey',
    '-in',
    server.keyPath,
    '-aes256',
    '-passout',
    `pass:${passphrase}`,
    '-out',
    encryptedKeyPath,
  ]);

  return {
    dir,
    ca,
    server,
    serverEncryptedKey: {
      key: readFileSync(encryptedKeyPath, 'utf8'),
      keyPath: encryptedKeyPath,
      passphrase,
    },
    client,
    otherCa,
    otherClient,
    otherServer,
    wrongHost,
    expired,
  };
}

/** An openssl `req` config with the subject and the extensions of one certificate. */
function writeConfig(dir: string, spec: CertSpec): string {
  const subject = Object.entries(spec.subject).map(([k, v]) => `${k} = ${v}`);
  const text = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    'x509_extensions = ext',
    '[dn]',
    ...subject,
    '[ext]',
    ...spec.extensions,
    '',
  ].join('\n');
  const path = join(dir, `${spec.name}.cnf`);
  writeFileSync(path, text);
  return path;
}

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed certificate (a CA). */
function selfSigned(dir: string, spec: CertSpec): Promise<TestCert> {
  return signed(dir, undefined, spec);
}

/**
 * A certificate signed by `issuer` (self-signed without one). `days` < 0 makes it expired:
 * `req -x509` refuses negative days, so that case goes through a CSR and `x509 -req`, which accepts
 * them (and needs an issuer).
 */
async function signed(
  dir: string,
  issuer: TestCert | undefined,
  spec: CertSpec,
  days = 30,
): Promise<TestCert> {
  const config = writeConfig(dir, spec);
  const certPath = join(dir, `${spec.name}.pem`);
  const keyPath = join(dir, `${spec.name}.key`);
  const ca = issuer ? ['-CA', issuer.certPath, '-CAkey', issuer.keyPath] : [];
  if (days > 0 || !issuer) {
    await run('openssl', [
      'req',
      '-x509',
      '-config',
      config,
      ...newKey,
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      String(days),
      ...ca,
    ]);
  } else {
    const csrPath = join(dir, `${spec.name}.csr`);
    await run('openssl', ['req', '-new', '-config', config, ...newKey, '-keyout', keyPath, '-out', csrPath]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csrPath,
      ...ca,
      '-days',
      String(days),
      '-extfile',
      config,
      '-extensions',
      'ext',
      '-out',
      certPath,
    ]);
  }
  return load(certPath, keyPath);
}

function load(certPath: string, keyPath: string): TestCert {
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}
