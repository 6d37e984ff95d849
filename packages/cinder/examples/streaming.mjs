// A method returning a generator streams its items to the client. Run: node examples/streaming.mjs
import { connect, Daemon, expose } from '@cinder/cinder';

class Counter {
  *upTo(n) {
    for (let i = 1; i <= n; i++) yield i;
  }
}
expose(Counter);

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const counter = connect(daemon.register(Counter, 'example.counter'), { timeoutMs: 5000 });
try {
  const seen = [];
  for await (const i of await counter.upTo(5)) seen.push(i);
  console.log(seen.join(' ')); // → 1 2 3 4 5
} finally {
  await counter.$release();
  await daemon.close();
}
