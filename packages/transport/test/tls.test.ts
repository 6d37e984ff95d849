// TLS and mutual TLS: the compliance suite plus certificate handling — unknown CA, hostname
// verification (names and IP SANs), expiry, client certificates required or from the wrong CA,
// peerCertificate() on both sides, encrypted keys, and connect timeouts during the handshake.
import { X509Certificate } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type CinderError, ConfigError, SecurityError } from '@cinder/core';
import { generateTestPki, type TestPki } from '@cinder/test-utils';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TlsClientOptions, type TlsServerOptions, tlsTransport } from '../src/index.js';
import type { Connection, Endpoint } from '../src/transport.js';
import { type ComplianceTarget, transportCompliance } from './compliance.js';
import { framing, loopbackTcpTimer, message, Recorder, Tracker, within } from './harness.js';

const pkiPromise = generateTestPki();

/** A TCP server that accepts and then says nothing: a TLS handshake with it never completes. */
async function silentServer(track: Tracker): Promise<Endpoint> {
  const server = track.server(createNetServer());
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { kind: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port };
}

async function tlsTarget(mutual: boolean): Promise<ComplianceTarget> {
  const pki = await pkiPromise;
  const server: TlsServerOptions = { cert: pki.server.cert, key: pki.server.key };
  const client: TlsClientOptions = { ca: pki.ca.cert };
  if (mutual) {
    Object.assign(server, { ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true });
    Object.assign(client, { cert: pki.client.cert, key: pki.client.key });
  }
  const transport = tlsTransport({ server, client });
  return {
    server: transport,
    client: transport,
    listenEndpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }),
    workerTls: { cert: pki.server.cert, key: pki.server.key },
    rawConnect: (endpoint, track) => {
      if (endpoint.kind !== 'tcp') throw new Error('tcp endpoint expected');
      const socket = track.socket(
        tlsConnect({
          host: endpoint.host,
          port: endpoint.port,
          ca: pki.ca.cert,
          ...(mutual ? { cert: pki.client.cert, key: pki.client.key } : {}),
        }),
      );
      return within(
        new Promise((resolve) => socket.once('secureConnect', () => resolve(socket))),
        5000,
        'raw TLS connect',
      );
    },
    stalled: silentServer,
  };
}

transportCompliance('tls', () => tlsTarget(false));
transportCompliance('mutual tls', () => tlsTarget(true));

describe('tls specifics', () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());
  let pki: TestPki;
  beforeAll(async () => {
    pki = await pkiPromise;
  });

  interface Served {
    endpoint: Endpoint;
    accepted: Connection[];
    handshakeErrors: CinderError[];
  }

  async function serve(options: Partial<TlsServerOptions> = {}, host = '127.0.0.1'): Promise<Served> {
    const handshakeErrors: CinderError[] = [];
    const accepted: Connection[] = [];
    const transport = tlsTransport({
      server: {
        cert: pki.server.cert,
        key: pki.server.key,
        onHandshakeError: (err) => handshakeErrors.push(err),
        ...options,
      },
    });
    const listener = track.listener(
      await transport.listen(
        { endpoint: { kind: 'tcp', host, port: 0 }, framing: framing([502]) },
        (conn) => {
          track.connection(conn);
          accepted.push(conn);
          conn.setHandler(new Recorder((m) => conn.send({ ...m, type: 5 })));
        },
      ),
    );
    return { endpoint: listener.endpoint, accepted, handshakeErrors };
  }

  async function dial(endpoint: Endpoint, client: TlsClientOptions, host?: string): Promise<Connection> {
    const target = host && endpoint.kind === 'tcp' ? { ...endpoint, host } : endpoint;
    return track.connection(
      await tlsTransport({ client }).connect({ endpoint: target, framing: framing([502]), timeoutMs: 5000 }),
    );
  }

  async function dialError(endpoint: Endpoint, client: TlsClientOptions, host?: string): Promise<unknown> {
    return dial(endpoint, client, host).then(
      () => null,
      (e: unknown) => e,
    );
  }

  /** A round trip, to be sure the connection really works (TLS 1.3 reports some refusals late). */
  async function roundTrip(conn: Connection): Promise<Recorder> {
    const rec = new Recorder();
    conn.setHandler(rec);
    conn.send(message(1, 'ping'));
    await rec.until(() => rec.messages.length > 0 || rec.closes.length > 0, 'reply or close');
    return rec;
  }

  it('verifies the server against the trusted CA: an unknown CA is a SecurityError', async () => {
    const { endpoint } = await serve({ cert: pki.otherServer.cert, key: pki.otherServer.key });
    const err = await dialError(endpoint, { ca: pki.ca.cert });
    expect(err).toBeInstanceOf(SecurityError);
    expect((err as Error).message).toMatch(/unable to verify|self.signed|issuer/i);
    expect((err as Error).cause).toHaveProperty('code');
  });

  it('checks the host name: a certificate for another name is refused unless that name is asked for', async () => {
    const { endpoint } = await serve({ cert: pki.wrongHost.cert, key: pki.wrongHost.key });
    const err = await dialError(endpoint, { ca: pki.ca.cert });
    expect(err).toBeInstanceOf(SecurityError);
    expect((err as Error).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect((err as Error).message).toMatch(/127\.0\.0\.1/);
    const conn = await dial(endpoint, { ca: pki.ca.cert, servername: 'wrong.example' });
    expect((await roundTrip(conn)).messages).toHaveLength(1);
  });

  it('matches 127.0.0.1, ::1 and localhost against the SANs', async () => {
    const v4 = await serve();
    expect((await roundTrip(await dial(v4.endpoint, { ca: pki.ca.cert }))).messages).toHaveLength(1);
    expect(
      (await roundTrip(await dial(v4.endpoint, { ca: pki.ca.cert }, 'localhost'))).messages,
    ).toHaveLength(1);
    const v6 = await serve({}, '::1');
    expect((await roundTrip(await dial(v6.endpoint, { ca: pki.ca.cert }))).messages).toHaveLength(1);
  });

  it('refuses an expired server certificate', async () => {
    const { endpoint } = await serve({ cert: pki.expired.cert, key: pki.expired.key });
    const err = await dialError(endpoint, { ca: pki.ca.cert });
    expect(err).toBeInstanceOf(SecurityError);
    expect((err as Error).message).toMatch(/expired/i);
  });

  it('mutual TLS: a client without a certificate is refused with a SecurityError on both sides', async () => {
    const { endpoint, accepted, handshakeErrors } = await serve({ ca: pki.ca.cert, requestCert: true });
    // TLS 1.3 finishes the client's side of the handshake before the server has judged the client
    // certificate, so the refusal arrives either as a failed connect or as the close that follows.
    const outcome = await dial(endpoint, { ca: pki.ca.cert }).then(
      async (conn) => (await roundTrip(conn)).closes[0],
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(SecurityError);
    expect((outcome as Error).message).toMatch(/certificate/i);
    await within(
      (async () => {
        while (handshakeErrors.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'server handshake error',
    );
    expect(handshakeErrors[0]).toBeInstanceOf(SecurityError);
    expect(handshakeErrors[0]!.message).toMatch(/certificate/i);
    expect(accepted).toHaveLength(0);
  });

  it('mutual TLS: a client certificate from an unknown CA is refused', async () => {
    const { endpoint, accepted, handshakeErrors } = await serve({ ca: pki.ca.cert, requestCert: true });
    // Node's server judges the certificate after OpenSSL's handshake and closes without an alert:
    // the client only sees the connection end (TLS 1.3) or fail, never a reply.
    const outcome = await dial(endpoint, {
      ca: pki.ca.cert,
      cert: pki.otherClient.cert,
      key: pki.otherClient.key,
    }).then(
      async (conn) => {
        const rec = await roundTrip(conn);
        expect(rec.messages).toHaveLength(0);
        return rec.closes.length;
      },
      (e: unknown) => e,
    );
    if (typeof outcome !== 'number') expect(outcome).toBeInstanceOf(SecurityError);
    await within(
      (async () => {
        while (handshakeErrors.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'server handshake error',
    );
    expect(handshakeErrors[0]).toBeInstanceOf(SecurityError);
    expect(handshakeErrors[0]!.message).toMatch(
      /client certificate refused \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    );
    expect(accepted).toHaveLength(0);
  });

  it('peerCertificate() describes the other side on both ends', async () => {
    const { endpoint, accepted } = await serve({ ca: pki.ca.cert, requestCert: true });
    const conn = await dial(endpoint, { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
    await roundTrip(conn);
    const serverCert = conn.peerCertificate();
    expect(serverCert).not.toBeNull();
    expect(serverCert!.subject.CN).toBe('localhost');
    expect(serverCert!.issuer.CN).toBe('Cinder Test CA');
    const x509 = new X509Certificate(pki.server.cert);
    expect(Buffer.from(serverCert!.raw)).toEqual(x509.raw);
    expect(serverCert!.fingerprint256).toBe(x509.fingerprint256);
    expect(serverCert!.serialNumber.toLowerCase()).toBe(x509.serialNumber.toLowerCase());
    expect(new Date(serverCert!.validTo).getTime()).toBe(new Date(x509.validTo).getTime());
    expect(new Date(serverCert!.validFrom).getTime()).toBe(new Date(x509.validFrom).getTime());
    const clientCert = accepted[0]!.peerCertificate();
    expect(clientCert!.subject.CN).toBe('cinder-client');
    expect(clientCert!.fingerprint256).toBe(new X509Certificate(pki.client.cert).fingerprint256);
  });

  // As over plain TCP (tcp.test.ts): the client's socket gets keepalive 1-2 s after connecting, not
  // at connect; /proc/net/tcp shows its keepalive timer (tr 2) once it has it.
  it.runIf(process.platform === 'linux')(
    "a client's socket gets keepalive once the connection has lived a second or two",
    async () => {
      const { endpoint } = await serve();
      const t0 = Date.now();
      const conn = await dial(endpoint, { ca: pki.ca.cert });
      const local = Number(conn.localAddress.split(':').pop());
      const port = (endpoint as { port: number }).port;
      const timer = () => loopbackTcpTimer(local, port);
      expect(timer()).toBe('00');
      await expect.poll(timer, { timeout: 3500, interval: 50 }).toBe('02');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    },
  );

  it('rejectUnauthorized false lets an unverified client in, with its certificate visible', async () => {
    const { endpoint, accepted } = await serve({
      ca: pki.ca.cert,
      requestCert: true,
      rejectUnauthorized: false,
    });
    const conn = await dial(endpoint, {
      ca: pki.ca.cert,
      cert: pki.otherClient.cert,
      key: pki.otherClient.key,
    });
    expect((await roundTrip(conn)).messages).toHaveLength(1);
    expect(accepted[0]!.peerCertificate()!.subject.CN).toBe('other-client');
    expect(accepted[0]!.peerCertificate()!.issuer.CN).toBe('Other Test CA');
  });

  it('loads an encrypted key with its passphrase; a wrong passphrase is a ConfigError', async () => {
    const { endpoint } = await serve({
      key: pki.serverEncryptedKey.key,
      passphrase: pki.serverEncryptedKey.passphrase,
    });
    expect((await roundTrip(await dial(endpoint, { ca: pki.ca.cert }))).messages).toHaveLength(1);
    await expect(serve({ key: pki.serverEncryptedKey.key, passphrase: 'wrong' })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('listening without server options is a ConfigError', async () => {
    await expect(
      tlsTransport({ client: {} }).listen(
        { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 }, framing: framing([502]) },
        () => {},
      ),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('the server gives up on a handshake that does not progress', async () => {
    const { endpoint, handshakeErrors } = await serve({ handshakeTimeoutMs: 100 });
    if (endpoint.kind !== 'tcp') throw new Error('tcp expected');
    // A plain TCP client that never sends its ClientHello.
    const { connect } = await import('node:net');
    const raw = track.socket(connect({ host: endpoint.host, port: endpoint.port }));
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    await within(closed, 5000, 'server drops the silent client');
    expect(handshakeErrors[0]?.name).toBe('TimeoutError');
  });

  it('TLS over a Unix socket', async () => {
    const path = `\0cinder-tls-${process.pid}`;
    const transport = tlsTransport({
      server: { cert: pki.server.cert, key: pki.server.key },
      client: { ca: pki.ca.cert },
    });
    track.listener(
      await transport.listen({ endpoint: { kind: 'unix', path }, framing: framing([502]) }, (conn) => {
        track.connection(conn);
        conn.setHandler(new Recorder((m) => conn.send({ ...m, type: 5 })));
      }),
    );
    const conn = track.connection(
      await transport.connect({ endpoint: { kind: 'unix', path }, framing: framing([502]), timeoutMs: 5000 }),
    );
    expect(conn.transport).toBe('tls');
    expect((await roundTrip(conn)).messages).toHaveLength(1);
    expect(conn.peerCertificate()!.subject.CN).toBe('localhost');
  });
});

export type { TLSSocket };
