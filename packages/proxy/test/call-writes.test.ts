// Which calls a proxy asks its connection to write at once (`alone`) and which it leaves to join the
// other frames of the tick: a sequential caller's next call goes out at once (no turn of the tick
// queue per call); calls made together, and the calls that follow a read answering several, leave
// together in one write (pipelined callers keep one write per tick).

import { MsgType } from '@cinder/protocol';
import { expose } from '@cinder/rpc';
import { Session } from '@cinder/rpc/internal';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect } from '../src/index.js';
import { type EngineServer, startEngineServer } from './engine-server.js';

@expose
class Calc {
  add(a: number, b: number): number {
    return a + b;
  }
}

let server: EngineServer;
beforeAll(async () => {
  server = await startEngineServer({ calc: new Calc() });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The `alone` flag of every INVOKE sent from now on, in order. */
function watchInvokes(): boolean[] {
  const flags: boolean[] = [];
  const original = Session.prototype.out;
  vi.spyOn(Session.prototype, 'out').mockImplementation(function (this: Session, message, alone) {
    if (message.type === MsgType.INVOKE) flags.push(alone === true);
    return original.call(this, message, alone);
  });
  return flags;
}

describe('calls and their writes', () => {
  it('a sequential call goes out alone; calls made together, or after a read that answered several, join the tick', async () => {
    await using calc = connect<Calc>(server.uri('calc'), { transport: server.transport });
    await calc.$bind();
    expect(calc.$multiplexed).toBe(true);
    const alone = watchInvokes();
    for (let i = 0; i < 3; i++) expect(await calc.add(i, 1)).toBe(i + 1);
    expect(alone).toEqual([true, true, true]);

    alone.length = 0;
    // three at once after a sequential call: the first leaves at once, the other two join the tick
    expect(await Promise.all([calc.add(1, 1), calc.add(2, 2), calc.add(3, 3)])).toEqual([2, 4, 6]);
    expect(alone).toEqual([true, false, false]);

    alone.length = 0;
    // the three replies answered three calls: the next calls of their callers leave together
    expect(await Promise.all([calc.add(4, 4), calc.add(5, 5), calc.add(6, 6)])).toEqual([8, 10, 12]);
    expect(alone).toEqual([false, false, false]);

    alone.length = 0;
    expect(await calc.add(7, 7)).toBe(14);
    expect(await calc.add(8, 8)).toBe(16);
    // the first follows the three answers (joins the tick); the second is a sequential call again
    expect(alone).toEqual([false, true]);
  });
});

describe('the CONNECT and its write', () => {
  it('a $bind writes its CONNECT at once; with a first call pipelined behind it, the two join the tick', async () => {
    const sends: [number, boolean][] = [];
    const transport = Object.create(server.transport) as typeof server.transport;
    transport.connect = async (options) => {
      const connection = await server.transport.connect(options);
      const send = connection.send.bind(connection);
      connection.send = (message, alone) => {
        sends.push([message.type, alone === true]);
        return send(message, alone);
      };
      return connection;
    };
    await using bound = connect<Calc>(server.uri('calc'), { transport });
    await bound.$bind();
    expect(sends).toEqual([[MsgType.CONNECT, true]]);

    sends.length = 0;
    await using first = connect<Calc>(server.uri('calc'), { transport });
    expect(await first.add(1, 2)).toBe(3);
    expect(sends[0]).toEqual([MsgType.CONNECT, false]);
  });
});
