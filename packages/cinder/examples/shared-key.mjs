// A shared key: the daemon serves only clients that know it (a challenge-response handshake, then a
// MAC on every message). Run: node examples/shared-key.mjs
// In a real deployment both sides read the key from a secret store or CINDER_HMAC_KEY.
import { connect, Daemon, expose } from '@cinder/cinder';

class Ledger {
  balance() {
    return 1200;
  }
}
expose(Ledger);

const key = 'a long random secret both sides know';
const daemon = await Daemon.start({ host: '127.0.0.1', port: 0, hmacKey: key });
const uri = daemon.register(Ledger, 'example.ledger');

const ledger = connect(uri, { hmacKey: key, timeoutMs: 5000 });
const intruder = connect(uri, { hmacKey: 'a guess at the secret', timeoutMs: 5000 });
try {
  console.log(await ledger.balance()); // → 1200
  await intruder.balance().catch((err) => console.log(`${err.name}: ${err.code}`)); // → SecurityError: SECURITY
} finally {
  await ledger.$release();
  await intruder.$release();
  await daemon.close();
}
