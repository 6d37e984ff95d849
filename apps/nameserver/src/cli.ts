// What cinder-ns and cinder-nsc share beyond @cinder/cinder/cli (exit codes, usage errors, option
// helpers): where a tool writes, and the configuration overrides both take from their TLS options.
import type { CinderConfig } from '@cinder/core';

/** Where a tool writes; process streams in production, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads one line from the user (confirmation prompts); undefined when there is no terminal. */
  prompt?: ((question: string) => Promise<string>) | undefined;
  env: Record<string, string | undefined>;
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
