// A daemon serving one object and a proxy calling it. Run: node examples/greeting.mjs
import { connect, Daemon, expose } from '@cinder/cinder';

class Greeter {
  hello(name) {
    return `hello, ${name}`;
  }
}
expose(Greeter);

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const uri = daemon.register(Greeter, 'example.greeter');
const greeter = connect(uri, { timeoutMs: 5000 });
try {
  console.log(await greeter.hello('world')); // → hello, world
} finally {
  await greeter.$release();
  await daemon.close();
}
