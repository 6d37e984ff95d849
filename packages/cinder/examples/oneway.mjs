// Oneway calls: the client does not wait for the method to run. Run: node examples/oneway.mjs
import { connect, Daemon, expose, oneway } from '@cinder/cinder';

class Logbook {
  entries = [];
  record(text) {
    this.entries.push(text);
  }
  read() {
    return this.entries;
  }
}
expose(Logbook, ['record', 'read']);
oneway(Logbook, 'record');

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const uri = daemon.register(Logbook, 'example.logbook', { instanceMode: 'single' });
const log = connect(uri, { timeoutMs: 5000 });
try {
  await log.record('door opened'); // resolves once sent, without a reply
  await log.record('door closed');
  console.log((await log.read()).join(', ')); // → door opened, door closed
} finally {
  await log.$release();
  await daemon.close();
}
