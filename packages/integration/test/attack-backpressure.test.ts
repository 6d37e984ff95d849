// Attack: a client that sends calls and never reads the replies. The daemon used to buffer every
// reply (600 × 1 MB echo calls: +556 MB RSS; with the COMPRESSED flag, a ~1 KB frame asking echo to
// return 1 MB, thousands of frames took RSS to 9.65 GB). Now a connection's queued output stops the
// daemon reading (and dispatching) from it: memory stays bounded and good clients are served.
import { deflateSync } from 'node:zlib';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import {
  type AttackedApp,
  attackerSession,
  expectServed,
  json5,
  sleep,
  startEchoServer,
} from './attack-helpers.js';

type Cleanup = (fn: OnTestFinishedHandler) => void;
const MB = 1024 * 1024;
/** RSS growth the suite allows the daemon under these attacks (8 MiB of queued output per connection, and slack). */
const RSS_BOUND = 100 * MB;

async function app(fin: Cleanup): Promise<AttackedApp> {
  const a = await startEchoServer();
  fin(() => a.stop());
  return a;
}

function echoCall(seq: number, payload: Uint8Array, flags = 0): Message {
  return {
    type: MsgType.INVOKE,
    flags,
    seq,
    serializerId: json5.id,
    correlationId: null,
    annotations: null,
    payload,
  };
}

async function unreadAttack(target: AttackedApp, frames: Message[], fin: Cleanup): Promise<number> {
  const before = target.rss();
  const raw = await attackerSession({ host: target.host, port: target.port }, 'test.echoserver');
  fin(() => raw.destroy());
  raw.socket.pause(); // never reads a reply
  for (const f of frames) raw.send(f);
  let peak = 0;
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    peak = Math.max(peak, target.rss() - before);
  }
  await expectServed(target);
  raw.destroy();
  return peak;
}

describe.concurrent('attack: replies never read', () => {
  it('600 × 1 MB echo calls whose replies are never read: RSS stays bounded, good clients served', async ({
    onTestFinished: fin,
  }) => {
    const target = await app(fin);
    const big = 'x'.repeat(MB);
    const payload = json5.encodeCall({
      object: 'test.echoserver',
      method: 'echo',
      params: [big],
      kwargs: {},
    });
    const frames = Array.from({ length: 600 }, (_, i) => echoCall((i + 1) & 0xffff, payload));
    const peak = await unreadAttack(target, frames, fin);
    console.log(`unread 1 MB echoes: RSS +${(peak / MB).toFixed(0)} MB`);
    expect(peak).toBeLessThan(RSS_BOUND);
    await sleep(500);
    await expectServed(target);
  }, 60_000);

  it('COMPRESSED amplification: thousands of ~1 KB frames each asking echo for 1 MB, never read: RSS stays bounded', async ({
    onTestFinished: fin,
  }) => {
    const target = await app(fin);
    const call = json5.encodeCall({
      object: 'test.echoserver',
      method: 'echo',
      params: ['y'.repeat(MB)],
      kwargs: {},
    });
    const compressed = deflateSync(call, { level: 9 });
    expect(compressed.length).toBeLessThan(2048);
    const frames = Array.from({ length: 3000 }, (_, i) =>
      echoCall((i + 1) & 0xffff, compressed, Flags.COMPRESSED),
    );
    const peak = await unreadAttack(target, frames, fin);
    console.log(`compressed amplification: RSS +${(peak / MB).toFixed(0)} MB`);
    expect(peak).toBeLessThan(RSS_BOUND);
    await sleep(500);
    await expectServed(target);
  }, 60_000);
});
