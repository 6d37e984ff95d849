// Mutual TLS: the daemon serves only clients holding a certificate from its CA, and a served method
// sees who is calling. Run: node examples/tls.mjs <dir>, where <dir> holds ca.pem, server.pem,
// server.key, client.pem and client.key (examples/README.md shows how to make them with openssl).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, currentContext, Daemon, expose } from '@cinder/cinder';

const dir = process.argv[2] ?? '.';
const read = (file) => readFileSync(join(dir, file), 'utf8');

class Vault {
  whoami() {
    // the client certificate node:tls verified, as getPeerCertificate() gives it
    return currentContext().peerCertificate.subject.CN;
  }
}
expose(Vault);

const daemon = await Daemon.start({
  host: '127.0.0.1',
  port: 0,
  // requestCert with a ca: a client without a certificate signed by that CA is refused
  tls: { cert: read('server.pem'), key: read('server.key'), ca: read('ca.pem'), requestCert: true },
});
const uri = daemon.register(Vault, 'example.vault');

// the client checks the server's certificate against the CA and shows its own
const vault = connect(uri, {
  tls: { ca: read('ca.pem'), cert: read('client.pem'), key: read('client.key') },
  timeoutMs: 5000,
});
// a client that trusts the server but has no certificate of its own
const stranger = connect(uri, { tls: { ca: read('ca.pem') }, timeoutMs: 5000 });
try {
  console.log(await vault.whoami()); // → cinder-client
  await stranger.whoami().catch((err) => console.log(`refused: ${err.name}`)); // → refused: SecurityError
} finally {
  await vault.$release();
  await stranger.$release();
  await daemon.close();
}
