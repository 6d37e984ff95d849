// cinder-gateway's command line: Pyro's `pyro5-httpgateway` options (-H -p -e -g -c -t) plus where
// the name server is and the log level. Settings may also come from CINDER_GATEWAY_* variables
// (the key is better given that way: a command line is visible to every user of the machine).
import {
  configOrUsageError,
  intOption,
  logLevelOption,
  parseCommandLine,
  UsageError,
} from '@cinder/cinder/cli';
import { type CinderConfig, type LogLevel, resolveConfig } from '@cinder/core';
import type { GatewayOptions } from './gateway.js';

export const USAGE = `Usage: cinder-gateway [options]

Serves Pyro's HTTP gateway: GET or POST /pyro/<name>/<method>?param=value calls <method> of the
object registered as <name> in the name server and answers with JSON (Pyro's json serializer);
/pyro/<name>/$meta lists its methods and attributes; /pyro/ is an index of the exposed names.

Options:
  -H, --host HOST           address to bind (default 127.0.0.1)
  -p, --port PORT           TCP port (default 8080; 0 picks a free port)
  -e, --expose REGEX        names to expose, a Python regex matched at the start like re.match
                            (default: CINDER_GATEWAY_EXPOSE, else none — every name is refused)
  -g, --gatewaykey KEY      key clients must send in X-Pyro-Gateway-Key or $key
                            (prefer CINDER_GATEWAY_KEY: a command line is visible to other users)
  -c, --cors ORIGIN         Access-Control-Allow-Origin of replies (default: no CORS headers)
  -t, --timeout SECONDS     time limit of one call, like Pyro's (default: CINDER_COMM_TIMEOUT_MS, else 30)
      --ns-host HOST        name server host (default: CINDER_NS_HOST, then broadcast)
      --ns-port PORT        name server port (default: CINDER_NS_PORT, 9090)
      --ns-unixsocket PATH  name server Unix socket
      --max-body BYTES      largest request body (default: CINDER_GATEWAY_MAX_BODY_SIZE, 1 MiB)
      --request-timeout MS  time a client has to send its whole request (default 30000)
      --protocol P          to the objects: 502 (Pyro5/Cinder), 48 (Pyro4) or auto (default:
                            502, and 48 for a daemon that answers in Pyro4's protocol)
      --log-level LEVEL     fatal, error, warn, info (default), debug, trace or silent
  -h, --help                show this help

Prints "URL = http://host:port/" on stdout once it serves; logs go to stderr.
Stops cleanly on SIGINT or SIGTERM.
Exit codes: 0 stopped normally, 1 failed (port in use…), 2 bad usage.
`;

const OPTIONS = {
  host: { type: 'string', short: 'H' },
  port: { type: 'string', short: 'p' },
  expose: { type: 'string', short: 'e' },
  gatewaykey: { type: 'string', short: 'g' },
  cors: { type: 'string', short: 'c' },
  timeout: { type: 'string', short: 't' },
  'ns-host': { type: 'string' },
  'ns-port': { type: 'string' },
  'ns-unixsocket': { type: 'string' },
  'max-body': { type: 'string' },
  'request-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  protocol: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const PROTOCOLS: Record<string, 502 | 48 | 'auto'> = { '502': 502, '48': 48, auto: 'auto' };

export interface GatewayPlan {
  options: GatewayOptions & { config: CinderConfig };
  logLevel: LogLevel;
}

/** Turns the command line into gateway options; throws UsageError for bad usage. */
export function parseGatewayArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): GatewayPlan | 'help' {
  const v = parseCommandLine(argv, OPTIONS, false).values;
  if (v.help) return 'help';
  const port = intOption(v.port, '--port', 0, 65535);
  const nsPort = intOption(v['ns-port'], '--ns-port', 1, 65535);
  const maxBody = intOption(v['max-body'], '--max-body', 1, 2 ** 31 - 1);
  const requestTimeout = intOption(v['request-timeout'], '--request-timeout', 1, 2 ** 31 - 1);
  let callTimeoutMs: number | undefined;
  if (v.timeout !== undefined) {
    const seconds = Number(v.timeout);
    if (v.timeout.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 2 ** 31 / 1000) {
      throw new UsageError(
        `option --timeout needs a positive number of seconds, got ${JSON.stringify(v.timeout)}`,
      );
    }
    callTimeoutMs = Math.ceil(seconds * 1000);
  }
  const protocol =
    v.protocol !== undefined && Object.hasOwn(PROTOCOLS, v.protocol) ? PROTOCOLS[v.protocol] : undefined;
  if (v.protocol !== undefined && protocol === undefined) {
    throw new UsageError(`option --protocol needs 502, 48 or auto, got ${JSON.stringify(v.protocol)}`);
  }
  const overrides: Partial<CinderConfig> = {
    ...(v.expose !== undefined ? { gatewayExpose: v.expose } : {}),
    ...(v.gatewaykey !== undefined ? { gatewayKey: v.gatewaykey } : {}),
    ...(v.cors !== undefined ? { gatewayCors: v.cors } : {}),
    ...(maxBody !== undefined ? { gatewayMaxBodySize: maxBody } : {}),
    ...(requestTimeout !== undefined ? { gatewayRequestTimeoutMs: requestTimeout } : {}),
  };
  const config = configOrUsageError(() => resolveConfig(overrides, { env }));
  let logLevel = logLevelOption(v['log-level']);
  logLevel ??= env.CINDER_LOG_LEVEL !== undefined ? config.logLevel : 'info';
  const nameServer = {
    ...(v['ns-host'] !== undefined ? { host: v['ns-host'] } : {}),
    ...(nsPort !== undefined ? { port: nsPort } : {}),
    ...(v['ns-unixsocket'] !== undefined ? { unixSocket: v['ns-unixsocket'] } : {}),
  };
  return {
    options: {
      config,
      ...(v.host !== undefined ? { host: v.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}),
      ...(protocol !== undefined ? { protocol } : {}),
      ...(Object.keys(nameServer).length > 0 ? { nameServer } : {}),
    },
    logLevel,
  };
}
