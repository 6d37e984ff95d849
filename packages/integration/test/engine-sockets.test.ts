// The engine compliance suite over the socket transports: TCP on loopback, a Unix socket, and TLS
// (test PKI) on loopback.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateTestPki, scratchDir } from '@cinder/test-utils';
import { tcpTransport, tlsTransport, unixTransport } from '@cinder/transport';
import { engineCompliance } from './engine-compliance.js';

engineCompliance('tcp', () => {
  const transport = tcpTransport();
  return { server: transport, client: transport, listen: () => ({ host: '127.0.0.1' }) };
});

engineCompliance('unix', () => {
  const dir = scratchDir('engine');
  let n = 0;
  const transport = unixTransport();
  return {
    server: transport,
    client: transport,
    listen: () => ({ unixSocket: join(dir, `d${++n}.sock`) }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

engineCompliance('tls', async () => {
  const pki = await generateTestPki();
  return {
    server: tlsTransport({ server: { cert: pki.server.cert, key: pki.server.key } }),
    client: tlsTransport({ client: { ca: pki.ca.cert } }),
    listen: () => ({ host: '127.0.0.1' }),
  };
});
