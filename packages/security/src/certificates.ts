// Certificate checks for handshake hooks: does the peer's certificate have the subject, issuer,
// serial number or fingerprint this deployment expects? TLS already checked the chain, expiry and
// (on the client) the hostname; these checks pin which certificates of a trusted CA are accepted.
import { SecurityError } from '@cinder/core';

type NameFields = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The certificate fields the checks read. node:tls `PeerCertificate` and the transport's
 * `PeerCertificate` both satisfy it.
 */
export interface CertificateInfo {
  subject?: NameFields | undefined;
  issuer?: NameFields | undefined;
  serialNumber?: string | undefined;
  fingerprint256?: string | undefined;
}

/**
 * What to expect of a certificate. Every given field must match. Name fields compare exactly
 * (a multi-valued field such as several OUs matches when one value is equal); serial numbers and
 * fingerprints compare as hex, ignoring case, colons and leading zeros, and may list alternatives
 * (for key rotation).
 */
export interface CertificateExpectation {
  subject?: Readonly<Partial<Record<string, string>>>;
  issuer?: Readonly<Partial<Record<string, string>>>;
  serialNumber?: string | readonly string[];
  fingerprint256?: string | readonly string[];
}

function normalizeHex(value: string): string {
  const hex = value
    .replace(/[:\s]/g, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
  return hex;
}

function describe(value: string | readonly string[] | undefined): string {
  if (value === undefined) return 'none';
  return typeof value === 'string' ? `'${value}'` : value.map((v) => `'${v}'`).join(', ');
}

function nameMismatch(
  what: 'subject' | 'issuer',
  actual: NameFields | undefined,
  expected: Readonly<Partial<Record<string, string>>>,
): string | null {
  for (const [field, want] of Object.entries(expected)) {
    if (want === undefined) continue;
    const have = actual?.[field];
    const ok = typeof have === 'string' ? have === want : Array.isArray(have) && have.includes(want);
    if (!ok) return `certificate ${what} ${field} is ${describe(have)}, expected '${want}'`;
  }
  return null;
}

function hexMismatch(
  what: string,
  actual: string | undefined,
  expected: string | readonly string[],
): string | null {
  const wanted = typeof expected === 'string' ? [expected] : expected;
  if (actual !== undefined) {
    const have = normalizeHex(actual);
    if (wanted.some((w) => normalizeHex(w) === have)) return null;
  }
  return `certificate ${what} is ${actual === undefined ? 'missing' : actual}, expected ${describe(expected)}`;
}

/** True when the certificate carries anything (node:tls returns `{}` when there is none). */
function present(cert: CertificateInfo | null | undefined): cert is CertificateInfo {
  return (
    cert !== null && cert !== undefined && (cert.subject !== undefined || cert.fingerprint256 !== undefined)
  );
}

/** Why `cert` does not meet `expected`, or null when it does. */
export function certificateMismatch(
  cert: CertificateInfo | null | undefined,
  expected: CertificateExpectation,
): string | null {
  if (!present(cert)) return 'no certificate';
  if (expected.subject) {
    const reason = nameMismatch('subject', cert.subject, expected.subject);
    if (reason) return reason;
  }
  if (expected.issuer) {
    const reason = nameMismatch('issuer', cert.issuer, expected.issuer);
    if (reason) return reason;
  }
  if (expected.serialNumber !== undefined) {
    const reason = hexMismatch('serial number', cert.serialNumber, expected.serialNumber);
    if (reason) return reason;
  }
  if (expected.fingerprint256 !== undefined) {
    const reason = hexMismatch('SHA-256 fingerprint', cert.fingerprint256, expected.fingerprint256);
    if (reason) return reason;
  }
  return null;
}

/** True when `cert` exists and meets every expectation. */
export function certificateMatches(
  cert: CertificateInfo | null | undefined,
  expected: CertificateExpectation,
): boolean {
  return certificateMismatch(cert, expected) === null;
}

/**
 * Throws SecurityError naming the first mismatch when `cert` is missing or does not meet
 * `expected`; returns the certificate otherwise. `who` names the peer in the message.
 */
export function requirePeerCertificate(
  cert: CertificateInfo | null | undefined,
  expected: CertificateExpectation = {},
  who = 'peer',
): CertificateInfo {
  const reason = certificateMismatch(cert, expected);
  if (reason !== null) {
    throw new SecurityError(
      reason === 'no certificate' ? `${who} presented no certificate` : `${who} ${reason}`,
    );
  }
  return cert as CertificateInfo;
}
