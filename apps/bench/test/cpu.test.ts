// processCpuUs reads a process's CPU time from /proc: checked against Node's own account of this
// process, before and after burning some CPU.

import { expect, it } from 'vitest';
import { processCpuUs } from '../src/harness.js';

it('reads the CPU time of a process from /proc, in microseconds', () => {
  const before = processCpuUs(process.pid)!;
  const own0 = process.cpuUsage();
  let x = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 200) x += Math.sqrt(x + 1);
  const own = process.cpuUsage(own0);
  const spent = processCpuUs(process.pid)! - before;
  expect(x).toBeGreaterThan(0);
  // /proc counts in clock ticks (10 ms): allow two ticks either way around Node's figure
  expect(Math.abs(spent - (own.user + own.system))).toBeLessThanOrEqual(
    20_000 + 0.1 * (own.user + own.system),
  );
  expect(spent).toBeGreaterThanOrEqual(150_000);
});

it('gives null for a process that does not exist, or none at all', () => {
  expect(processCpuUs(undefined)).toBeNull();
  expect(processCpuUs(2 ** 30)).toBeNull();
});
