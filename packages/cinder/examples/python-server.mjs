// A Cinder client calling a Python Pyro4 daemon: this starts examples/python-server.py, reads the URI
// it prints and calls it over Pyro4's protocol (48) with the serpent serializer.
// Run: node examples/python-server.mjs (needs Python with Pyro4: apt-get install python3-pyro4;
// set PYTHON to choose the interpreter, default python3)
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, RemoteError } from '@cinder/cinder';

const python = spawn(
  process.env.PYTHON ?? 'python3',
  [fileURLToPath(new URL('python-server.py', import.meta.url))],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let thermometer;
try {
  const uri = await new Promise((resolve, reject) => {
    python.once('exit', (code) => reject(new Error(`python-server.py exited (${code})`)));
    createInterface({ input: python.stdout }).once('line', (line) => resolve(line.replace('URI = ', '')));
  });
  thermometer = connect(uri, { protocol: 48, serializer: 'serpent', timeoutMs: 5000 });
  console.log(await thermometer.current()); // → 22.5
  // keyword arguments go through $call
  console.log(await thermometer.$call('average', [], { kwargs: { last: 2 } })); // → 22.25
  for await (const reading of await thermometer.history()) console.log(reading); // → 21.5
  // → 22
  // → 22.5
  try {
    await thermometer.calibrate(0.5);
  } catch (err) {
    // Python's exceptions arrive as RemoteError carrying the Python class name and traceback
    if (err instanceof RemoteError) console.log(err.message); // → builtins.ValueError: calibration is locked
  }
} finally {
  await thermometer?.$release();
  python.kill();
}
