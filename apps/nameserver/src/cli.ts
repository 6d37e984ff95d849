// What cinder-ns and cinder-nsc share: exit codes, usage errors, argument helpers, and the
// configuration overrides both take from their TLS options.
import type { CinderConfig } from '@cinder/core';

/** Exit codes of both tools. */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** Runtime failure: the name server is down or refused the request, the port is in use… */
  FAILURE: 1,
  /** Bad usage: unknown option or command, missing or invalid argument. */
  USAGE: 2,
} as const;

/** A command-line mistake: reported with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a tool writes; process streams in production, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads one line from the user (confirmation prompts); undefined when there is no terminal. */
  prompt?: ((question: string) => Promise<string>) | undefined;
  env: Record<string, string | undefined>;
}

/** pnpm passes a `--` through to the script: a leading one is not an argument. */
export function stripLeadingDashDash(args: readonly string[]): string[] {
  return args[0] === '--' ? args.slice(1) : [...args];
}

/** An integer option within bounds, or a UsageError naming the option. */
export function intOption(
  value: string | undefined,
  option: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`option ${option} needs an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export interface TlsArgs {
  ssl?: boolean | undefined;
  'ssl-cert'?: string | undefined;
  'ssl-key'?: string | undefined;
  'ssl-key-passwd'?: string | undefined;
  'ssl-ca'?: string | undefined;
  'ssl-require-client-cert'?: boolean | undefined;
}

/** Config overrides from the TLS options; `server` decides whether certificate/key are the server's. */
export function tlsConfig(args: TlsArgs, server: boolean): Partial<CinderConfig> {
  const any =
    args.ssl ||
    args['ssl-cert'] !== undefined ||
    args['ssl-key'] !== undefined ||
    args['ssl-ca'] !== undefined ||
    args['ssl-require-client-cert'];
  if (!any) return {};
  const out: Record<string, unknown> = { ssl: true };
  if (args['ssl-cert'] !== undefined) out[server ? 'sslServerCert' : 'sslClientCert'] = args['ssl-cert'];
  if (args['ssl-key'] !== undefined) out[server ? 'sslServerKey' : 'sslClientKey'] = args['ssl-key'];
  if (args['ssl-key-passwd'] !== undefined) {
    out[server ? 'sslServerKeyPasswd' : 'sslClientKeyPasswd'] = args['ssl-key-passwd'];
  }
  if (args['ssl-ca'] !== undefined) out.sslCaCerts = args['ssl-ca'];
  if (server && args['ssl-require-client-cert']) out.sslRequireClientCert = true;
  return out as Partial<CinderConfig>;
}

/** The parseArgs option table of the TLS options. */
export const TLS_OPTIONS = {
  ssl: { type: 'boolean' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  'ssl-key-passwd': { type: 'string' },
  'ssl-ca': { type: 'string' },
  'ssl-require-client-cert': { type: 'boolean' },
} as const;

/** Runs an argument parser; its complaints become UsageErrors. */
export function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(oneLine(err));
  }
}

/** The first line of an error, for one-line reports. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}
