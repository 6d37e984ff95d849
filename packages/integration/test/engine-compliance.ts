// The engine compliance suite: what the call engine (@cinder/rpc, driven by a daemon and a proxy)
// must do over any transport — calls, remote errors, oneway calls, batches, pushed streams with
// credit-based flow control, callbacks over the same connection, cancellation, deadlines, a lost
// connection, and back-pressure from a client that does not read its replies. Written once, run
// over the memory transport and the three socket transports (engine-*.test.ts). Daemon and client
// share the test process, so the served object's state is read directly.
import { AbortedError, ConnectionClosedError, RemoteError, TimeoutError } from '@cinder/core';
import { currentContext, Daemon, type DaemonOptions, expose, oneway } from '@cinder/daemon';
import { Flags, type Message, MsgType } from '@cinder/protocol';
import { connect, type ProxyOptions, type Remote } from '@cinder/proxy';
import { createSerializers } from '@cinder/serializers';
import type { Connection, ConnectionHandler, Transport } from '@cinder/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface EngineTarget {
  /** The daemon listens with this transport... */
  server: Transport;
  /** ...and clients (proxies and the raw client) connect with this one. */
  client: Transport;
  /** Where a daemon listens, fresh for each one: host (port 0) or unixSocket. */
  listen(): Pick<DaemonOptions, 'host' | 'unixSocket'>;
  /** Called once after the suite (removes temporary files). */
  cleanup?: () => void;
}

export class EngineFailure extends Error {
  override name = 'EngineFailure';
  constructor(
    message: string,
    readonly detail: number,
  ) {
    super(message);
  }
}

const json = createSerializers({ dialect: 5 }).byName('json')!;

/** Items a pushed stream's producer may run ahead of its reader (`streamCredit` at both ends). */
const CREDIT = 16;
const BLOB = 64 * 1024;

@expose
class EngineService {
  ticks = 0;
  produced = 0;
  streamClosed = false;
  blobsServed = 0;
  readonly aborted = new Set<string>();

  add(a: number, b: number): number {
    return a + b;
  }

  echo<T>(value: T): T {
    return value;
  }

  length(data: Uint8Array): number {
    return data.length;
  }

  bytes(n: number): Uint8Array {
    return new Uint8Array(n).fill(7);
  }

  fail(message: string): never {
    throw new RangeError(message);
  }

  failCustom(message: string): never {
    throw new EngineFailure(message, 42);
  }

  @oneway
  tick(): void {
    this.ticks++;
  }

  ticksSeen(): number {
    return this.ticks;
  }

  async slow(ms: number, tag: string): Promise<string> {
    const signal = currentContext()?.signal;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        this.aborted.add(tag);
        reject(signal.reason as Error);
      });
    });
    return tag;
  }

  *count(n: number): Generator<number> {
    this.produced = 0;
    this.streamClosed = false;
    try {
      for (let i = 0; i < n; i++) {
        this.produced++;
        yield i;
      }
    } finally {
      this.streamClosed = true;
    }
  }

  async callFunction(n: number, fn: (i: number) => Promise<number>): Promise<number> {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await fn(i);
    return sum;
  }

  async callObject(n: number, listener: { onEvent(i: number): Promise<number> | number }): Promise<number> {
    let answers = 0;
    for (let i = 0; i < n; i++) if ((await listener.onEvent(i)) === i) answers++;
    return answers;
  }

  blob(): Uint8Array {
    this.blobsServed++;
    return new Uint8Array(BLOB);
  }
}

const OBJECT = 'engine.service';

/** Waits until `predicate` holds, polling; bounded. */
async function until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A client that speaks frames directly (no proxy), so a test can stop reading replies. */
class RawClient implements ConnectionHandler {
  readonly replies: Message[] = [];
  closed = false;
  constructor(readonly connection: Connection) {
    connection.setHandler(this);
  }
  onMessage(message: Message): void {
    this.replies.push(message);
  }
  onError(): void {}
  onClose(): void {
    this.closed = true;
  }
  send(type: number, seq: number, payload: Uint8Array): void {
    this.connection.send({
      type,
      flags: 0,
      seq,
      serializerId: json.id,
      correlationId: null,
      annotations: null,
      payload,
    });
  }
}

export function engineCompliance(name: string, setup: () => EngineTarget | Promise<EngineTarget>): void {
  describe(`engine compliance: ${name}`, () => {
    let target: EngineTarget;
    let daemon: Daemon;
    let service: EngineService;
    let uri: string;
    let p: Remote<EngineService>;

    const startDaemon = () =>
      Daemon.start({
        ...target.listen(),
        transport: target.server,
        useEnvironment: false,
        config: { streamCredit: CREDIT },
      });
    const proxy = (options: ProxyOptions = {}) =>
      connect<EngineService>(uri, { transport: target.client, config: { streamCredit: CREDIT }, ...options });

    beforeAll(async () => {
      target = await setup();
      daemon = await startDaemon();
      service = new EngineService();
      uri = String(daemon.register(service, OBJECT));
      p = proxy();
      await p.$bind();
    });

    afterAll(async () => {
      await p?.$release();
      await daemon?.close();
      target?.cleanup?.();
    });

    it('calls: values of every kind, bytes both ways, pipelined calls answered in order', async () => {
      expect(await p.add(2, 3)).toBe(5);
      const value = { n: 1.5, s: 'ünïcode', list: [1, 'two', null, true], nested: { deep: [[]] } };
      expect(await p.echo(value)).toEqual(value);
      const big = new Uint8Array(1024 * 1024).fill(1);
      expect(await p.length(big)).toBe(big.length);
      const got = await p.bytes(512 * 1024);
      expect(got.length).toBe(512 * 1024);
      expect(got[1234]).toBe(7);
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => p.add(i, 1)));
      expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    });

    it('errors: remote exceptions keep their class and message; the connection goes on', async () => {
      const range = await p.fail('out of range').catch((e: unknown) => e);
      expect(range).toBeInstanceOf(RangeError);
      expect((range as Error).message).toBe('out of range');
      const custom = await p.failCustom('custom').catch((e: unknown) => e);
      expect(custom).toBeInstanceOf(RemoteError);
      expect((custom as RemoteError).message).toContain('custom');
      expect(await p.add(1, 1)).toBe(2);
    });

    it('oneway: calls resolve once sent and all of them run', async () => {
      const before = service.ticks;
      const sent = await Promise.all(Array.from({ length: 1000 }, () => p.tick()));
      expect(sent.every((v) => v === undefined)).toBe(true);
      await until(() => service.ticks === before + 1000, 'oneway calls run');
      expect(await p.ticksSeen()).toBe(before + 1000);
    });

    it('batches: results in order; the first failure stops the rest', async () => {
      const batch = p.$batch();
      for (let i = 0; i < 1000; i++) batch.add(i, i);
      const results = await batch.$run();
      expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i));
      const before = service.ticks;
      batch.add(1, 1);
      batch.fail('stop');
      batch.tick();
      await expect(batch.$run()).rejects.toThrow('stop');
      await new Promise((r) => setTimeout(r, 50));
      expect(service.ticks).toBe(before);
    });

    it('pushed streams: the producer stays within the credit; breaking out closes it', async () => {
      const items = await p.count(100_000);
      let read = 0;
      for await (const n of items) {
        expect(n).toBe(read);
        read++;
        if (read === 10) {
          // a reader that stops: the producer must stop within the credit it was granted
          await new Promise((r) => setTimeout(r, 200));
          expect(service.produced - read).toBeLessThanOrEqual(2 * CREDIT);
        }
        if (read === 5000) break;
      }
      expect(read).toBe(5000);
      await until(() => service.streamClosed, 'generator closed');
      expect(service.produced).toBeLessThanOrEqual(5000 + 2 * CREDIT);
      expect(await p.add(1, 2)).toBe(3);
    });

    it('callbacks: a function and an exposed object, called back over the same connection', async () => {
      let calls = 0;
      const sum = await p.callFunction(200, async (i: number) => {
        calls++;
        return i;
      });
      expect(calls).toBe(200);
      expect(sum).toBe((199 * 200) / 2);
      @expose
      class Listener {
        events = 0;
        onEvent(i: number): number {
          this.events++;
          return i;
        }
      }
      const listener = new Listener();
      expect(await p.callObject(200, listener)).toBe(200);
      expect(listener.events).toBe(200);
    });

    it('callbacks: the same function and object lent again after a reconnect are called back', async () => {
      const fn = async (i: number) => i;
      @expose
      class Counter {
        events = 0;
        onEvent(i: number): number {
          this.events++;
          return i;
        }
      }
      const counter = new Counter();
      expect(await p.callFunction(3, fn)).toBe(3);
      expect(await p.callObject(3, counter)).toBe(3);
      // a new connection: what was lent on the old one is gone there, and lent anew on this one
      await p.$release();
      expect(await p.callFunction(4, fn)).toBe(6);
      expect(await p.callObject(4, counter)).toBe(4);
      expect(counter.events).toBe(7);
    });

    it('cancellation: an aborted call rejects at once and the server sees the abort', async () => {
      const controller = new AbortController();
      const pending = p.$with({ signal: controller.signal }).slow(30_000, 'cancel');
      await until(() => daemon.connectionCount > 0, 'connected');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      controller.abort();
      await expect(pending).rejects.toBeInstanceOf(AbortedError);
      expect(performance.now() - t0).toBeLessThan(1000);
      await until(() => service.aborted.has('cancel'), 'server sees the abort');
      expect(await p.add(2, 2)).toBe(4);
    });

    it('deadlines: a call times out on time, the server is told, a queued call expires in the queue', async () => {
      const t0 = performance.now();
      await expect(p.$with({ timeoutMs: 150 }).slow(30_000, 'deadline')).rejects.toBeInstanceOf(TimeoutError);
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(140);
      expect(took).toBeLessThan(3000);
      await until(() => service.aborted.has('deadline'), 'server sees the deadline');
      // without pipelining a call waits its turn; its deadline runs from the moment it was made
      await using serial = proxy({ multiplex: false });
      const first = serial.slow(800, 'first');
      const t1 = performance.now();
      await expect(serial.$with({ timeoutMs: 150 }).add(1, 1)).rejects.toBeInstanceOf(TimeoutError);
      expect(performance.now() - t1).toBeLessThan(700);
      expect(await first).toBe('first');
      expect(await serial.add(1, 1)).toBe(2);
    });

    it('a lost connection rejects pending calls with ConnectionClosedError, promptly', async () => {
      const other = await startDaemon();
      try {
        const otherService = new EngineService();
        const otherUri = String(other.register(otherService, OBJECT));
        await using lost = connect<EngineService>(otherUri, { transport: target.client });
        await lost.$bind();
        const pending = lost.slow(30_000, 'lost').catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        const t0 = performance.now();
        await other.close({ graceMs: 0 });
        expect(await pending).toBeInstanceOf(ConnectionClosedError);
        expect(performance.now() - t0).toBeLessThan(2000);
        await until(() => otherService.aborted.has('lost'), 'server-side call cut off');
      } finally {
        await other.close();
      }
    });

    it('CONNECTOK answers each client with its own seq and correlation id, and its capabilities', async () => {
      const open = async () => {
        const connection = await target.client.connect({
          endpoint: daemon.endpoint,
          framing: { versions: [502], maxMessageSize: 1 << 20 },
          timeoutMs: 5000,
        });
        return new RawClient(connection);
      };
      const clients = [await open(), await open(), await open()];
      try {
        const corr = Buffer.alloc(16, 0x5a);
        const sent = [
          { seq: 7, correlationId: corr, annotations: new Map([['CNDR', Uint8Array.of(1, 0xff, 0xff)]]) },
          { seq: 0x1234, correlationId: null, annotations: null },
          { seq: 9, correlationId: null, annotations: new Map([['CNDR', Uint8Array.of(1, 0xff, 0xff)]]) },
        ];
        for (let i = 0; i < clients.length; i++) {
          clients[i]!.connection.send({
            type: MsgType.CONNECT,
            flags: 0,
            serializerId: json.id,
            payload: json.encode({ handshake: 'hello', object: OBJECT }),
            ...sent[i]!,
          });
        }
        for (const c of clients) await until(() => c.replies.length === 1, 'CONNECTOK');
        const [a, b, c] = clients.map((client) => client.replies[0]!);
        for (const [reply, connect] of [
          [a!, sent[0]!],
          [b!, sent[1]!],
          [c!, sent[2]!],
        ] as const) {
          expect(reply.type).toBe(MsgType.CONNECTOK);
          expect(reply.seq).toBe(connect.seq);
          expect(reply.correlationId?.length).toBe(16);
          expect(json.decode(reply.payload)).toMatchObject({
            handshake: 'hello',
            meta: { methods: expect.any(Array) },
          });
        }
        expect(Buffer.from(a!.correlationId!).equals(corr)).toBe(true);
        expect(Buffer.from(b!.correlationId!).equals(Buffer.from(c!.correlationId!))).toBe(false);
        expect(b!.annotations?.get('CNDR')).toBeUndefined();
        expect(a!.annotations?.get('CNDR')?.length).toBe(3);
        expect(
          Buffer.from(c!.annotations!.get('CNDR')!).equals(Buffer.from(a!.annotations!.get('CNDR')!)),
        ).toBe(true);
        expect(Buffer.from(b!.payload).equals(Buffer.from(a!.payload))).toBe(true);
      } finally {
        for (const c of clients) c.connection.destroy();
      }
    });

    it('back-pressure: a client that does not read its replies stops being served, then catches up', async () => {
      const calls = 400;
      const connection = await target.client.connect({
        endpoint: daemon.endpoint,
        framing: { versions: [502], maxMessageSize: 64 * 1024 * 1024 },
        timeoutMs: 5000,
      });
      try {
        const raw = new RawClient(connection);
        raw.send(MsgType.CONNECT, 0, json.encode({ handshake: 'hello', object: OBJECT }));
        await until(() => raw.replies.length === 1, 'CONNECTOK');
        expect(raw.replies[0]!.type).toBe(MsgType.CONNECTOK);
        connection.pause();
        const before = service.blobsServed;
        for (let seq = 1; seq <= calls; seq++) {
          raw.send(
            MsgType.INVOKE,
            seq,
            json.encodeCall({ object: OBJECT, method: 'blob', params: [], kwargs: {} }),
          );
        }
        // the daemon answers until its output bound (8 MiB) and the buffers below it are full,
        // then reads no more: far fewer than all 400 x 64 KiB replies are made
        await new Promise((r) => setTimeout(r, 500));
        const served = service.blobsServed - before;
        expect(served).toBeGreaterThan(0);
        expect(served).toBeLessThan(calls);
        expect(served * BLOB).toBeLessThan(8 * 1024 * 1024 + 12 * 1024 * 1024);
        connection.resume();
        await until(() => raw.replies.length === 1 + calls, 'every reply', 20_000);
        expect(service.blobsServed - before).toBe(calls);
        expect(raw.replies.slice(1).every((m) => (m.flags & Flags.EXCEPTION) === 0)).toBe(true);
        expect(raw.replies.slice(1).map((m) => m.seq)).toEqual(
          Array.from({ length: calls }, (_, i) => i + 1),
        );
      } finally {
        connection.destroy();
      }
    }, 30_000);
  });
}
