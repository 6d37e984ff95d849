// processCpuUs reads a process's CPU time from /proc: checked against Node's own account of this
// process, before and after burning some CPU. The loop runs until Node says 200 ms of CPU were
// spent, not for a fixed wall time, so a loaded machine only makes it take longer (bounded).

import { expect, it } from 'vitest';
import { processCpuUs } from '../src/harness.js';

const CPU_TARGET_US = 200_000;
const WALL_LIMIT_MS = 15_000;

it('reads the CPU time of a process from /proc, in microseconds', { timeout: 30_000 }, () => {
  const before = processCpuUs(process.pid)!;
  const own0 = process.cpuUsage();
  const usedUs = () => {
    const u = process.cpuUsage(own0);
    return u.user + u.system;
  };
  let x = 0;
  const t0 = performance.now();
  while (usedUs() < CPU_TARGET_US && performance.now() - t0 < WALL_LIMIT_MS) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
  }
  const own = usedUs();
  const spent = processCpuUs(process.pid)! - before;
  expect(x).toBeGreaterThan(0);
  // Even at a load of 25 on 2 cores, 15 s of wall time give this loop well over 100 ms of CPU.
  expect(own).toBeGreaterThanOrEqual(100_000);
  // /proc counts in clock ticks (10 ms): allow two ticks either way around Node's figure, plus 10%
  // (a figure in ticks or milliseconds instead of microseconds, or another field, is far outside).
  expect(Math.abs(spent - own)).toBeLessThanOrEqual(20_000 + 0.1 * own);
});

it('gives null for a process that does not exist, or none at all', () => {
  expect(processCpuUs(undefined)).toBeNull();
  expect(processCpuUs(2 ** 30)).toBeNull();
});
