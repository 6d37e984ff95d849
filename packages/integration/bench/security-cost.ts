// What security costs: calls per second over plain TCP, TLS, a shared key (per-message MACs) and
// TLS with a key, one call at a time and 128 in flight, for a small call and a 64 KiB one. The
// daemon runs in its own process (the security test fixture); this process is the client.
// Rounds alternate between the setups so that load from elsewhere hits them alike; the median of
// the rounds is printed, with each figure as a ratio of plain TCP's.
//   node --conditions=@cinder/source --import ../../tooling/node-ts/register.mjs bench/security-cost.ts [--seconds 2] [--rounds 3]
import { parseArgs } from 'node:util';
import { connect, type ProxyOptions, type Remote } from '@cinder/cinder';
import { generateTestPki, stopAllChildren } from '@cinder/test-utils';
import type { Target } from '../test/fixtures/security-objects.js';
import { type SecurityServerOptions, startSecurityServer } from '../test/security-helpers.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const KEY = 'benchmark-key-0123456789abcdef0123';
const BIG = new Uint8Array(64 * 1024).fill(7);

const pki = await generateTestPki();
const tlsServer = { cert: pki.server.certPath, key: pki.server.keyPath };
const tlsClient = { ca: pki.ca.cert };
const setups: Array<{ name: string; server: SecurityServerOptions; client: ProxyOptions }> = [
  { name: 'tcp', server: {}, client: {} },
  { name: 'tls', server: { tls: tlsServer }, client: { tls: tlsClient } },
  { name: 'key (MACs)', server: { hmacKey: KEY }, client: { hmacKey: KEY } },
  { name: 'tls + key', server: { tls: tlsServer, hmacKey: KEY }, client: { tls: tlsClient, hmacKey: KEY } },
];
const workloads: Array<{ name: string; call: (p: Remote<Target>) => Promise<unknown> }> = [
  { name: 'small', call: (p) => p.add(1, 2) },
  { name: '64 KiB', call: (p) => p.echo(BIG) },
];
const modes = [
  { name: 'sequential', inFlight: 1 },
  { name: '128 in flight', inFlight: 128 },
];

/** Calls per second with `inFlight` calls outstanding at all times, for `seconds`. */
async function measure(call: () => Promise<unknown>, inFlight: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await call();
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - t0) / 1000);
}

const results = new Map<string, number[]>();
const servers = await Promise.all(setups.map((s) => startSecurityServer(s.server)));
const proxies = setups.map((s, i) => connect<Target>(servers[i]!.uri, s.client));
try {
  for (const p of proxies) for (let i = 0; i < 500; i++) await p.add(i, i); // warm-up, both sides
  for (let round = 0; round < rounds; round++) {
    for (const w of workloads) {
      for (const m of modes) {
        for (const [i, s] of setups.entries()) {
          const key = `${w.name}|${m.name}|${s.name}`;
          const rate = await measure(() => w.call(proxies[i]!), m.inFlight);
          results.set(key, [...(results.get(key) ?? []), rate]);
        }
      }
    }
  }
} finally {
  for (const p of proxies) await p.$release();
  await stopAllChildren();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`calls/s, median of ${rounds} rounds of ${seconds} s (ratio to plain TCP)`);
const header = ['workload', 'mode', ...setups.map((s) => s.name)];
const rows: string[][] = [];
for (const w of workloads) {
  for (const m of modes) {
    const base = median(results.get(`${w.name}|${m.name}|tcp`)!);
    rows.push([
      w.name,
      m.name,
      ...setups.map((s) => {
        const rate = median(results.get(`${w.name}|${m.name}|${s.name}`)!);
        return `${Math.round(rate)} (${(rate / base).toFixed(2)})`;
      }),
    ]);
  }
}
const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
process.exit(0);
