// A local function passed as an argument: the server calls it back over the same connection.
// Run: node examples/callbacks.mjs
import { connect, Daemon, expose } from '@cinder/cinder';

class Job {
  async run(steps, progress) {
    for (let i = 1; i <= steps; i++) await progress(i, steps);
    return 'done';
  }
}
expose(Job);

const daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
const job = connect(daemon.register(Job, 'example.job'), { timeoutMs: 5000 });
try {
  const result = await job.run(2, (i, n) => console.log(`step ${i} of ${n}`)); // → step 1 of 2
  // → step 2 of 2
  console.log(result); // → done
} finally {
  await job.$release();
  await daemon.close();
}
