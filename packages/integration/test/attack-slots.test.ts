// Attack: hoarding connection slots. Idle handshaken connections from a few addresses, or
// half-open ones from many addresses reopened as fast as they are dropped, used to take every
// slot so that a client from another address got CONNECTFAIL maxConnections. The daemon now
// reclaims slots under pressure; a good client from 127.0.0.1 must get in every time.
//
// Scaled down from the report (9 × 512 idle, 49 addresses of half-open churn, against 4096 slots)
// to the same shape with fewer sockets: maxConnections 256, maxConnectionsPerClient 32.
import { connect as netConnect, type Socket } from 'node:net';
import { MsgType } from '@cinder/protocol';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import {
  type AttackedApp,
  Attacker,
  connectFrame,
  expectServed,
  goodClientWait,
  json5,
  sleep,
  startEchoServer,
} from './attack-helpers.js';

const LIMITS = { CINDER_MAX_CONNECTIONS: '256', CINDER_MAX_CONNECTIONS_PER_CLIENT: '32' };
type Cleanup = (fn: OnTestFinishedHandler) => void;

async function app(fin: Cleanup, env: Record<string, string>): Promise<AttackedApp> {
  const a = await startEchoServer({ env });
  fin(() => a.stop());
  return a;
}

/** Opens `count` handshaken connections from `localAddress`; returns those the daemon accepted. */
async function idleConnections(
  target: AttackedApp,
  localAddress: string,
  count: number,
  fin: Cleanup,
): Promise<Attacker[]> {
  const opened = await Promise.all(
    Array.from({ length: count }, async () => {
      const a = await Attacker.open({ host: target.host, port: target.port, localAddress });
      fin(() => a.destroy());
      a.send(connectFrame(json5, 'test.echoserver'));
      const reply = await a.next(10_000).catch(() => undefined);
      return reply?.type === MsgType.CONNECTOK ? a : undefined;
    }),
  );
  return opened.filter((a): a is Attacker => a !== undefined);
}

describe.concurrent('attack: connection slots', () => {
  it('9 addresses × maxConnectionsPerClient idle handshaken connections do not lock out a client from another address', async ({
    onTestFinished: fin,
  }) => {
    const target = await app(fin, LIMITS);
    let held = 0;
    for (let i = 2; i <= 10; i++) held += (await idleConnections(target, `127.0.0.${i}`, 32, fin)).length;
    // every slot is taken (or was, before the newest ones reclaimed the oldest)
    expect(held).toBeGreaterThanOrEqual(256);
    await expectServed(target);
    // and again: each newcomer gets in
    for (let i = 0; i < 5; i++) await goodClientWait(target, {}, 2000);
    expect(target.alive()).toBe(true);
  }, 60_000);

  it('half-open connections from 49 addresses, reopened as they are dropped, do not lock out a client from another address', async ({
    onTestFinished: fin,
  }) => {
    const target = await app(fin, LIMITS);
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
        waits.push(await goodClientWait(target, {}, 2000));
        served++;
      } catch {
        // refused or dropped: counted below
      }
    }
    running = false;
    console.log(
      `half-open churn: ${opened} opened, good client waits ${waits.map((w) => w.toFixed(0)).join(',')} ms`,
    );
    expect(opened).toBeGreaterThan(49 * 16);
    expect(served, `served ${served} of 20; waits ${waits.map((w) => w.toFixed(0)).join(',')}`).toBe(20);
    for (const s of sockets) s.destroy();
    await expectServed(target);
  }, 60_000);
});
