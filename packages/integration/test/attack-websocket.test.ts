// Attack over WebSocket: the back-pressure attacks of attack-backpressure.test.ts, carried in
// WebSocket messages to a daemon in its own process (fixtures/ws-server.ts, a TCP and a ws
// listener). The attacker speaks raw WebSocket framing over a socket it controls and never reads.
// Before the WebSocket connection shared the connection core with sockets, a paused ws connection
// went on decoding (inflating) every frame of the message it had read into a backlog, and nothing
// dropped a peer that read none of its output.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { connect } from '@cinder/cinder';
import { encodeMessage, FrameReader, type Message, MsgType } from '@cinder/protocol';
import { RawFrameClient, type StartedChild, startChild } from '@cinder/test-utils';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import { appEnv, connectFrame, invokeFrame, json5, SERVED_WITHIN_MS, sleep } from './attack-helpers.js';

type Cleanup = (fn: OnTestFinishedHandler) => void;
const MB = 1024 * 1024;
/** RSS growth allowed (8 MiB of queued output per connection, one message held, and slack). */
const RSS_BOUND = 100 * MB;
const serverScript = new URL('./fixtures/ws-server.ts', import.meta.url).pathname;

interface WsApp {
  child: StartedChild;
  /** PYRO: uri of the TCP listener (for good clients). */
  uri: string;
  /** ws://127.0.0.1:port/cinder */
  wsHost: string;
  wsPort: number;
  alive(): boolean;
  rss(): number;
}

async function startWsServer(fin: Cleanup, drainTimeoutMs = 30_000): Promise<WsApp> {
  const child = startChild(serverScript, [String(drainTimeoutMs)], { env: appEnv() });
  fin(async () => {
    await child.stop('SIGKILL', 0);
  });
  const uri = (await child.waitForLine(/^URI = (\S+)$/, 30_000))[1]!;
  const ws = (await child.waitForLine(/^WSURI = ws:\/\/([^:]+):(\d+)\/cinder#/, 30_000)) as RegExpMatchArray;
  const pid = child.child.pid!;
  return {
    child,
    uri,
    wsHost: ws[1]!,
    wsPort: Number(ws[2]),
    alive: () => child.child.exitCode === null && child.child.signalCode === null,
    rss: () => {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
  };
}

/** The process is alive and a good client (over TCP) is served within 200 ms (best of three). */
async function expectServed(app: WsApp): Promise<void> {
  expect(app.alive(), `daemon died: ${app.child.stderr().slice(-2000)}`).toBe(true);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3 && best > SERVED_WITHIN_MS; i++) {
    const t0 = performance.now();
    await using proxy = connect<{ echo(v: unknown): Promise<unknown> }>(app.uri, {
      useEnvironment: false,
      config: { commTimeoutMs: 10_000 },
    });
    expect(await proxy.echo('alive')).toBe('alive');
    best = Math.min(best, performance.now() - t0);
  }
  expect(best, `a good client waited ${best.toFixed(0)} ms`).toBeLessThan(SERVED_WITHIN_MS);
}

/** One client-to-server WebSocket frame (binary, final, masked with a zero key). */
function wsFrame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(6) : n < 65536 ? Buffer.alloc(8) : Buffer.alloc(14);
  head[0] = 0x82;
  if (n < 126) head[1] = 0x80 | n;
  else if (n < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Server-to-client WebSocket frames (unmasked) → their payloads, then Pyro frames. */
function wsReader(): { push(chunk: Buffer, onFrame: (m: Message) => void): void } {
  const pyro = new FrameReader({ maxMessageSize: 2 ** 31, versions: [502] });
  let pending = Buffer.alloc(0);
  return {
    push(chunk, onFrame) {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (pending.length < 2) return;
        let len = pending[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (pending.length < 4) return;
          len = pending.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (pending.length < 10) return;
          len = Number(pending.readBigUInt64BE(2));
          at = 10;
        }
        if (pending.length < at + len) return;
        const opcode = pending[0]! & 0x0f;
        const body = pending.subarray(at, at + len);
        pending = pending.subarray(at + len);
        if (opcode === 2 || opcode === 0) pyro.push(body, onFrame);
      }
    },
  };
}

/** A raw WebSocket client that speaks Pyro frames in binary messages; nothing more. */
class WsAttacker extends RawFrameClient<Message> {
  static async open(host: string, port: number): Promise<WsAttacker> {
    const socket: Socket = await new Promise((resolve, reject) => {
      const req = request({
        host,
        port,
        path: '/cinder',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': Buffer.from('attacker-key-16b').toString('base64'),
        },
      });
      req.once('upgrade', (_res, s: Socket) => resolve(s));
      req.once('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.once('error', reject);
      req.end();
    });
    const reader = wsReader();
    return new WsAttacker(socket, {
      push: (chunk, onFrame) => reader.push(chunk, onFrame),
      encode: (m) => wsFrame(Buffer.concat(encodeMessage(m, { version: 502, maxMessageSize: 2 ** 31 }))),
    });
  }

  /** Several Pyro frames in one WebSocket message. */
  sendFrames(frames: Buffer[]): void {
    this.write(wsFrame(Buffer.concat(frames)));
  }
}

/** A raw ws session past the handshake; with `cinder`, it asked for pipelined calls. */
async function session(app: WsApp, fin: Cleanup, cinder = false): Promise<WsAttacker> {
  const raw = await WsAttacker.open(app.wsHost, app.wsPort);
  fin(() => raw.destroy());
  const hello = connectFrame(json5, 'test.echoserver');
  if (cinder) hello.annotations = new Map([['CNDR', Uint8Array.of(1, 0, 0x0f)]]);
  raw.send(hello);
  const reply = await raw.next(10_000);
  expect(reply.type).toBe(MsgType.CONNECTOK);
  return raw;
}

/** `count` copies of a Pyro frame (zlib-compressed with `compress`), seq numbers from `firstSeq`. */
function frameCopies(message: Message, count: number, firstSeq: number, compress = false): Buffer[] {
  const frame = Buffer.concat(
    encodeMessage(message, { version: 502, maxMessageSize: 2 ** 31, compressAbove: compress ? 1 : 0 }),
  );
  return Array.from({ length: count }, (_, i) => {
    const copy = Buffer.from(frame);
    copy.writeUInt16BE((firstSeq + i) & 0xffff, 10); // Pyro5's seq
    return copy;
  });
}

async function peakRss(app: WsApp, before: number, ms: number): Promise<number> {
  let peak = 0;
  for (let waited = 0; waited < ms; waited += 250) {
    await sleep(250);
    if (!app.alive()) break;
    peak = Math.max(peak, app.rss() - before);
  }
  return peak;
}

describe.concurrent('attack over WebSocket: replies never read', () => {
  it('200 × 1 MB echo calls whose replies are never read: RSS bounded, good clients served, the peer dropped after drainTimeoutMs', async ({
    onTestFinished: fin,
  }) => {
    const app = await startWsServer(fin, 1000);
    const before = app.rss();
    const raw = await session(app, fin);
    raw.socket.pause(); // never reads a reply
    const call = invokeFrame(json5, 'test.echoserver', 'echo', ['x'.repeat(MB)]);
    const t0 = performance.now();
    for (let i = 1; i <= 200; i++) raw.send({ ...call, seq: i });
    const dropped = raw.closed.then(() => performance.now() - t0);
    const peak = await peakRss(app, before, 5000);
    await expectServed(app);
    const closedAt = await Promise.race([
      dropped,
      sleep(Math.max(0, 6000 - (performance.now() - t0))).then(() => 0),
    ]);
    console.log(
      `ws unread 1 MB echoes: RSS +${(peak / MB).toFixed(0)} MB, dropped after ${closedAt ? `${closedAt.toFixed(0)} ms` : 'never (6 s)'}`,
    );
    expect(peak).toBeLessThan(RSS_BOUND);
    // drainTimeoutMs 1 s: the output stops shrinking once the socket buffers are full; the peer is
    // dropped between one and two intervals later.
    expect(closedAt, 'the non-reading peer must be dropped').toBeGreaterThan(0);
    expect(closedAt).toBeLessThan(5000);
  }, 60_000);

  it('COMPRESSED amplification on a pipelined connection: 256 slow calls hold every slot, then one message of 1,100 ~1.1 KB frames asking echo for 1 MB, never read: bounded', async ({
    onTestFinished: fin,
  }) => {
    // The 1,100 frames arrive in one WebSocket message. A paused connection that decoded the rest of
    // the message it was reading would inflate each of them (1.1 GB).
    const app = await startWsServer(fin);
    const before = app.rss();
    const raw = await session(app, fin, true);
    raw.socket.pause(); // never reads a reply
    const slow = invokeFrame(json5, 'test.echoserver', 'slow', []);
    raw.sendFrames(frameCopies(slow, 256, 40_000));
    const echoes = frameCopies(
      invokeFrame(json5, 'test.echoserver', 'echo', ['y'.repeat(MB)]),
      1100,
      1,
      true,
    );
    expect(echoes[0]!.length).toBeLessThan(2048);
    raw.sendFrames(echoes);
    const peak = await peakRss(app, before, 6000);
    await expectServed(app);
    console.log(`ws pipelined compressed amplification: RSS +${(peak / MB).toFixed(0)} MB`);
    expect(peak).toBeLessThan(RSS_BOUND);
    raw.destroy();
    await sleep(1000);
    const after = app.rss() - before;
    console.log(`... after the attacker left: RSS +${(after / MB).toFixed(0)} MB`);
    expect(after).toBeLessThan(RSS_BOUND);
    await expectServed(app);
  }, 60_000);
});
