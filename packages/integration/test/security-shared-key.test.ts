// Attacks on shared-key authentication, against a keyed daemon in its own process: no key, a wrong
// key, replays of a recorded session (on a new connection and inside the same one), tampered
// frames both ways, and asymmetric configuration seen from each side. What the daemon did is read
// back through `Target.log()` by a well-behaved client, so "nothing ran" is observed, not assumed.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CommunicationError,
  ConnectionClosedError,
  connect,
  Daemon,
  expose,
  MsgType,
  type Remote,
  SecurityError,
} from '@cinder/cinder';
import type { Message } from '@cinder/protocol';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import {
  cloneMessage,
  connectMessage,
  expectStillServes,
  type FrameTransform,
  framesOf,
  invokeMessage,
  json,
  RawClient,
  Relay,
  replyText,
  type SecurityServer,
  startSecurityServer,
} from './security-helpers.js';

const run = promisify(execFile);
const KEY = 'k3y-of-the-security-tests-0123456789';
const OTHER_KEY = 'another-key-of-the-same-length-98765';

let server: SecurityServer;
let good: Remote<Target>;

beforeAll(async () => {
  server = await startSecurityServer({ hmacKey: KEY, protocols: [502, 48] });
  good = connect<Target>(server.uri, { hmacKey: KEY, serializer: 'json' });
  expect(await good.add(1, 2)).toBe(3);
}, 30_000);

afterAll(async () => {
  await good?.$release();
  await stopAllChildren();
});

const stillServes = () => expectStillServes(server.uri, good, { hmacKey: KEY });

async function logOfDaemon(): Promise<string[]> {
  return good.log();
}

/** An INVOKE of `transfer` (what the attacker wants to repeat or change). */
const isTransfer = (m: Message): boolean =>
  m.type === MsgType.INVOKE && Buffer.from(m.payload).includes('"transfer"');

/** A batch trailer: the MAC over the messages a peer sent in one tick. */
const isTrailer = (m: Message): boolean => m.type === MsgType.PING && m.annotations?.has('CBAT') === true;

type Mode = 'batches' | 'per message';

/**
 * `transform` for frames to the daemon; in 'per message' mode the batch offer is first removed
 * from the key hello, so both ends fall back to one MAC per message (as with an older peer).
 */
function toDaemonIn(mode: Mode, transform: FrameTransform): FrameTransform {
  if (mode === 'batches') return transform;
  return (m, index) => {
    if (m.type === MsgType.PING && m.annotations?.has('CNON') === true) {
      const hello = cloneMessage(m);
      hello.annotations!.delete('CBAV');
      return hello;
    }
    return transform(m, index);
  };
}

const errorOf = (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );

describe('peers without the key', () => {
  it('no key: refused with "this daemon requires a shared key", nothing runs', async () => {
    await using p = connect<Target>(server.uri);
    const err = await errorOf(p.transfer(1000));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/rejected: this daemon requires a shared key$/);
    expect(await logOfDaemon()).not.toContain('transfer 1000');
    await stillServes();
  });

  it('wrong key: refused with "authentication failed"; the daemon sent a nonce and that text, nothing else', async () => {
    const relay = await Relay.start(server);
    try {
      await using p = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, { hmacKey: OTHER_KEY });
      const err = await errorOf(p.transfer(1001));
      expect(err).toBeInstanceOf(SecurityError);
      expect(err.message).toMatch(/rejected: authentication failed$/);
      const answers = framesOf(relay.answers[0]!);
      expect(answers.map((m) => m.type)).toEqual([MsgType.PING, MsgType.CONNECTFAIL]);
      // the pong carries the daemon's nonce and its choice of batch authentication, nothing that
      // depends on the key
      expect([...(answers[0]!.annotations?.keys() ?? [])]).toEqual(['CNON', 'CBAV']);
      expect([...answers[0]!.annotations!.get('CBAV')!]).toEqual([1]);
      expect(replyText(answers[1]!)).toBe('authentication failed');
      expect(await logOfDaemon()).not.toContain('transfer 1001');
    } finally {
      await relay.close();
    }
    await stillServes();
  });

  it('a raw client: INVOKE without CONNECT, unsigned CONNECT, CONNECT after a nonce — only refusals', async () => {
    const raw1 = await RawClient.open(server);
    raw1.send(invokeMessage(json, 'transfer', [1002]));
    const r1 = await raw1.next();
    expect(r1.type).toBe(MsgType.CONNECTFAIL);
    expect(replyText(r1)).toMatch(/^invalid msg type 4 received/);
    expect(await raw1.closesWithin(2000)).toBe(true);

    const raw2 = await RawClient.open(server);
    raw2.send(connectMessage(json, 'sec.target'));
    raw2.send(invokeMessage(json, 'transfer', [1003]));
    const r2 = await raw2.next();
    expect(r2.type).toBe(MsgType.CONNECTFAIL);
    expect(replyText(r2)).toBe('this daemon requires a shared key');
    expect(await raw2.closesWithin(2000)).toBe(true);
    expect(raw2.received).toEqual([]);

    // a hello with a nonce, then a CONNECT with a made-up MAC
    const raw3 = await RawClient.open(server);
    raw3.send({
      type: MsgType.PING,
      flags: 0,
      seq: 0,
      serializerId: 42,
      correlationId: null,
      annotations: new Map([['CNON', Buffer.concat([Buffer.from([1]), Buffer.alloc(32, 7)])]]),
      payload: Buffer.from('ping'),
    });
    expect((await raw3.next()).type).toBe(MsgType.PING);
    raw3.send({ ...connectMessage(json, 'sec.target'), annotations: new Map([['CMAC', Buffer.alloc(32)]]) });
    const r3 = await raw3.next();
    expect(replyText(r3)).toBe('authentication failed');
    expect(await raw3.closesWithin(2000)).toBe(true);

    const log = await logOfDaemon();
    expect(log.filter((l) => /^transfer 100[23]$/.test(l))).toEqual([]);
    await stillServes();
  });

  it('a keyed client refused by a connection limit is told so, not that keys differ', async () => {
    await using limited = await Daemon.start({ hmacKey: KEY, config: { maxConnectionsPerClient: 1 } });
    @expose
    class One {
      one(): number {
        return 1;
      }
    }
    const uri = limited.register(new One(), 'one').toString();
    await using first = connect<One>(uri, { hmacKey: KEY });
    expect(await first.one()).toBe(1);
    await using second = connect<One>(uri, { hmacKey: KEY });
    const err = await errorOf(second.one());
    expect(err).toBeInstanceOf(CommunicationError);
    expect(err).not.toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/rejected: connection from .* refused: .*\(maxConnectionsPerClient=1\)$/);
  });

  it('an unkeyed proxy and a keyed daemon, and the reverse: both sides say the configuration differs', async () => {
    await using openDaemon = await Daemon.start();
    @expose
    class Plain {
      ping(): string {
        return 'pong';
      }
    }
    const openUri = openDaemon.register(new Plain(), 'plain').toString();
    await using keyedClient = connect<Plain>(openUri, { hmacKey: KEY });
    const err = await errorOf(keyedClient.ping());
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/not symmetric/);
    await using plainClient = connect<Target>(server.uri);
    const err2 = await errorOf(plainClient.add(1, 1));
    expect(err2).toBeInstanceOf(SecurityError);
    expect(err2.message).toMatch(/requires a shared key/);
  });
});

describe('replay', () => {
  it('a recorded session replayed on a new connection runs nothing', async () => {
    const relay = await Relay.start(server);
    try {
      {
        await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
          hmacKey: KEY,
          serializer: 'json',
        });
        await victim.transfer(5);
      }
      const before = (await logOfDaemon()).filter((l) => l === 'transfer 5').length;
      expect(before).toBeGreaterThanOrEqual(1);
      const recorded = Buffer.concat(relay.recorded[0]!);
      const types = framesOf([recorded]).map((m) => m.type);
      // the key hello, CONNECT, and the call in a batch of its own (the trailer is a PING)
      expect(types).toEqual([MsgType.PING, MsgType.CONNECT, MsgType.INVOKE, MsgType.PING]);

      // all at once, as fast as a replaying attacker would
      const attacker = await RawClient.open(server);
      attacker.write(recorded);
      expect((await attacker.next()).type).toBe(MsgType.PING);
      const refusal = await attacker.next();
      expect(refusal.type).toBe(MsgType.CONNECTFAIL);
      expect(replyText(refusal)).toBe('authentication failed');
      expect(await attacker.closesWithin(2000)).toBe(true);
      expect(attacker.received).toEqual([]);

      // frame by frame, waiting for each answer
      const frames = framesOf([recorded]);
      const patient = await RawClient.open(server);
      patient.send(frames[0]!);
      expect((await patient.next()).type).toBe(MsgType.PING);
      patient.send(frames[1]!);
      expect(replyText(await patient.next())).toBe('authentication failed');
      patient.send(frames[2]!);
      expect(await patient.closesWithin(2000)).toBe(true);
      expect(patient.received).toEqual([]);

      // the INVOKE alone after a fresh, honest key exchange is still refused: CONNECT must come first
      expect((await logOfDaemon()).filter((l) => l === 'transfer 5').length).toBe(before);
    } finally {
      await relay.close();
    }
    await stillServes();
  });

  it('a message repeated inside its own connection (one MAC per message): the copy is refused and the connection dropped', async () => {
    const relay = await Relay.start(server, {
      toDaemon: toDaemonIn('per message', (m) => (isTransfer(m) ? [m, cloneMessage(m)] : m)),
    });
    try {
      await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
        hmacKey: KEY,
        serializer: 'json',
      });
      // the original may be answered before the copy is rejected; either way it ran once
      await victim.transfer(7).catch((e: unknown) => expect(e).toBeInstanceOf(ConnectionClosedError));
      await expect.poll(() => relay.daemonClosed, { timeout: 3000 }).toBe(1);
      expect((await logOfDaemon()).filter((l) => l === 'transfer 7')).toEqual(['transfer 7']);
    } finally {
      await relay.close();
    }
    await stillServes();
  });

  it('a message repeated inside its own batch: the batch is refused as a whole, nothing runs', async () => {
    const relay = await Relay.start(server, {
      toDaemon: (m) => (isTransfer(m) ? [m, cloneMessage(m)] : m),
    });
    try {
      await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
        hmacKey: KEY,
        serializer: 'json',
      });
      expect(await errorOf(victim.transfer(17))).toBeInstanceOf(ConnectionClosedError);
      expect(relay.daemonClosed).toBe(1);
      expect(await logOfDaemon()).not.toContain('transfer 17');
    } finally {
      await relay.close();
    }
    await stillServes();
  });

  it('a message moved to another connection of the same client is refused (keys are per connection)', async () => {
    // two sessions through one relay; the second session's transfer is swapped for the first one's
    let first: Message | undefined;
    const swap = await Relay.start(server, {
      toDaemon: (m) => {
        if (!isTransfer(m)) return m;
        if (!first) {
          first = cloneMessage(m);
          return m;
        }
        return first;
      },
    });
    try {
      {
        await using a = connect<Target>(`PYRO:sec.target@127.0.0.1:${swap.port}`, {
          hmacKey: KEY,
          serializer: 'json',
        });
        expect(await a.transfer(11)).toBeTypeOf('number');
      }
      await using b = connect<Target>(`PYRO:sec.target@127.0.0.1:${swap.port}`, {
        hmacKey: KEY,
        serializer: 'json',
      });
      const err = await errorOf(b.transfer(12));
      expect(err).toBeInstanceOf(ConnectionClosedError);
      const log = await logOfDaemon();
      expect(log.filter((l) => l === 'transfer 11')).toEqual(['transfer 11']);
      expect(log).not.toContain('transfer 12');
    } finally {
      await swap.close();
    }
    await stillServes();
  });
});

describe('tampering', () => {
  /** Runs `transfer(amount)` through a relay that alters the INVOKE; expects a drop and no call. */
  async function tampered(
    amount: number,
    alter: (m: Message) => void,
    mode: Mode = 'batches',
    which: (m: Message) => boolean = isTransfer,
  ) {
    const relay = await Relay.start(server, {
      toDaemon: toDaemonIn(mode, (m) => {
        if (!which(m)) return m;
        const copy = cloneMessage(m);
        alter(copy);
        return copy;
      }),
    });
    try {
      await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
        hmacKey: KEY,
        serializer: 'json',
        timeoutMs: 3000,
      });
      const err = await errorOf(victim.transfer(amount));
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect(relay.daemonClosed).toBe(1);
    } finally {
      await relay.close();
    }
    const log = await logOfDaemon();
    expect(log).not.toContain(`transfer ${amount}`);
    await stillServes();
  }

  it('one bit flipped in the payload (1 → 9): connection dropped, nothing runs', async () => {
    await tampered(1, (m) => {
      const at = Buffer.from(m.payload).indexOf('[1]') + 1;
      expect(at).toBeGreaterThan(0);
      m.payload[at]! ^= 0x08;
      expect(Buffer.from(m.payload).toString()).toContain('[9]');
    });
    expect(await logOfDaemon()).not.toContain('transfer 9');
  });

  it('one bit flipped in the payload, one MAC per message: connection dropped, nothing runs', async () => {
    await tampered(
      31,
      (m) => {
        const at = Buffer.from(m.payload).indexOf('[31]') + 2;
        m.payload[at]! ^= 0x08; // 31 → 39
      },
      'per message',
    );
    expect(await logOfDaemon()).not.toContain('transfer 39');
  });

  it('header fields: flags, seq and the MAC itself', async () => {
    for (const mode of ['batches', 'per message'] as const) {
      await tampered(
        3,
        (m) => {
          m.flags ^= 0x04; // ONEWAY: the caller would never learn the result
        },
        mode,
      );
      await tampered(
        4,
        (m) => {
          m.seq = (m.seq + 1) & 0xffff;
        },
        mode,
      );
    }
    await tampered(
      6,
      (m) => {
        const mac = Buffer.from(m.annotations!.get('CMAC')!);
        mac[0]! ^= 1;
        m.annotations!.set('CMAC', mac);
      },
      'per message',
    );
    await tampered(
      8,
      (m) => {
        m.annotations!.delete('CMAC');
      },
      'per message',
    );
    // batches: the trailer's MAC, and a trailer that is not one any more
    await tampered(
      55,
      (m) => {
        const mac = Buffer.from(m.annotations!.get('CBAT')!);
        mac[31]! ^= 0x80;
        m.annotations!.set('CBAT', mac);
      },
      'batches',
      isTrailer,
    );
    await tampered(
      95,
      (m) => {
        m.annotations!.set('CBAT', m.annotations!.get('CBAT')!.subarray(0, 16));
      },
      'batches',
      isTrailer,
    );
  });

  it('an annotation added by the attacker: dropped, nothing runs', async () => {
    for (const mode of ['batches', 'per message'] as const) {
      await tampered(
        2,
        (m) => {
          m.annotations = new Map(m.annotations ?? []).set('XTRA', Buffer.from('injected'));
        },
        mode,
      );
    }
  });

  it('a tampered reply: the proxy refuses it and closes; the call does not return the forged value', async () => {
    const relay = await Relay.start(server, {
      toClient: (m) => {
        if (m.type !== MsgType.RESULT) return m;
        const copy = cloneMessage(m);
        copy.payload = Buffer.from(JSON.stringify(1_000_000));
        return copy;
      },
    });
    try {
      await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
        hmacKey: KEY,
        serializer: 'json',
      });
      const err = await errorOf(victim.balance());
      expect(err).toBeInstanceOf(ConnectionClosedError);
    } finally {
      await relay.close();
    }
    await stillServes();
  });

  it('a forged CONNECTOK from a daemon without the key is refused before any call is sent', async () => {
    // a keyed proxy talking to a daemon that holds another key
    await using impostor = await Daemon.start({ hmacKey: OTHER_KEY });
    @expose
    class Bank {
      transfer(): string {
        return 'stolen';
      }
    }
    const uri = impostor.register(new Bank(), 'sec.target').toString();
    await using victim = connect<Target>(uri, { hmacKey: KEY });
    const err = await errorOf(victim.transfer(1));
    expect(err).toBeInstanceOf(SecurityError);
  });
});

describe('keys from the environment', () => {
  it('CINDER_HMAC_KEY keys a daemon; useEnvironment: false ignores it', async () => {
    const fromEnv = await startSecurityServer({}, { CINDER_HMAC_KEY: KEY });
    const ignoring = await startSecurityServer({ useEnvironment: false }, { CINDER_HMAC_KEY: KEY });
    try {
      await using keyless = connect<Target>(fromEnv.uri);
      expect((await errorOf(keyless.add(1, 1))).message).toMatch(/requires a shared key/);
      await using keyed = connect<Target>(fromEnv.uri, { hmacKey: KEY });
      expect(await keyed.add(1, 1)).toBe(2);
      await using plain = connect<Target>(ignoring.uri);
      expect(await plain.add(2, 2)).toBe(4);
    } finally {
      await fromEnv.child.stop();
      await ignoring.child.stop();
    }
  });

  it('a proxy reads CINDER_HMAC_KEY unless useEnvironment is false', async () => {
    const saved = process.env.CINDER_HMAC_KEY;
    process.env.CINDER_HMAC_KEY = KEY;
    try {
      await using fromEnv = connect<Target>(server.uri);
      expect(await fromEnv.add(3, 4)).toBe(7);
      await using ignoring = connect<Target>(server.uri, { useEnvironment: false });
      expect((await errorOf(ignoring.add(3, 4))).message).toMatch(/requires a shared key/);
    } finally {
      if (saved === undefined) delete process.env.CINDER_HMAC_KEY;
      else process.env.CINDER_HMAC_KEY = saved;
    }
  });
});

describe('Pyro4 HMAC (protocol 48) with a Python Pyro4 peer', () => {
  const PY = `
import sys, Pyro4, Pyro4.errors
Pyro4.config.SERIALIZER = "serpent"
Pyro4.config.COMMTIMEOUT = 5
uri, key = sys.argv[1], sys.argv[2]
p = Pyro4.Proxy(uri)
if key:
    p._pyroHmacKey = key.encode()
try:
    print("OK", p.transfer(int(sys.argv[3])))
except Exception as e:
    print("ERR", type(e).__name__, e)
`;
  async function python(uri: string, key: string, amount: number): Promise<string> {
    const { stdout } = await run('/usr/bin/python3', ['-c', PY, uri, key, String(amount)], {
      timeout: 20_000,
    });
    return stdout.trim();
  }

  it('the right key calls; a wrong key or none is refused and runs nothing', async () => {
    expect(await python(server.uri, KEY, 4801)).toMatch(/^OK \d+$/);
    const wrong = await python(server.uri, OTHER_KEY, 4802);
    expect(wrong).toMatch(/^ERR CommunicationError .*message hmac mismatch$/);
    const none = await python(server.uri, '', 4803);
    expect(none).toMatch(/^ERR CommunicationError .*hmac key config not symmetric$/);
    const log = await logOfDaemon();
    expect(log).toContain('transfer 4801');
    expect(log).not.toContain('transfer 4802');
    expect(log).not.toContain('transfer 4803');
    await stillServes();
  }, 60_000);

  it('a keyed daemon serves protocol 48 only when asked (protocols: [502, 48])', async () => {
    const only502 = await startSecurityServer({ hmacKey: KEY });
    try {
      // the daemon answers a Pyro4 frame in protocol 502, which Pyro4 cannot read
      const out = await python(only502.uri, KEY, 4804);
      expect(out).toBe('ERR ProtocolError invalid data or unsupported protocol version');
      await using cinder48 = connect<Target>(only502.uri, {
        hmacKey: KEY,
        protocol: 48,
        serializer: 'serpent',
      });
      const e48 = await errorOf(cinder48.add(1, 1));
      expect(e48.message).toMatch(
        /closed during the handshake: invalid data or unsupported protocol version$/,
      );
      await using cinder502 = connect<Target>(only502.uri, { hmacKey: KEY });
      expect(await cinder502.log()).not.toContain('transfer 4804');
    } finally {
      await only502.child.stop();
    }
  }, 60_000);

  it('a Cinder proxy on protocol 48 uses Pyro4 HMAC with the same key', async () => {
    await using p48 = connect<Target>(server.uri, { hmacKey: KEY, protocol: 48, serializer: 'serpent' });
    expect(await p48.add(5, 6)).toBe(11);
    await using wrong48 = connect<Target>(server.uri, {
      hmacKey: OTHER_KEY,
      protocol: 48,
      serializer: 'serpent',
    });
    const wrong = await errorOf(wrong48.add(5, 6));
    expect(wrong).toBeInstanceOf(SecurityError);
    expect(wrong.message).toMatch(/refused during the handshake: message hmac mismatch$/);
    await using none48 = connect<Target>(server.uri, { protocol: 48, serializer: 'serpent' });
    const none = await errorOf(none48.add(5, 6));
    expect(none).toBeInstanceOf(SecurityError);
    expect(none.message).toMatch(/refused during the handshake: hmac key config not symmetric$/);
    expect(await p48.add(6, 7)).toBe(13);
  });
});
