// Transport benchmark (not a test): ping-pong round trips/s and pipelined messages/s with 60-byte
// payloads, Cinder framed connections over TCP and Unix sockets, next to a raw node:net echo with a
// 4-byte length prefix in the same process, so the framing and connection overhead shows directly.
//
//   node --conditions=@cinder/source --import ./tooling/node-ts/register.mjs \
//     packages/transport/bench/transport-bench.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@cinder/protocol';
import { type Connection, type Endpoint, type Transport, tcpTransport, unixTransport } from '../src/index.js';

const quick = process.argv.includes('--quick');
const PING_PONGS = quick ? 5_000 : 30_000;
const PIPELINED = quick ? 50_000 : 300_000;
/** Messages in flight at most in the pipelined runs. */
const WINDOW = 1000;
const RUNS = quick ? 1 : 3;
const PAYLOAD = Buffer.alloc(60, 0x61);
const framing = { versions: [502] as const, maxMessageSize: 1 << 20 };

interface Client {
  /** Sends one request; returns false when the writer should wait for `drained()`. */
  send(seq: number): boolean;
  drained(): Promise<void>;
  onReply(cb: () => void): void;
  close(): Promise<void>;
}

interface Variant {
  name: string;
  start(): Promise<{ client: Client; stop(): Promise<void> }>;
}

// --- Cinder ------------------------------------------------------------------------------------

function cinderVariant(name: string, transport: Transport, endpoint: () => Endpoint): Variant {
  return {
    name,
    async start() {
      const listener = await transport.listen({ endpoint: endpoint(), framing }, (conn) => {
        conn.setHandler({
          onMessage: (m) => {
            m.type = 5;
            conn.send(m);
          },
          onError: () => conn.destroy(),
          onClose: () => {},
        });
      });
      const conn: Connection = await transport.connect({ endpoint: listener.endpoint, framing });
      let reply: () => void = () => {};
      conn.setHandler({ onMessage: () => reply(), onError: () => {}, onClose: () => {} });
      const request: Message = {
        type: 4,
        flags: 0,
        seq: 0,
        serializerId: 3,
        correlationId: null,
        annotations: null,
        payload: PAYLOAD,
      };
      return {
        client: {
          send(seq) {
            request.seq = seq & 0xffff;
            return conn.send(request);
          },
          drained: () => conn.drained(),
          onReply(cb) {
            reply = cb;
          },
          close: () => conn.close(),
        },
        stop: () => listener.close(),
      };
    },
  };
}

// --- Raw node:net, 4-byte length prefix ---------------------------------------------------------

/** Splits a length-prefixed stream into frames; calls `onFrame(buf, start, end)` per frame. */
function lengthPrefixedReader(onFrame: (buf: Buffer, start: number, end: number) => void) {
  let pending: Buffer | null = null;
  return (chunk: Buffer) => {
    let buf = chunk;
    if (pending) {
      buf = Buffer.concat([pending, chunk]);
      pending = null;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (buf.length - off - 4 < len) break;
      onFrame(buf, off, off + 4 + len);
      off += 4 + len;
    }
    if (off < buf.length) pending = buf.subarray(off);
  };
}

/**
 * `corked`: the echo corks the frames of one read and the client those of one tick, as Cinder
 * does; without it every frame is its own write, which is what naive code does.
 */
function rawVariant(
  name: string,
  listenArgs: () => { host: string; port: number } | { path: string },
  corked: boolean,
): Variant {
  return {
    name,
    async start() {
      const server: Server = netServer({ noDelay: true }, (socket) => {
        const read = lengthPrefixedReader((buf, start, end) => {
          socket.write(buf.subarray(start, end));
        });
        socket.on('data', (chunk: Buffer) => {
          if (corked) socket.cork();
          read(chunk);
          if (corked) socket.uncork();
        });
        socket.on('error', () => {});
      });
      const args = listenArgs();
      await new Promise<void>((resolve) => server.listen(args, resolve));
      const address = server.address();
      const socket: Socket = await new Promise((resolve) => {
        const s =
          typeof address === 'string'
            ? netConnect({ path: address })
            : netConnect({ host: '127.0.0.1', port: address!.port, noDelay: true });
        s.once('connect', () => resolve(s));
      });
      let reply: () => void = () => {};
      socket.on(
        'data',
        lengthPrefixedReader(() => reply()),
      );
      const frame = Buffer.alloc(4 + PAYLOAD.length);
      frame.writeUInt32BE(PAYLOAD.length, 0);
      PAYLOAD.copy(frame, 4);
      let corkedNow = false;
      const uncork = () => {
        corkedNow = false;
        socket.uncork();
      };
      return {
        client: {
          send: () => {
            if (corked && !corkedNow) {
              corkedNow = true;
              socket.cork();
              process.nextTick(uncork);
            }
            return socket.write(frame);
          },
          drained: () =>
            socket.writableNeedDrain ? new Promise((r) => socket.once('drain', r)) : Promise.resolve(),
          onReply(cb) {
            reply = cb;
          },
          close: () =>
            new Promise<void>((resolve) => {
              socket.once('close', () => resolve());
              socket.end();
            }),
        },
        stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
  };
}

// --- Measurements --------------------------------------------------------------------------------

interface Figure {
  /** Operations per second of wall time. */
  rate: number;
  /** CPU time (user + system, both ends) per operation in µs: steadier than wall time on a busy machine. */
  cpuUs: number;
}

async function measure(n: number, run: () => Promise<void>): Promise<Figure> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: n / seconds, cpuUs: (used.user + used.system) / n };
}

function pingPong(client: Client, n: number): Promise<Figure> {
  return measure(n, () => pingPongRun(client, n));
}

function pipelined(client: Client, n: number): Promise<Figure> {
  return measure(n, () => pipelinedRun(client, n));
}

async function pingPongRun(client: Client, n: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let done = 0;
    client.onReply(() => {
      if (++done === n) resolve();
      else client.send(done);
    });
    client.send(0);
  });
}

async function pipelinedRun(client: Client, n: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let sent = 0;
    let received = 0;
    let blocked = false;
    const pump = () => {
      while (sent < n && sent - received < WINDOW && !blocked) {
        if (!client.send(sent++)) {
          blocked = true;
          client.drained().then(
            () => {
              blocked = false;
              pump();
            },
            (err: unknown) => {
              throw err;
            },
          );
        }
      }
    };
    client.onReply(() => {
      if (++received === n) resolve();
      else if (sent - received <= WINDOW / 2) pump();
    });
    pump();
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function show(figures: Figure[]): string {
  const rate = Math.round(median(figures.map((f) => f.rate))).toLocaleString('en-US');
  const cpu = median(figures.map((f) => f.cpuUs)).toFixed(1);
  return `${rate.padStart(9)} /s ${cpu.padStart(6)} µs`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cinder-bench-'));
  let n = 0;
  const sockPath = () => join(dir, `b${++n}.sock`);
  const variants: Variant[] = [
    rawVariant('raw tcp', () => ({ host: '127.0.0.1', port: 0 }), false),
    rawVariant('raw tcp corked', () => ({ host: '127.0.0.1', port: 0 }), true),
    cinderVariant('cinder tcp', tcpTransport(), () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 })),
    rawVariant('raw unix', () => ({ path: sockPath() }), false),
    rawVariant('raw unix corked', () => ({ path: sockPath() }), true),
    cinderVariant('cinder unix', unixTransport(), () => ({ kind: 'unix', path: sockPath() })),
  ];
  console.log(
    `node ${process.version}, 60-byte payloads, ${PING_PONGS} ping-pongs, ${PIPELINED} pipelined (window ${WINDOW}), median of ${RUNS}`,
  );
  console.log('               ping-pong (rate, CPU/round trip)   pipelined (rate, CPU/message)');
  // All variants stay up and take turns run by run, so a burst of load elsewhere on the machine
  // hurts them alike instead of whichever happened to run at that moment.
  const started = [];
  try {
    for (const variant of variants)
      started.push({ variant, ...(await variant.start()), rtt: [] as Figure[], pipe: [] as Figure[] });
    for (const v of started) {
      // Warm-up, so the JIT has seen the hot paths before we time them.
      await pingPong(v.client, 2000);
      await pipelined(v.client, 20_000);
    }
    for (let i = 0; i < RUNS; i++) {
      for (const v of started) v.rtt.push(await pingPong(v.client, PING_PONGS));
      for (const v of started) v.pipe.push(await pipelined(v.client, PIPELINED));
    }
    for (const v of started) {
      await v.client.close();
      await v.stop();
      console.log(`${v.variant.name.padEnd(16)} ${show(v.rtt).padStart(30)}   ${show(v.pipe).padStart(30)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
