// Safe defaults, checked: a daemon binds to 127.0.0.1 unless told otherwise; one that would be
// reachable from the network unprotected says so through the injected pino logger (binds that
// would expose the test machine are redirected to 127.0.0.1 by a wrapping transport, so the
// daemon's own decision is observed without listening on a real interface); CINDER_* variables
// can be turned off; secrets never reach the logs, even at trace level.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  type CinderConfig,
  ConfigError,
  connect,
  Daemon,
  type DaemonOptions,
  expose,
  SecurityError,
} from '@cinder/cinder';
import { generateTestPki, type TestPki } from '@cinder/test-utils';
import { type Endpoint, type Transport, tcpTransport } from '@cinder/transport';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

@expose
class Echo {
  echo<T>(v: T): T {
    return v;
  }
}

/** A pino logger writing JSON lines into an array. */
function capture(level = 'warn'): {
  logger: pino.Logger;
  lines: Array<Record<string, unknown>>;
  text: string[];
} {
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  const logger = pino(
    { level },
    {
      write: (line: string) => {
        text.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, text };
}

/**
 * A TCP transport that listens on 127.0.0.1 whatever host it is asked for, and remembers what was
 * asked: the daemon decides (and warns) exactly as it would, and no real interface is exposed.
 */
function loopbackOnly(): Transport & { asked: Endpoint[] } {
  const inner = tcpTransport();
  const asked: Endpoint[] = [];
  return {
    kind: inner.kind,
    asked,
    connect: (options) => inner.connect(options),
    listen: (options, onConnection) => {
      asked.push(options.endpoint);
      const endpoint: Endpoint =
        options.endpoint.kind === 'tcp' ? { ...options.endpoint, host: '127.0.0.1' } : options.endpoint;
      return inner.listen({ ...options, endpoint }, onConnection);
    },
  };
}

const warningsOf = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => l.level === 40 && l.component === 'daemon').map((l) => String(l.msg));

const savedEnv = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (key.startsWith('CINDER_')) delete process.env[key];
  for (const [key, value] of Object.entries(savedEnv))
    if (key.startsWith('CINDER_')) process.env[key] = value;
});

describe('binding', () => {
  it('binds to 127.0.0.1 by default, and says nothing', async () => {
    const { logger, lines } = capture();
    await using d = await Daemon.start({ logger });
    expect(d.endpoint).toMatchObject({ kind: 'tcp', host: '127.0.0.1' });
    expect(d.register(new Echo(), 'echo').host).toBe('127.0.0.1');
    expect(warningsOf(lines)).toEqual([]);
  });

  async function warningsFor(host: string, options: DaemonOptions = {}): Promise<string[]> {
    const { logger, lines } = capture();
    const transport = loopbackOnly();
    await using d = await Daemon.start({ host, transport, logger, ...options });
    expect(transport.asked).toEqual([{ kind: 'tcp', host, port: 0 }]);
    // the daemon really serves (on loopback)
    await using p = connect<Echo>(d.register(new Echo(), 'echo'), {
      ...(options.hmacKey ? { hmacKey: options.hmacKey } : {}),
    });
    expect(await p.echo(1)).toBe(1);
    return warningsOf(lines);
  }

  it('warns through the injected logger when listening on all interfaces without TLS or a key', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const warnings = await warningsFor(host);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toBe(
        `listening on all network interfaces (${host}) without TLS or a shared key: anyone who can reach ` +
          'this port can call every exposed method and read all traffic. Bind to 127.0.0.1, or configure ssl and/or hmacKey.',
      );
    }
  });

  it('a shared key silences the warning', async () => {
    expect(await warningsFor('0.0.0.0', { hmacKey: 'a-key-long-enough-for-no-warning' })).toEqual([]);
  });

  it('loopback hosts and Unix sockets (also relative paths) never warn', async () => {
    expect(await warningsFor('127.0.0.1')).toEqual([]);
    expect(await warningsFor('localhost')).toEqual([]);
    const { logger, lines } = capture();
    const path = relative(process.cwd(), join(tmpdir(), `cinder-sec-rel-${process.pid}.sock`));
    expect(path.startsWith('/')).toBe(false);
    try {
      await using d = await Daemon.start({ unixSocket: path, logger });
      await using p = connect<Echo>(d.register(new Echo(), 'echo'));
      expect(await p.echo('unix')).toBe('unix');
    } finally {
      rmSync(path, { force: true });
    }
    expect(warningsOf(lines)).toEqual([]);
  });

  it('a short key is flagged, without printing it', async () => {
    const { logger, lines, text } = capture();
    await using d = await Daemon.start({ hmacKey: 'shortkey', logger });
    expect(d.sharedKey).toBeDefined();
    expect(warningsOf(lines).join('\n')).toMatch(/short|bytes/i);
    expect(text.join('\n')).not.toContain('shortkey');
  });
});

describe('binding with TLS', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await generateTestPki();
  });

  it('TLS without client certificates still warns that anyone can call; mutual TLS does not', async () => {
    for (const [requestCert, expected] of [
      [false, 1],
      [true, 0],
    ] as const) {
      const { logger, lines } = capture();
      const transport = loopbackOnly();
      // the TLS transport is built by the daemon from `tls`; warn-only check with the wrapper's host
      await using d = await Daemon.start({
        host: '0.0.0.0',
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert },
        transport,
        logger,
      });
      expect(d.endpoint.kind).toBe('tcp');
      const warnings = warningsOf(lines);
      expect(warnings).toHaveLength(expected);
      if (expected) expect(warnings[0]).toMatch(/with TLS but neither client certificates nor a shared key/);
    }
  });
});

describe('environment', () => {
  it('CINDER_* variables apply by default and are ignored with useEnvironment: false', async () => {
    process.env.CINDER_SERIALIZERS_ACCEPTED = 'json';
    await using fromEnv = await Daemon.start();
    await using ignoring = await Daemon.start({ useEnvironment: false });
    expect(fromEnv.config.serializersAccepted).toEqual(['json']);
    expect(ignoring.config.serializersAccepted).toContain('cbor');
    await using cborToEnv = connect<Echo>(fromEnv.register(new Echo(), 'echo'), { useEnvironment: false });
    await expect(cborToEnv.echo(1)).rejects.toThrow(/not accepted: cbor/);
    await using cborToIgnoring = connect<Echo>(ignoring.register(new Echo(), 'echo'), {
      useEnvironment: false,
    });
    expect(await cborToIgnoring.echo(2)).toBe(2);
  });

  it('an unknown or malformed CINDER_* variable is a ConfigError, unless the environment is ignored', async () => {
    process.env.CINDER_HMAC_KYE = 'typo';
    expect(() => new Daemon()).toThrow(ConfigError);
    expect(() => new Daemon()).toThrow(/CINDER_HMAC_KYE/);
    expect(() => connect('PYRO:x@127.0.0.1:1')).toThrow(ConfigError);
    expect(new Daemon({ useEnvironment: false }).config.hmacKey).toBeNull();
    delete process.env.CINDER_HMAC_KYE;
    process.env.CINDER_MAX_MESSAGE_SIZE = '10 MB';
    expect(() => new Daemon()).toThrow(/CINDER_MAX_MESSAGE_SIZE/);
  });

  it('a key from CINDER_HMAC_KEY on one side only is reported on both sides', async () => {
    process.env.CINDER_HMAC_KEY = 'environment-key-of-fair-length-42';
    await using keyed = await Daemon.start();
    const keyedUri = keyed.register(new Echo(), 'echo');
    await using plain = await Daemon.start({ useEnvironment: false });
    const plainUri = plain.register(new Echo(), 'echo');
    await using noKey = connect<Echo>(keyedUri, { useEnvironment: false });
    await expect(noKey.echo(1)).rejects.toThrow(SecurityError);
    await using keyedClient = connect<Echo>(plainUri);
    await expect(keyedClient.echo(1)).rejects.toThrow(/not symmetric/);
    await using both = connect<Echo>(keyedUri);
    expect(await both.echo('ok')).toBe('ok');
  });
});

describe('secrets in logs', () => {
  it('a keyed daemon and proxy log nothing of the key, even at trace level and on failures', async () => {
    const key = 'do-not-log-me-0123456789abcdef';
    const daemonLog = capture('trace');
    const proxyLog = capture('trace');
    const config: Partial<CinderConfig> = { handshakeTimeoutMs: 1000 };
    await using d = await Daemon.start({ hmacKey: key, config, logger: daemonLog.logger });
    const uri = d.register(new Echo(), 'echo');
    await using p = connect<Echo>(uri, { hmacKey: key, logger: proxyLog.logger });
    expect(await p.echo('fine')).toBe('fine');
    await using wrong = connect<Echo>(uri, { hmacKey: `${key}-wrong`, logger: proxyLog.logger });
    await expect(wrong.echo(1)).rejects.toThrow(SecurityError);
    // the refusal is logged, with the client's address and nothing else
    const refusal = daemonLog.lines.find((l) => l.msg === 'refused: authentication failed');
    expect(refusal).toMatchObject({ level: 30, component: 'daemon' });
    expect(String(refusal?.client)).toMatch(/^127\.0\.0\.1:\d+$/);
    const all = [...daemonLog.text, ...proxyLog.text].join('\n');
    for (const form of [key, Buffer.from(key).toString('base64'), Buffer.from(key).toString('hex')]) {
      expect(all).not.toContain(form);
    }
  });
});
