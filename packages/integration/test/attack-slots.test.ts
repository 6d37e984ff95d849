// Attack: hoarding connection slots. Idle handshaken connections from a few addresses, or
// half-open ones from many addresses reopened as fast as they are dropped, used to take every
// slot so that a client from another address got CONNECTFAIL maxConnections. The daemon now
// reclaims slots under pressure; a good client from 127.0.0.1 must get in every time.
//
// Scaled down from the report (9 × 512 idle, 49 addresses of half-open churn, against 4096 slots)
// to the same shape with fewer sockets: maxConnections 256, maxConnectionsPerClient 32. Each
// attack runs with Pyro5 and Pyro4 framing, over TLS, and against a daemon that requires a key.
import { connect as netConnect, type Socket } from 'node:net';
import { MsgType } from '@cinder/protocol';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import {
  type Attacker,
  type AttackVariant,
  expectServed,
  goodClientWait,
  sleep,
  startVariantEchoServer,
  VARIANTS,
  type VariantApp,
  variantConnectFrame,
} from './attack-helpers.js';

const LIMITS = { CINDER_MAX_CONNECTIONS: '256', CINDER_MAX_CONNECTIONS_PER_CLIENT: '32' };
type Cleanup = (fn: OnTestFinishedHandler) => void;

async function app(fin: Cleanup, variant: AttackVariant, env: Record<string, string>): Promise<VariantApp> {
  const a = await startVariantEchoServer(variant, { env });
  fin(() => a.stop());
  return a;
}

/** Opens `count` handshaken connections from `localAddress`; returns those the daemon accepted. */
async function idleConnections(
  target: VariantApp,
  localAddress: string,
  count: number,
  fin: Cleanup,
): Promise<Attacker[]> {
  const opened = await Promise.all(
    Array.from({ length: count }, async () => {
      const a = await target.attacker(localAddress).catch(() => undefined);
      if (a === undefined) return undefined; // a TLS handshake the daemon dropped to reclaim its slot
      fin(() => a.destroy());
      a.send(variantConnectFrame(target));
      const reply = await a.next(10_000).catch(() => undefined);
      return reply?.type === MsgType.CONNECTOK ? a : undefined;
    }),
  );
  return opened.filter((a): a is Attacker => a !== undefined);
}

// Each variant's tests run one after the other (the churn test measures a good client's waits;
// several of them side by side on a 2-core machine would measure each other).
describe.each([VARIANTS.pyro5, VARIANTS.pyro4, VARIANTS.tls, VARIANTS.keyed])(
  'attack: connection slots ($name)',
  (variant) => {
    it('9 addresses × maxConnectionsPerClient idle handshaken connections do not lock out a client from another address', async ({
      onTestFinished: fin,
    }) => {
      const target = await app(fin, variant, LIMITS);
      let held = 0;
      for (let i = 2; i <= 10; i++) held += (await idleConnections(target, `127.0.0.${i}`, 32, fin)).length;
      // every slot is taken (or was, before the newest ones reclaimed the oldest)
      expect(held).toBeGreaterThanOrEqual(256);
      await expectServed(target, target.clientOptions);
      // and again: each newcomer gets in
      for (let i = 0; i < 5; i++) await goodClientWait(target, target.clientOptions, 2000);
      expect(target.alive()).toBe(true);
    }, 60_000);

    // Half-open connections say nothing, so the framing does not matter (no Pyro4 variant); over
    // TLS they are TCP connections that never start their TLS handshake.
    it.skipIf(variant === VARIANTS.pyro4)(
      'half-open connections from 49 addresses, reopened as they are dropped, do not lock out a client from another address',
      async ({ onTestFinished: fin }) => {
        const target = await app(fin, variant, LIMITS);
        const sockets = new Set<Socket>();
        let running = true;
        let opened = 0;
        const open = (localAddress: string): void => {
          if (!running) return;
          const s = netConnect({ host: target.host, port: target.port, localAddress });
          opened++;
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => {
            sockets.delete(s);
            // reopened as soon as the daemon drops it
            setTimeout(() => open(localAddress), 5);
          });
        };
        fin(() => {
          running = false;
          for (const s of sockets) s.destroy();
        });
        for (let i = 0; i < 49; i++) for (let j = 0; j < 16; j++) open(`127.0.1.${i + 1}`);
        await sleep(1500);
        let served = 0;
        const waits: number[] = [];
        for (let i = 0; i < 20; i++) {
          try {
            // A locked-out client is refused at once (CONNECTFAIL); a slow one is only the churn's
            // CPU on a loaded machine (up to ~2 s at load 10), so it gets 5 s.
            waits.push(await goodClientWait(target, target.clientOptions, 5000));
            served++;
          } catch {
            // refused or dropped: counted below
          }
        }
        running = false;
        console.log(
          `half-open churn (${variant.name}): ${opened} opened, good client waits ${waits.map((w) => w.toFixed(0)).join(',')} ms`,
        );
        // Over TLS no slot is taken before the TLS handshake, so nothing is reclaimed early: the
        // sockets stay until the handshake timeout. Elsewhere the daemon drops them as it must.
        if (!variant.tls) expect(opened).toBeGreaterThan(49 * 16);
        expect(served, `served ${served} of 20; waits ${waits.map((w) => w.toFixed(0)).join(',')}`).toBe(20);
        for (const s of sockets) s.destroy();
        await expectServed(target, target.clientOptions);
      },
      60_000,
    );
  },
);
