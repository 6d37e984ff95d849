// Turns the ssl* configuration items into option objects for node:tls, reading and checking every
// PEM file up front so a bad path, an unreadable file, a wrong passphrase or a key that does not
// belong to its certificate is reported at startup, naming the file, instead of as an obscure
// handshake failure later.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, SecurityError } from '@cinder/core';

/** The configuration items `loadTlsOptions` reads (a subset of `CinderConfig`; '' means unset). */
export interface TlsConfig {
  sslServerCert?: string | undefined;
  sslServerKey?: string | undefined;
  sslServerKeyPasswd?: string | undefined;
  sslRequireClientCert?: boolean | undefined;
  sslClientCert?: string | undefined;
  sslClientKey?: string | undefined;
  sslClientKeyPasswd?: string | undefined;
  /** A PEM file, or a directory of PEM files (`*.pem`, `*.crt`, `*.cer`, or c_rehash `<hash>.N` links). */
  sslCaCerts?: string | undefined;
}

/** Options for `tls.createServer` / `tls.createSecureContext`. */
export interface TlsServerOptions {
  /** Certificate chain, PEM (leaf first). */
  cert: string;
  /** Private key, PEM (possibly encrypted; see passphrase). */
  key: string;
  passphrase?: string;
  /** Trusted CA certificates for client certificates, one PEM per entry. */
  ca?: string[];
  /** Ask for a client certificate (mutual TLS). */
  requestCert: boolean;
  /** Refuse clients without a valid certificate (true whenever requestCert is). */
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1.2';
}

/** Options for `tls.connect`. Hostname verification is node's default and stays on. */
export interface TlsClientOptions {
  cert?: string;
  key?: string;
  passphrase?: string;
  /** Trusted CA certificates for the server, one PEM per entry (absent: the system's roots). */
  ca?: string[];
  rejectUnauthorized: true;
  minVersion: 'TLSv1.2';
}

export interface TlsOptionsSet {
  /** Present when a server certificate is configured. */
  server?: TlsServerOptions;
  /** Always present: a client can use TLS with the system's roots and no certificate of its own. */
  client: TlsClientOptions;
}

/** Largest PEM file read (certificates and keys are a few KiB; bundles a few hundred). */
export const MAX_PEM_FILE_SIZE = 4 * 1024 * 1024;
/** Most files read from a CA directory. */
export const MAX_CA_DIRECTORY_FILES = 4096;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const CA_FILE_NAME = /(\.(pem|crt|cer)$)|(^[0-9a-f]{8}\.\d+$)/i;

interface PemBlock {
  label: string;
  text: string;
}

function set(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

function readText(item: string, path: string): string {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = stat.size;
  } catch (err) {
    throw new SecurityError(`${item}: cannot read ${path}: ${fsReason(err)}`, { cause: err });
  }
  if (size > MAX_PEM_FILE_SIZE) {
    throw new SecurityError(
      `${item}: ${path} is too large for a PEM file (${size} bytes, max ${MAX_PEM_FILE_SIZE})`,
    );
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new SecurityError(`${item}: cannot read ${path}: ${fsReason(err)}`, { cause: err });
  }
}

function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) blocks.push({ label: m[1]!, text: `${m[0]}\n` });
  return blocks;
}

function certificates(item: string, path: string, blocks: PemBlock[]): string[] {
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE');
  for (const cert of certs) {
    try {
      new X509Certificate(cert.text);
    } catch (err) {
      throw new SecurityError(`${item}: ${path} contains an invalid certificate`, { cause: err });
    }
  }
  return certs.map((c) => c.text);
}

function readCertificates(item: string, path: string): { text: string; certs: string[]; blocks: PemBlock[] } {
  const text = readText(item, path);
  const blocks = pemBlocks(text);
  if (blocks.length === 0)
    throw new SecurityError(`${item}: ${path} is not a PEM file (no -----BEGIN block)`);
  const certs = certificates(item, path, blocks);
  if (certs.length === 0) throw new SecurityError(`${item}: ${path} contains no PEM certificate`);
  return { text, certs, blocks };
}

function readKey(
  item: string,
  path: string,
  blocks: PemBlock[],
  passphrase: string | undefined,
  passwdItem: string,
): { pem: string; key: KeyObject } {
  const block = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!block) throw new SecurityError(`${item}: ${path} contains no PEM private key`);
  // PKCS#8 says so in its label, traditional PEM in a Proc-Type header; OpenSSL's own error for a
  // missing passphrase differs between versions, so look before trying.
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.text.includes('Proc-Type: 4,ENCRYPTED');
  if (encrypted && passphrase === undefined) {
    throw new SecurityError(`${item}: ${path}: the key is encrypted and ${passwdItem} is not set`);
  }
  try {
    const key = createPrivateKey(passphrase === undefined ? block.text : { key: block.text, passphrase });
    return { pem: block.text, key };
  } catch (err) {
    const reason = encrypted ? `cannot decrypt the key (wrong ${passwdItem}?)` : 'invalid private key';
    throw new SecurityError(`${item}: ${path}: ${reason}`, { cause: err });
  }
}

/** A certificate + key pair, checked to belong together. The key may sit in the certificate file. */
function loadIdentity(
  side: 'Server' | 'Client',
  certPath: string,
  keyPath: string | undefined,
  passphrase: string | undefined,
): { cert: string; key: string; passphrase?: string } {
  const certItem = `ssl${side}Cert`;
  const keyItem = `ssl${side}Key`;
  const passwdItem = `ssl${side}KeyPasswd`;
  const { certs, blocks } = readCertificates(certItem, certPath);
  let key: { pem: string; key: KeyObject };
  if (set(keyPath)) {
    const keyText = readText(keyItem, keyPath);
    const keyBlocks = pemBlocks(keyText);
    if (keyBlocks.length === 0)
      throw new SecurityError(`${keyItem}: ${keyPath} is not a PEM file (no -----BEGIN block)`);
    key = readKey(keyItem, keyPath, keyBlocks, passphrase, passwdItem);
  } else {
    // Python's load_cert_chain accepts a certificate file that also holds the key; so do we.
    if (!blocks.some((b) => b.label.endsWith('PRIVATE KEY'))) {
      throw new ConfigError(
        `${certItem} is set but ${keyItem} is not (and ${certPath} holds no private key)`,
      );
    }
    key = readKey(certItem, certPath, blocks, passphrase, passwdItem);
  }
  const leaf = new X509Certificate(certs[0]!);
  if (!leaf.checkPrivateKey(key.key)) {
    throw new SecurityError(
      `${keyItem}: the key in ${set(keyPath) ? keyPath : certPath} does not match ${certPath}`,
    );
  }
  return {
    cert: certs.join(''),
    key: key.pem,
    ...(passphrase !== undefined ? { passphrase } : {}),
  };
}

/**
 * Reads the trusted CA certificates from a PEM file or a directory. In a directory, files named
 * `*.pem`, `*.crt`, `*.cer` or `<8 hex digits>.<n>` (OpenSSL's c_rehash links) are read, others
 * are ignored; duplicates (a file and its hash link) are kept once.
 */
export function loadCaCertificates(path: string): string[] {
  const item = 'sslCaCerts';
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    throw new SecurityError(`${item}: cannot read ${path}: ${fsReason(err)}`, { cause: err });
  }
  if (!isDirectory) return readCertificates(item, path).certs;
  let names: string[];
  try {
    names = readdirSync(path)
      .filter((n) => CA_FILE_NAME.test(n))
      .sort();
  } catch (err) {
    throw new SecurityError(`${item}: cannot list ${path}: ${fsReason(err)}`, { cause: err });
  }
  if (names.length > MAX_CA_DIRECTORY_FILES) {
    throw new SecurityError(
      `${item}: ${path} holds ${names.length} certificate files (max ${MAX_CA_DIRECTORY_FILES})`,
    );
  }
  const seen = new Set<string>();
  const certs: string[] = [];
  for (const name of names) {
    const file = join(path, name);
    try {
      if (!statSync(file).isFile()) continue;
    } catch (err) {
      throw new SecurityError(`${item}: cannot read ${file}: ${fsReason(err)}`, { cause: err });
    }
    for (const cert of readCertificates(item, file).certs) {
      if (!seen.has(cert)) {
        seen.add(cert);
        certs.push(cert);
      }
    }
  }
  if (certs.length === 0) throw new SecurityError(`${item}: ${path} contains no certificate files`);
  return certs;
}

/**
 * Builds node:tls options from the ssl* items. The server side exists when `sslServerCert` is set;
 * with `sslRequireClientCert` it requests and requires a client certificate, which must chain to
 * `sslCaCerts` (required then: trusting every public CA for client certificates would let anyone
 * with any certificate in). Every file is read and checked now; problems are SecurityErrors
 * naming the item and the file, inconsistent settings are ConfigErrors.
 */
export function loadTlsOptions(config: TlsConfig): TlsOptionsSet {
  const ca = set(config.sslCaCerts) ? loadCaCertificates(config.sslCaCerts) : undefined;
  const withCa = ca ? { ca } : {};
  const client: TlsClientOptions = { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...withCa };
  if (set(config.sslClientCert)) {
    Object.assign(
      client,
      loadIdentity('Client', config.sslClientCert, config.sslClientKey, optional(config.sslClientKeyPasswd)),
    );
  } else if (set(config.sslClientKey)) {
    throw new ConfigError('sslClientKey is set but sslClientCert is not');
  }

  if (!set(config.sslServerCert)) {
    if (set(config.sslServerKey)) throw new ConfigError('sslServerKey is set but sslServerCert is not');
    return { client };
  }
  const requireClientCert = config.sslRequireClientCert === true;
  if (requireClientCert && !ca) {
    throw new ConfigError('sslRequireClientCert needs sslCaCerts: the CA that signs the client certificates');
  }
  const server: TlsServerOptions = {
    ...loadIdentity('Server', config.sslServerCert, config.sslServerKey, optional(config.sslServerKeyPasswd)),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
    minVersion: 'TLSv1.2',
    ...withCa,
  };
  return { server, client };
}

function optional(value: string | undefined): string | undefined {
  return set(value) ? value : undefined;
}
