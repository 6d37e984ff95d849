// A throw-away self-signed certificate for the TLS variants, made with the openssl CLI (so the bench
// needs no crypto dependency). Valid for localhost and 127.0.0.1; the clients trust it as their CA.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFiles {
  cert: string;
  key: string;
  /** The same file as `cert`: self-signed, so it is its own CA. */
  ca: string;
}

/** Writes key.pem and cert.pem into `dir`; resolves with a reason string when openssl is unusable. */
export async function makeCertificate(dir: string): Promise<TlsFiles | string> {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { timeout: 20_000 },
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return 'openssl is not installed, TLS variants skipped';
    return `openssl could not make a certificate (${(e.stderr ?? e.message).trim()}), TLS variants skipped`;
  }
  return { cert, key, ca: cert };
}
