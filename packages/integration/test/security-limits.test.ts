// Resource attacks on a daemon in its own process: oversized frames (announced and compressed),
// a client that trickles bytes (slowloris), deeply nested payloads in every serializer, oversized
// batches, call floods on multiplexed and on plain connections, and 10,000 idle connections. After
// each one the daemon's own counters (connections, open descriptors, memory) are read from inside
// the process and a well-behaved client is served.
import { Buffer } from 'node:buffer';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommunicationError, connect, Daemon, expose, Flags, MsgType, type Remote } from '@cinder/cinder';
import { encodeMessage, type Message } from '@cinder/protocol';
import type { Serializer } from '@cinder/serializers';
import { startChild, stopAllChildren } from '@cinder/test-utils';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import {
  connectMessage,
  expectStillServes,
  frame,
  invokeMessage,
  json,
  RawClient,
  rawCall,
  rawSession,
  replyText,
  type SecurityServer,
  serializers,
  startSecurityServer,
} from './security-helpers.js';

const MAX_MESSAGE = 1 << 20;
const HANDSHAKE_MS = 1000;
const MAX_BATCH = 50;
const MAX_CONCURRENT = 16;

let server: SecurityServer;
let good: Remote<Target>;

@expose
class Echo {
  echo<T>(value: T): T {
    return value;
  }
}

beforeAll(async () => {
  server = await startSecurityServer({
    config: {
      maxMessageSize: MAX_MESSAGE,
      handshakeTimeoutMs: HANDSHAKE_MS,
      maxBatchSize: MAX_BATCH,
      maxConcurrentCalls: MAX_CONCURRENT,
    },
  });
  good = connect<Target>(server.uri);
  expect(await good.add(1, 2)).toBe(3);
}, 30_000);

afterAll(async () => {
  await good?.$release();
  await stopAllChildren();
});

const stillServes = () => expectStillServes(server.uri, good);

describe('message size', () => {
  it('a header announcing 4 GiB before the handshake: CONNECTFAIL from the header alone, nothing allocated', async () => {
    const before = await good.stats();
    const raw = await RawClient.open(server);
    const bytes = frame(connectMessage(json, 'sec.target'));
    bytes.writeUInt32BE(0xffff_ffff, 12); // payload length
    raw.write(bytes.subarray(0, 40));
    const reply = await raw.next();
    expect(reply.type).toBe(MsgType.CONNECTFAIL);
    expect(replyText(reply)).toMatch(/^message too large \(\d+, max=1048576\)$/);
    expect(await raw.closesWithin(2000)).toBe(true);
    const after = await good.stats();
    expect(after.rssBytes - before.rssBytes).toBeLessThan(64 * 2 ** 20);
    await stillServes();
  });

  it('an oversized INVOKE after the handshake closes that connection only', async () => {
    const raw = await rawSession(server);
    const big = frame(invokeMessage(json, 'echo', ['x'.repeat(MAX_MESSAGE + 10)]));
    raw.write(big.subarray(0, 100));
    expect(await raw.closesWithin(2000)).toBe(true);
    await using victim = connect<Target>(server.uri);
    const err = await victim.echo('y'.repeat(MAX_MESSAGE * 2)).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toMatch(/MessageTooLargeError|ConnectionClosedError/);
    await stillServes();
  });

  it('a compression bomb (20 MiB that deflate to a few KiB) is refused while inflating', async () => {
    const before = await good.stats();
    const raw = await rawSession(server);
    const bomb: Message = invokeMessage(json, 'echo', ['a'.repeat(20 * 2 ** 20)]);
    const bytes = Buffer.concat(
      encodeMessage(bomb, { version: 502, maxMessageSize: 2 ** 32 - 1, compressAbove: 100 }),
    );
    expect(bytes.length).toBeLessThan(64 * 1024);
    raw.write(bytes);
    expect(await raw.closesWithin(2000)).toBe(true);
    expect(raw.received).toEqual([]);
    const after = await good.stats();
    expect(after.rssBytes - before.rssBytes).toBeLessThan(64 * 2 ** 20);
    await stillServes();
  });
});

describe('slow clients', () => {
  it('a client that trickles a valid CONNECT one byte at a time is dropped by the handshake timeout', async () => {
    const raw = await RawClient.open(server);
    const bytes = frame(connectMessage(json, 'sec.target'));
    let i = 0;
    const timer = setInterval(() => raw.write(bytes.subarray(i, ++i)), 50);
    const t0 = performance.now();
    try {
      expect(await raw.closesWithin(HANDSHAKE_MS + 1500)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    const waited = performance.now() - t0;
    expect(i).toBeLessThan(bytes.length);
    expect(waited).toBeGreaterThan(HANDSHAKE_MS - 100);
    await stillServes();
  });

  it('an endless partial header (the first 30 bytes, then silence) is dropped by the handshake timeout', async () => {
    const raw = await RawClient.open(server);
    raw.write(frame(connectMessage(json, 'sec.target')).subarray(0, 30));
    const t0 = performance.now();
    expect(await raw.closesWithin(HANDSHAKE_MS + 1500)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThan(HANDSHAKE_MS - 200);
    expect(raw.received).toEqual([]);
    await stillServes();
  });
});

/** An encoded call to `echo` whose single argument is a list nested `depth` deep. */
function nestedCall(serializer: Serializer, depth: number): Uint8Array {
  const placeholder = '@@NEST@@';
  const call = Buffer.from(
    serializer.encodeCall({ object: 'sec.target', method: 'echo', params: [placeholder], kwargs: {} }),
  );
  const at = call.indexOf(placeholder);
  expect(at).toBeGreaterThan(0);
  let nested: Buffer;
  let start = at;
  let end = at + placeholder.length;
  switch (serializer.name) {
    case 'json':
    case 'serpent':
      nested = Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      start -= 1;
      end += 1;
      break;
    case 'msgpack':
      nested = Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
      start -= 1;
      break;
    case 'cbor':
      nested = Buffer.concat([Buffer.alloc(depth, 0x81), Buffer.from([0xf6])]);
      start -= 1;
      break;
    case 'marshal': {
      // '[' + u32 count 1, repeated, ending in None
      const one = Buffer.from([0x5b, 1, 0, 0, 0]);
      nested = Buffer.concat([...Array.from({ length: depth }, () => one), Buffer.from([0x4e])]);
      start -= 2; // short ascii type code and length
      break;
    }
    default:
      throw new Error(`no nesting recipe for ${serializer.name}`);
  }
  return Buffer.concat([call.subarray(0, start), nested, call.subarray(end)]);
}

describe('deeply nested payloads', () => {
  for (const name of ['json', 'serpent', 'msgpack', 'cbor', 'marshal']) {
    it(`${name}: 100,000 levels give a SerializeError reply, and the connection goes on`, async () => {
      const s = serializers.byName(name)!;
      const raw = await rawSession(server);
      try {
        const message: Message = { ...invokeMessage(s, 'echo', []), payload: nestedCall(s, 100_000) };
        raw.send(message);
        const reply = await raw.next();
        expect(reply.type).toBe(MsgType.RESULT);
        expect(reply.flags & Flags.EXCEPTION).toBe(Flags.EXCEPTION);
        expect(replyText(reply)).toMatch(/^SerializeError: .*(depth|nest)/i);
        // a shallow one still works on the same connection
        const ok = { ...invokeMessage(s, 'echo', []), seq: 2, payload: nestedCall(s, 10) };
        raw.send(ok);
        const r2 = await raw.next();
        expect(r2.flags & Flags.EXCEPTION).toBe(0);
      } finally {
        raw.destroy();
      }
      await stillServes();
    });
  }
});

describe('batches and concurrency', () => {
  it(`a batch of exactly ${MAX_BATCH} calls (the limit) runs in full`, async () => {
    const raw = await rawSession(server);
    try {
      const calls = Array.from({ length: MAX_BATCH }, (_, i) => ['add', [i, 1], {}]);
      const r = await rawCall(raw, invokeMessage(json, '<batch>', calls, { flags: Flags.BATCH }));
      expect(r.exception).toBe(false);
      expect(r.value).toEqual(Array.from({ length: MAX_BATCH }, (_, i) => i + 1));
    } finally {
      raw.destroy();
    }
    await stillServes();
  });

  it(`a batch of ${MAX_BATCH + 1} calls is refused as a whole: none of them runs`, async () => {
    const raw = await rawSession(server);
    try {
      const calls = Array.from({ length: MAX_BATCH + 1 }, () => ['transfer', [6161], {}]);
      const r = await rawCall(raw, invokeMessage(json, '<batch>', calls, { flags: Flags.BATCH }));
      expect(r.exception).toBe(true);
      expect(r.value).toBeInstanceOf(Error);
      expect((r.value as Error).name).toBe('DaemonError');
      expect(String((r.value as Error).message)).toMatch(/batch too large: 51 calls \(max 50\)/);
      expect(await good.log()).not.toContain('transfer 6161');
      const small = Array.from({ length: 3 }, () => ['transfer', [6262], {}]);
      const ok = await rawCall(raw, invokeMessage(json, '<batch>', small, { flags: Flags.BATCH, seq: 2 }));
      expect(ok.exception).toBe(false);
      expect((await good.log()).filter((l) => l === 'transfer 6262')).toHaveLength(3);
    } finally {
      raw.destroy();
    }
    await stillServes();
  });

  it(`a multiplexed client firing 200 calls runs at most ${MAX_CONCURRENT} at once; others are not held up`, async () => {
    await using flood = connect<Target>(server.uri);
    await good.concurrency();
    const calls = Array.from({ length: 200 }, () => flood.hold(50));
    // meanwhile another connection is served promptly
    const t0 = performance.now();
    expect(await good.add(1, 1)).toBe(2);
    expect(performance.now() - t0).toBeLessThan(400);
    const maxima = await Promise.all(calls);
    expect(Math.max(...maxima)).toBeLessThanOrEqual(MAX_CONCURRENT);
    expect((await good.concurrency()).max).toBeLessThanOrEqual(MAX_CONCURRENT);
    await stillServes();
  });

  it(`oneway calls on a plain (Pyro-style) connection are bounded too: at most ${MAX_CONCURRENT} run at once`, async () => {
    const raw = await rawSession(server);
    try {
      await good.concurrency();
      for (let i = 0; i < 100; i++) {
        raw.send(invokeMessage(json, 'holdOneway', [200], { flags: Flags.ONEWAY, seq: i + 1 }));
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
      const during = await good.concurrency();
      expect(during.now).toBeGreaterThan(0);
      expect(during.max).toBeLessThanOrEqual(MAX_CONCURRENT);
      await expect.poll(async () => (await good.concurrency()).now, { timeout: 10_000 }).toBe(0);
      expect((await good.concurrency()).max).toBeLessThanOrEqual(MAX_CONCURRENT);
    } finally {
      raw.destroy();
    }
    await stillServes();
  }, 20_000);

  it('calls pipelined on a plain connection without waiting: the daemon stops reading instead of queueing them all', async () => {
    const before = await good.stats();
    const raw = await rawSession(server);
    try {
      // 200,000 calls of 100 ms each would take hours in order; the daemon must stop reading
      const one = frame(invokeMessage(json, 'hold', [100], { seq: 1 }));
      const burst = Buffer.concat(Array.from({ length: 200_000 }, () => one));
      raw.write(burst);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const during = await good.stats();
      expect(during.heapUsedBytes - before.heapUsedBytes).toBeLessThan(32 * 2 ** 20);
      // most of the burst is still waiting on our side: TCP pushed back
      expect(raw.socket.writableLength).toBeGreaterThan(burst.length / 2);
      expect(raw.received.length).toBeLessThan(20);
    } finally {
      raw.destroy();
    }
    await stillServes();
  });
});

describe('calls waiting behind an unanswered callback', () => {
  it('a client that never answers the callback it caused cannot make the daemon queue its calls without bound', async () => {
    const before = await good.stats();
    const raw = await RawClient.open(server);
    try {
      // a Cinder handshake with every capability, so the daemon may call back over this connection
      raw.send({
        ...connectMessage(json, 'sec.target'),
        annotations: new Map([['CNDR', Uint8Array.of(1, 0, 0x0f)]]),
      });
      expect((await raw.next()).type).toBe(MsgType.CONNECTOK);
      const callback = { __class__: 'cinder.Callback', id: 'cb.1', kind: 'function' };
      raw.send(invokeMessage(json, 'relay', [callback], { seq: 1 }));
      const callBack = await raw.next();
      expect(callBack.type).toBe(MsgType.INVOKE); // the daemon now waits for our answer, forever
      const burst = Buffer.concat(
        Array.from({ length: 60_000 }, (_, i) =>
          frame(invokeMessage(json, 'hold', [60_000], { seq: i + 2 })),
        ),
      );
      raw.write(burst);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const during = await good.stats();
      expect(during.heapUsedBytes - before.heapUsedBytes).toBeLessThan(32 * 2 ** 20);
      // the daemon stopped reading (or dropped the connection); it did not take it all in
      expect(raw.isClosed || raw.socket.writableLength > burst.length / 2).toBe(true);
    } finally {
      raw.destroy();
    }
    await stillServes();
  });
});

describe('calls sent before the handshake is accepted', () => {
  it('calls pipelined behind a CONNECT that an async validateHandshake is still checking are not all buffered', async () => {
    // validation ends when the test says so (not on a timer): on a loaded machine a timer could
    // end it before the check below, and then the daemon rightly reads everything
    let accept: (value: string) => void = () => {};
    const validated = new Promise<string>((resolve) => {
      accept = resolve;
    });
    await using daemon = await Daemon.start({
      config: { handshakeTimeoutMs: 20_000 },
      validateHandshake: () => validated,
    });
    daemon.register(new Echo(), 'echo');
    const raw = await RawClient.open(daemon.endpoint as { host: string; port: number });
    try {
      const burst = Buffer.concat(
        Array.from({ length: 200_000 }, (_, i) =>
          frame(invokeMessage(json, 'echo', [i], { seq: (i % 60_000) + 1, object: 'echo' })),
        ),
      );
      raw.send(connectMessage(json, 'echo'));
      raw.write(burst);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // still validating: the daemon has stopped reading instead of queueing every frame
      expect(raw.socket.writableLength).toBeGreaterThan(burst.length / 2);
      accept('hello');
      expect((await raw.next(10_000)).type).toBe(MsgType.CONNECTOK);
      expect((await raw.next(10_000)).type).toBe(MsgType.RESULT);
    } finally {
      raw.destroy();
    }
  }, 30_000);
});

describe('connection floods', () => {
  const unixPath = join(tmpdir(), `cinder-sec-${process.pid}.sock`);
  const IDLE = 10_000;
  let flooded: SecurityServer;
  let unixUri: string;

  beforeAll(async () => {
    flooded = await startSecurityServer({ config: { handshakeTimeoutMs: 4000 }, alsoUnix: unixPath });
    const [, u] = (await flooded.child.waitForLine(/^URI_UNIX = (.+)$/)) as unknown as [string, string];
    unixUri = u;
  }, 30_000);
  // the daemon child is killed at the end of the file, before it could remove its socket file
  afterAll(() => rmSync(unixPath, { force: true }));

  // The attacker is a separate Python process: it opens connections several times faster than a
  // Node client can, and it is what an attack looks like (another process, another runtime).
  const ATTACKER = `
import errno, socket, sys, time, select
host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
t, poll, socks = time.time(), select.poll(), {}
# bursts of 200 non-blocking connects, paced so the daemon's accept queue (backlog 511) never
# overflows: beyond it the kernel would hold connections the daemon cannot see yet
for i in range(0, n, 200):
    connecting = {}
    for j in range(min(200, n - i)):
        s = socket.socket()
        s.setblocking(False)
        if s.connect_ex((host, port)) in (0, errno.EINPROGRESS):
            socks[s.fileno()] = connecting[s.fileno()] = s
            poll.register(s.fileno(), select.POLLOUT)
    while connecting and time.time() - t < limit:
        for fd, ev in poll.poll(200):
            if connecting.pop(fd, None) is not None:
                poll.modify(fd, select.POLLIN)
    time.sleep(0.02)
print("OPEN", len(socks), n - len(socks), flush=True)
closed = n - len(socks)
while socks and time.time() - t < limit:
    for fd, ev in poll.poll(200):
        s = socks.get(fd)
        if s is None:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            poll.unregister(fd)
            del socks[fd]
            s.close()
            closed += 1
print("CLOSED", closed, flush=True)
sys.stdin.read()
`;

  it(`${IDLE.toLocaleString('en')} idle connections from one address: bounded and responsive, refusals, service once they are dropped`, async () => {
    const attacker = startChild('-c', [ATTACKER, flooded.host, String(flooded.port), String(IDLE), '40'], {
      command: '/usr/bin/python3',
    });
    try {
      await using viaUnix = connect<Target>(unixUri);
      // while the flood goes on: sample the daemon from its other listener (same process)
      let maxConnections = 0;
      let maxFds = 0;
      let slowest = 0;
      let samples = 0;
      let refused: Error | undefined;
      while (!attacker.lines.some((l) => l.startsWith('OPEN'))) {
        const t0 = performance.now();
        const stats = await viaUnix.stats();
        slowest = Math.max(slowest, performance.now() - t0);
        maxConnections = Math.max(maxConnections, stats.connections);
        maxFds = Math.max(maxFds, stats.openFds);
        samples++;
        if (refused === undefined && stats.connections >= 512) {
          // a well-behaved client from the flooded address is refused while the limit is full
          await using sameAddress = connect<Target>(flooded.uri);
          refused = await sameAddress.add(1, 1).then(
            () => new Error('served'),
            (e: unknown) => e as Error,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const [, opened] = (await attacker.waitForLine(/^OPEN (\d+) (\d+)$/)) as unknown as [string, string];
      expect(Number(opened)).toBe(IDLE);
      expect(samples).toBeGreaterThan(3);
      expect(maxConnections).toBeGreaterThanOrEqual(512);
      expect(maxConnections).toBeLessThanOrEqual(512 + 64);
      expect(maxFds).toBeLessThan(1500);
      expect(slowest).toBeLessThan(1000);
      // told why when the daemon has room to explain (64 refusals may wait), else just closed
      expect(refused).toBeInstanceOf(CommunicationError);
      expect(refused?.message).toMatch(/\(maxConnectionsPerClient=512\)$|closed during the handshake/);

      // the handshake timeout drops every idle connection, then the same address is served again
      const [, closed] = (await attacker.waitForLine(/^CLOSED (\d+)$/, 40_000)) as unknown as [
        string,
        string,
      ];
      expect(Number(closed)).toBe(IDLE);
      // a connection the daemon dropped frees its slot at once, as the peer sees the FIN (not at
      // the socket's close event: a client connecting right behind would be refused meanwhile)
      expect((await viaUnix.stats()).connections).toBeLessThanOrEqual(2);
      await using again = connect<Target>(flooded.uri);
      expect(await again.add(2, 2)).toBe(4);
      expect((await viaUnix.stats()).connections).toBeLessThanOrEqual(2);
    } finally {
      await attacker.stop('SIGKILL', 0);
    }
  }, 60_000);

  it('at the per-address limit: told why, the refusal logged (once a second), refused sockets closed within a second', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    await using daemon = await Daemon.start({
      config: { maxConnectionsPerClient: 3, handshakeTimeoutMs: 1500 },
      logger,
    });
    const uri = daemon.register(new Echo(), 'echo').toString();
    const endpoint = daemon.endpoint as { host: string; port: number };
    const holders = await Promise.all([1, 2, 3].map(() => RawClient.open(endpoint)));
    const extra = await Promise.all(Array.from({ length: 20 }, () => RawClient.open(endpoint)));
    const t0 = performance.now();
    await using p = connect<Echo>(uri);
    const err = await p.echo(1).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(
      /rejected: connection from 127\.0\.0\.1:\d+ refused: 3 connections open from 127\.0\.0\.1 \(maxConnectionsPerClient=3\)$/,
    );
    expect(await Promise.all(extra.map((r) => r.closesWithin(1500)))).toEqual(extra.map(() => true));
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(holders.some((h) => h.isClosed)).toBe(false);
    const warnings = logged.filter((l) => l.component === 'daemon' && l.limit === 'maxConnectionsPerClient');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
    expect(warnings[0]!.msg).toMatch(/refused: 3 connections open from 127\.0\.0\.1/);
    // once the holders are dropped by the handshake timeout, the client gets in
    expect(await Promise.all(holders.map((h) => h.closesWithin(2500)))).toEqual([true, true, true]);
    await using later = connect<Echo>(uri);
    expect(await later.echo('in')).toBe('in');
  });
});
