// Attacks on batch authentication (one MAC per batch of messages, carried by a trailer), against a
// keyed daemon in its own process, through a relay that replays, reorders, truncates and injects
// frames after an honest shared-key handshake. Each attack must be refused, end that connection
// only, and run nothing it touched; what ran is read back from the daemon's log by a good client.
import { ConnectionClosedError, connect, MsgType, type Remote } from '@cinder/cinder';
import type { Message } from '@cinder/protocol';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Target } from './fixtures/security-objects.js';
import {
  cloneMessage,
  expectStillServes,
  type FrameTransform,
  framesOf,
  invokeMessage,
  json,
  Relay,
  type SecurityServer,
  startSecurityServer,
} from './security-helpers.js';

const KEY = 'k3y-of-the-batch-tests-0123456789abcdef';

let server: SecurityServer;
let good: Remote<Target>;
/** Set by a test body once the honest first call is done: the relay's attack starts then. */
let pending = false;

beforeAll(async () => {
  server = await startSecurityServer({ hmacKey: KEY });
  good = connect<Target>(server.uri, { hmacKey: KEY, serializer: 'json' });
  expect(await good.add(1, 2)).toBe(3);
}, 30_000);

afterAll(async () => {
  await good?.$release();
  await stopAllChildren();
});

const isTrailer = (m: Message): boolean => m.type === MsgType.PING && m.annotations?.has('CBAT') === true;
const transferOf = (m: Message): number | undefined => {
  if (m.type !== MsgType.INVOKE) return undefined;
  const match = /"transfer".*\[(\d+)\]/.exec(Buffer.from(m.payload).toString());
  return match ? Number(match[1]) : undefined;
};

const ran = async (amount: number): Promise<number> =>
  (await good.log()).filter((l) => l === `transfer ${amount}`).length;

/** A keyed proxy through a relay that applies `toDaemon` to the frames it sends. */
async function throughRelay(
  toDaemon: FrameTransform,
  body: (victim: Remote<Target>, relay: Relay) => Promise<void>,
): Promise<void> {
  const relay = await Relay.start(server, { toDaemon });
  try {
    await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
      hmacKey: KEY,
      serializer: 'json',
      timeoutMs: 5000,
    });
    expect(await victim.add(2, 3)).toBe(5); // an honest handshake and a first batch
    await body(victim, relay);
    await expect.poll(() => relay.daemonClosed, { timeout: 3000 }).toBe(1);
  } finally {
    await relay.close();
  }
  await expectStillServes(server.uri, good, { hmacKey: KEY });
}

const closed = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(ConnectionClosedError);

describe('batch authentication under attack', () => {
  beforeEach(() => {
    pending = false;
  });

  it('the honest stream: each tick is one batch, its messages followed by one trailer', async () => {
    const relay = await Relay.start(server);
    try {
      await using victim = connect<Target>(`PYRO:sec.target@127.0.0.1:${relay.port}`, {
        hmacKey: KEY,
        serializer: 'json',
      });
      await Promise.all([victim.transfer(100), victim.transfer(101), victim.transfer(102)]);
      const sent = framesOf(relay.recorded[0]!);
      const calls = sent.filter((m) => transferOf(m) !== undefined);
      expect(calls).toHaveLength(3);
      // the three calls left in one tick: one trailer after all three, none between them
      const at = sent.indexOf(calls[0]!);
      expect(sent.slice(at, at + 4).map((m) => transferOf(m) ?? (isTrailer(m) ? 'trailer' : m.type))).toEqual(
        [100, 101, 102, 'trailer'],
      );
      const answers = framesOf(relay.answers[0]!);
      expect(answers.filter(isTrailer).length).toBeGreaterThanOrEqual(1);
      expect(relay.daemonClosed).toBe(0);
    } finally {
      await relay.close();
    }
  });

  it('a batch replayed later in its own connection is refused; the original ran once', async () => {
    let held: Message[] = [];
    await throughRelay(
      (m) => {
        if (transferOf(m) === 200) {
          held = [cloneMessage(m)];
          return m;
        }
        if (isTrailer(m) && held.length === 1) {
          held.push(cloneMessage(m));
          return [m, ...held]; // the batch, then the same batch again
        }
        return m;
      },
      async (victim) => {
        await victim.transfer(200).catch((e: unknown) => expect(e).toBeInstanceOf(ConnectionClosedError));
        expect(held).toHaveLength(2);
      },
    );
    expect(await ran(200)).toBe(1);
  });

  it('two frames of one batch swapped: the batch is refused, neither call runs', async () => {
    let first: Message | null = null;
    const order: (number | string)[] = [];
    await throughRelay(
      (m) => {
        const amount = transferOf(m);
        if (amount === 301 || amount === 302 || (isTrailer(m) && first !== null)) {
          order.push(amount ?? 'trailer');
        }
        if (amount === 301) {
          first = m;
          return null;
        }
        if (amount === 302 && first !== null) return [m, first];
        return m;
      },
      async (victim) => {
        await Promise.all([closed(victim.transfer(301)), closed(victim.transfer(302))]);
      },
    );
    // they were one batch: both calls, then its trailer
    expect(order).toEqual([301, 302, 'trailer']);
    expect(await ran(301)).toBe(0);
    expect(await ran(302)).toBe(0);
  });

  it('a batch cut short (its last message dropped): refused, nothing of it runs', async () => {
    await throughRelay(
      (m) => (transferOf(m) === 402 ? null : m),
      async (victim) => {
        await Promise.all([closed(victim.transfer(401)), closed(victim.transfer(402))]);
      },
    );
    expect(await ran(401)).toBe(0);
    expect(await ran(402)).toBe(0);
  });

  it('a batch without its trailer is never acted on; the next batch is refused', async () => {
    let dropped = false;
    await throughRelay(
      (m) => {
        if (isTrailer(m) && !dropped && pending) {
          dropped = true;
          return null;
        }
        return m;
      },
      async (victim) => {
        pending = true;
        const first = victim.transfer(501);
        // the daemon holds 501 unanswered: its batch never closed
        await new Promise((r) => setTimeout(r, 200));
        expect(dropped).toBe(true);
        expect(await ran(501)).toBe(0);
        await Promise.all([closed(first), closed(victim.transfer(502))]);
      },
    );
    expect(await ran(501)).toBe(0);
    expect(await ran(502)).toBe(0);
  });

  it('a frame injected between two batches is refused with the batch after it', async () => {
    let injected = false;
    await throughRelay(
      (m) => {
        if (isTrailer(m) && pending && !injected) {
          injected = true;
          return [m, invokeMessage(json, 'transfer', [666], { seq: 77 })];
        }
        return m;
      },
      async (victim) => {
        pending = true;
        expect(await victim.transfer(601)).toBeTypeOf('number'); // its batch was whole
        await new Promise((r) => setTimeout(r, 100));
        expect(await ran(666)).toBe(0); // held: no trailer covers it
        await closed(victim.transfer(602));
      },
    );
    expect(injected).toBe(true);
    expect(await ran(601)).toBe(1);
    expect(await ran(666)).toBe(0);
    expect(await ran(602)).toBe(0);
  });

  it('a oneway call made just before $release() reaches the daemon: closing seals the open batch', async () => {
    const victim = connect<Target>(server.uri, { hmacKey: KEY, serializer: 'json' });
    expect(await victim.add(1, 1)).toBe(2);
    const sent = victim.note('sealed on close');
    await victim.$release();
    await sent;
    await expect
      .poll(async () => (await good.log()).includes('note sealed on close'), { timeout: 3000 })
      .toBe(true);
  });
});
