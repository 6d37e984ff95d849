// Many calls in one round trip with a batch. Run: node examples/batch.mjs
import { connect, Daemon, expose } from '@cinder/cinder';

class Prices {
  price(item) {
    return { apple: 3, pear: 4 }[item] ?? 0;
  }
}
expose(Prices);

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const prices = connect(daemon.register(Prices, 'example.prices'), { timeoutMs: 5000 });
try {
  const batch = prices.$batch();
  for (const item of ['apple', 'pear', 'plum']) batch.price(item);
  console.log(await batch.$run()); // → [ 3, 4, 0 ]
} finally {
  await prices.$release();
  await daemon.close();
}
