// Attack: a client that sends calls and never reads the replies. The daemon used to buffer every
// reply (600 × 1 MB echo calls: +556 MB RSS; with the COMPRESSED flag, a ~1 KB frame asking echo to
// return 1 MB, thousands of frames took RSS to 9.65 GB). Now no call of a peer starts while more
// than maxBufferedOutput bytes wait for it, waiting calls are bounded in bytes as well as in count,
// and reading pauses meanwhile: memory stays bounded and good clients are served. Replies to our own
// calls are still read, so two peers that both send more than the other reads do not deadlock.

import { connect, Daemon, expose } from '@cinder/cinder';
import { encodeMessage, type Message, MsgType } from '@cinder/protocol';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import {
  type AttackedApp,
  Attacker,
  attackerSession,
  connectFrame,
  expectServed,
  invokeFrame,
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

/** One frame's bytes, as the wire carries them (zlib-compressed with `compress`). */
function frameBytes(message: Message, compress = false): Buffer {
  return Buffer.concat(
    encodeMessage(message, { version: 502, maxMessageSize: 2 ** 31, compressAbove: compress ? 1 : 0 }),
  );
}

/** A COMPRESSED frame (the encoder sets the flag) asking echo to return `size` bytes of text. */
function compressedEcho(size: number): Buffer {
  return frameBytes(invokeFrame(json5, 'test.echoserver', 'echo', ['y'.repeat(size)]), true);
}

/** Sends `count` copies of a frame, seq numbers from `firstSeq` (Pyro5's seq is at offset 10). */
function sendCopies(raw: Attacker, frame: Buffer, count: number, firstSeq = 1): void {
  for (let i = 0; i < count; i++) {
    const copy = Buffer.from(frame);
    copy.writeUInt16BE((firstSeq + i) & 0xffff, 10);
    raw.write(copy);
  }
}

/** A raw connection that asked for Cinder's capabilities (pipelined calls) in its CONNECT. */
async function multiplexedSession(target: AttackedApp): Promise<Attacker> {
  const raw = await Attacker.open({ host: target.host, port: target.port });
  const connect = connectFrame(json5, 'test.echoserver');
  connect.annotations = new Map([['CNDR', Uint8Array.of(1, 0, 0x0f)]]);
  raw.send(connect);
  const reply = await raw.next();
  expect(reply.type).toBe(MsgType.CONNECTOK);
  expect((reply.annotations?.get('CNDR')?.[2] ?? 0) & 0x01).toBe(0x01);
  return raw;
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

async function unreadAttack(
  target: AttackedApp,
  frames: Message[],
  fin: Cleanup,
  send?: (raw: Attacker) => void,
): Promise<number> {
  const before = target.rss();
  const raw = await attackerSession({ host: target.host, port: target.port }, 'test.echoserver');
  fin(() => raw.destroy());
  raw.socket.pause(); // never reads a reply
  for (const f of frames) raw.send(f);
  send?.(raw);
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

  it('COMPRESSED amplification: 3,000 frames of ~1.1 KB each asking echo for 1 MB, never read: RSS stays bounded', async ({
    onTestFinished: fin,
  }) => {
    const target = await app(fin);
    const frame = compressedEcho(MB);
    expect(frame.length).toBeLessThan(2048);
    const peak = await unreadAttack(target, [], fin, (raw) => sendCopies(raw, frame, 3000));
    console.log(`compressed amplification: RSS +${(peak / MB).toFixed(0)} MB`);
    expect(peak).toBeLessThan(RSS_BOUND);
    await sleep(500);
    await expectServed(target);
  }, 60_000);

  it('COMPRESSED amplification on a multiplexed (Cinder) connection: 256 slow calls hold every slot, then 1,100 ~1.1 KB frames asking echo for 1 MB wait behind them, never read: bounded, and memory comes back', async ({
    onTestFinished: fin,
  }) => {
    // The report's 9.65 GB case. Each waiting call used to hold its inflated 1 MB payload (the
    // backlog was bounded by count only), and once the slow calls ended every one of them was
    // served into an output nobody read. Measured before: RSS +1.9 GB, a good client timed out
    // (10 s), +2.5 GB still held after the attacker left.
    const target = await app(fin);
    const before = target.rss();
    const raw = await multiplexedSession(target);
    fin(() => raw.destroy());
    raw.socket.pause(); // never reads a reply
    sendCopies(raw, frameBytes(invokeFrame(json5, 'test.echoserver', 'slow', [])), 256, 40_000);
    sendCopies(raw, compressedEcho(MB), 1100);
    let peak = 0;
    for (let i = 0; i < 24; i++) {
      await sleep(250);
      peak = Math.max(peak, target.rss() - before);
    }
    await expectServed(target);
    console.log(`multiplexed compressed amplification: RSS +${(peak / MB).toFixed(0)} MB`);
    expect(peak).toBeLessThan(RSS_BOUND);
    raw.destroy();
    await sleep(1000);
    const after = target.rss() - before;
    console.log(`... after the attacker left: RSS +${(after / MB).toFixed(0)} MB`);
    expect(after).toBeLessThan(RSS_BOUND);
    await expectServed(target);
  }, 60_000);
});

@expose
class Echo {
  echo(value: unknown): unknown {
    return value;
  }
}

describe('the output bound does not deadlock a client that sends more than it reads', () => {
  it('10,000 pipelined 4 KB echo calls (40 MB each way) complete', async () => {
    // Both ends queue more than maxBufferedOutput: the client's calls wait for the daemon to read,
    // the daemon's replies wait for the client. When the bound stopped *reading*, each end waited
    // for the other and the client dropped the connection after drainTimeoutMs (30 s).
    await using daemon = await Daemon.start({ useEnvironment: false, config: { heartbeatMs: 0 } });
    const uri = daemon.register(new Echo(), 'echo');
    await using proxy = connect<Echo>(uri, { useEnvironment: false, config: { heartbeatMs: 0 } });
    const text = 'x'.repeat(4000);
    const started = performance.now();
    const replies = await Promise.all(Array.from({ length: 10_000 }, () => proxy.echo(text)));
    console.log(`10,000 × 4 KB pipelined: ${(performance.now() - started).toFixed(0)} ms`);
    expect(replies.length).toBe(10_000);
    expect(replies.every((r) => r === text)).toBe(true);
  }, 60_000);
});
