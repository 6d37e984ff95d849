// The Cinder system of the bench, driven by the shared harness over real sockets in this process:
// every scenario with every serializer over TCP, and the transport variants over a Unix socket and
// TLS. Small counts: this checks that the figures come from real, checked work, not their speed.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCertificate } from '../src/certs.js';
import { runClient } from '../src/harness.js';
import type { ChildMessage, ClientPlan, ServerPlan } from '../src/messages.js';
import { scenarioPlan } from '../src/runner.js';
import { curveIds, isCurve, type ScenarioId, type TransportId } from '../src/scenarios.js';
import { cinderSpec, cinderSystem } from '../src/systems/cinder.js';

const dir = scratchDir('bench-cinder');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function measure(
  transport: TransportId,
  serializer: string,
  ids: readonly ScenarioId[],
  serverPlan: ServerPlan,
  tls?: { ca: string },
): Promise<ChildMessage[]> {
  const server = await cinderSystem.startServer(serverPlan);
  try {
    const plan: ClientPlan = {
      address: server.address,
      transport,
      serializer,
      runs: 1,
      ...(tls ? { tls } : {}),
      scenarios: ids.map((id) => ({
        ...scenarioPlan(id, 'quick'),
        count: id === 'transfer' ? 2 : 30,
        warmup: id === 'transfer' ? 1 : 2,
        warmupMs: 0,
      })),
    };
    const messages: ChildMessage[] = [];
    const driver = await cinderSystem.connect(plan);
    try {
      await runClient(driver, plan, (m) => messages.push(m));
    } finally {
      await driver.close();
    }
    return messages;
  } finally {
    await server.close();
  }
}

function runsOf(messages: ChildMessage[]) {
  return messages.filter((m) => m.type === 'run');
}

describe('Cinder system through the harness', () => {
  it('is available and offers every scenario over TCP, calls and transfer over the variants', async () => {
    expect(await cinderSpec.probe()).toMatchObject({
      available: true,
      versions: { cinder: expect.any(String) },
    });
    expect(cinderSpec.scenarios('tcp')).toHaveLength(19);
    expect(cinderSpec.scenarios('tcp', 'cbor').filter(isCurve)).toEqual(curveIds);
    expect(cinderSpec.scenarios('tcp', 'json')).toHaveLength(11);
    expect(cinderSpec.scenarios('unix')).toEqual(['calls', 'transfer']);
    expect(cinderSpec.scenarios('tls')).toEqual(['calls', 'transfer']);
    expect(cinderSpec.clientCommand({} as ClientPlan).clearEnvPrefixes).toEqual(['CINDER_']);
  });

  it('measures every scenario with the default serializer over TCP', { timeout: 30_000 }, async () => {
    // one point of the transfer curve: the rest differ only in size
    const ids = cinderSpec.scenarios('tcp').filter((id) => !isCurve(id) || id === 'curve_64KiB');
    const messages = await measure('tcp', 'cbor', ids, { transport: 'tcp' });
    expect(messages.filter((m) => m.type === 'skip')).toEqual([]);
    const runs = runsOf(messages);
    expect(runs.map((r) => r.scenario)).toEqual(ids);
    for (const r of runs) expect(r.seconds, r.scenario).toBeGreaterThan(0);
    // transfer: `count` passes over the 14 sizes
    expect(runs.find((r) => r.scenario === 'transfer')).toMatchObject({ count: 28, bytes: 105_000_000 });
    const curve = scenarioPlan('curve_64KiB', 'quick');
    expect(runs.find((r) => r.scenario === 'curve_64KiB')).toMatchObject({
      count: curve.count,
      bytes: curve.count * 65536,
    });
    const batched = runs.find((r) => r.scenario === 'batched')!;
    expect(batched.count).toBe(60);
    for (const id of ['clients1', 'clients8', 'clients64']) {
      expect(runs.find((r) => r.scenario === id)?.count, id).toBe(30);
    }
    expect(batched.seqSeconds).toBeGreaterThan(0);
    const [p50, p99, p999] = runs.find((r) => r.scenario === 'calls')!.latencyUs!;
    expect(p50).toBeGreaterThan(0);
    expect(p999).toBeGreaterThanOrEqual(p99!);
  });

  // Batches and transfers are where the serializers differ most (bytes as base64 dicts in json and
  // serpent; marshal's batch layout), so each one runs them with checked results.
  for (const serializer of ['json', 'msgpack', 'serpent', 'marshal']) {
    it(`sends calls, bytes and batches with ${serializer}`, { timeout: 30_000 }, async () => {
      const ids: ScenarioId[] = ['calls', 'pipelined16', 'transfer', 'batched'];
      const messages = await measure('tcp', serializer, ids, { transport: 'tcp' });
      expect(messages.filter((m) => m.type === 'skip')).toEqual([]);
      expect(runsOf(messages).map((r) => r.scenario)).toEqual(ids);
    });
  }

  it('runs the Unix-socket variant', { timeout: 30_000 }, async () => {
    const messages = await measure('unix', 'cbor', ['calls', 'transfer'], {
      transport: 'unix',
      socketPath: join(dir, 'cinder.sock'),
    });
    expect(runsOf(messages).map((r) => r.scenario)).toEqual(['calls', 'transfer']);
  });

  it('runs the TLS variant, verifying the server against its CA', { timeout: 30_000 }, async (ctx) => {
    const tls = await makeCertificate(dir);
    if (typeof tls === 'string') {
      ctx.skip(tls);
      return;
    }
    const messages = await measure(
      'tls',
      'cbor',
      ['calls', 'transfer'],
      { transport: 'tls', tls: { cert: tls.cert, key: tls.key } },
      { ca: tls.ca },
    );
    expect(runsOf(messages).map((r) => r.scenario)).toEqual(['calls', 'transfer']);
  });

  it('refuses a TLS server it cannot verify', { timeout: 30_000 }, async (ctx) => {
    const tls = await makeCertificate(mkdtempSync(join(dir, 'own-')));
    if (typeof tls === 'string') {
      ctx.skip(tls);
      return;
    }
    const other = mkdtempSync(join(dir, 'other-'));
    const stranger = await makeCertificate(other);
    if (typeof stranger === 'string') {
      ctx.skip(stranger);
      return;
    }
    await expect(
      measure(
        'tls',
        'cbor',
        ['calls'],
        { transport: 'tls', tls: { cert: tls.cert, key: tls.key } },
        {
          ca: stranger.ca,
        },
      ),
    ).rejects.toMatchObject({ name: 'SecurityError', message: expect.stringMatching(/self-signed/) });
  });
});
