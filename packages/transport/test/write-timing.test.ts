// When a stream connection hands its frames to the socket: frames of one tick leave together at the
// tick's end; a frame sent `alone` (a call with nothing else in flight) leaves at once; replies sent
// while a read is being delivered leave in one write when the delivery ends, before the tick queue
// runs. Each of these saves a sequential call a turn of the tick queue without costing pipelined
// calls a write.

import { rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { scratchDir } from '@cinder/test-utils';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { tcpTransport, unixTransport } from '../src/index.js';
import type { Connection, Endpoint, Transport } from '../src/transport.js';
import { framing, message, Recorder, Tracker } from './harness.js';

const dir = scratchDir('writes');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cases: Array<{ name: string; transport: Transport; endpoint: () => Endpoint }> = [
  { name: 'tcp', transport: tcpTransport(), endpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }) },
  {
    name: 'unix',
    transport: unixTransport(),
    endpoint: () => ({ kind: 'unix', path: join(dir, `w${Math.random().toString(36).slice(2)}.sock`) }),
  },
];

/** Every socket.write call in this process: which socket, and when (an increasing count). */
function spyOnWrites(): Socket[] {
  const writes: Socket[] = [];
  const original = Socket.prototype.write;
  vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: unknown[]) {
    writes.push(this);
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  });
  return writes;
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe.each(cases)('write timing over $name', ({ transport, endpoint }) => {
  const track = new Tracker();
  afterEach(async () => {
    vi.restoreAllMocks();
    await track.closeAll();
  });

  /** A connected pair; the server's handler is made by `serve` for its connection. */
  async function pair(serve: (conn: Connection) => Recorder): Promise<{ conn: Connection; rec: Recorder }> {
    const listener = track.listener(
      await transport.listen({ endpoint: endpoint(), framing: framing([502]) }, (conn) => {
        track.connection(conn);
        conn.setHandler(serve(conn));
      }),
    );
    const conn = track.connection(
      await transport.connect({ endpoint: listener.endpoint, framing: framing([502]) }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    // one round trip: the server's connection exists and both handlers are set
    conn.send(message(100, 'hello'));
    await rec.messagesAtLeast(1);
    rec.messages.length = 0;
    return { conn, rec };
  }

  it('a frame sent alone is written at once; frames of a tick wait for its end and leave in one write', async () => {
    const { conn, rec } = await pair((c) => new Recorder((m) => c.send({ ...m, type: 5 })));
    const writes = spyOnWrites();
    conn.send(message(1, 'alone'), true);
    expect(writes.length).toBe(1);
    await rec.messagesAtLeast(1);

    writes.length = 0;
    conn.send(message(2, 'first of the tick'));
    conn.send(message(3, 'second, alone but not first'), true);
    conn.send(message(4, 'third'));
    expect(writes.length).toBe(0);
    await nextTick();
    expect(writes.length).toBe(1);
    await rec.messagesAtLeast(4);
    expect(rec.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('replies sent while a read is delivered leave in one write when the delivery ends, before the tick queue', async () => {
    const writes = spyOnWrites();
    /** Per message delivered: server writes seen by a nextTick queued before the reply was sent. */
    const seenByTick: number[] = [];
    let clientSocket: Socket | undefined;
    const serverWrites = () => writes.filter((s) => s !== clientSocket).length;
    const { conn, rec } = await pair(
      (c) =>
        new Recorder((m) => {
          if (m.seq === 100) {
            c.send({ ...m, type: 5 });
            return;
          }
          process.nextTick(() => seenByTick.push(serverWrites()));
          c.send({ ...m, type: 5 });
        }),
    );
    // the client's frames of one tick leave in one write: the server reads them together
    writes.length = 0;
    conn.send(message(1, 'a'));
    conn.send(message(2, 'b'));
    conn.send(message(3, 'c'));
    await nextTick();
    clientSocket = writes[0];
    expect(writes.length).toBe(1);
    await rec.messagesAtLeast(3);
    expect(rec.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    // every tick queued while delivering already saw the reply written (at the end of the delivery)
    expect(seenByTick.length).toBe(3);
    for (const seen of seenByTick) expect(seen).toBeGreaterThanOrEqual(1);
    // and the replies of one read left together: no more writes than reads that brought calls
    expect(serverWrites()).toBeLessThanOrEqual(3);
  });
});
