// A Python Pyro4 program calling a Cinder daemon: the daemon serves Pyro4 (and Pyro5) clients on the
// same port as Cinder's. This starts the daemon, then runs examples/python-client.py with its URI.
// Run: node examples/python-client.mjs (needs Python with Pyro4: apt-get install python3-pyro4;
// set PYTHON to choose the interpreter, default python3)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Daemon, expose } from '@cinder/cinder';

const prices = new Map([
  ['tea', 2.5],
  ['cake', 3],
]);

class Shop {
  price(item) {
    if (!prices.has(item)) throw new RangeError(`no ${item} here`); // Python gets a ValueError
    return prices.get(item);
  }

  *items() {
    yield* prices.keys(); // a generator: Pyro4 iterates it item by item
  }
}
expose(Shop);

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const uri = daemon.register(Shop, 'example.shop');
try {
  // what the Python client prints is in its `# →` comments
  const python = spawn(
    process.env.PYTHON ?? 'python3',
    [fileURLToPath(new URL('python-client.py', import.meta.url)), String(uri)],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const [code] = await once(python, 'exit');
  process.exitCode = code;
} finally {
  await daemon.close();
}
