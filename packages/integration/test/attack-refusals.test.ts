// Attack: refused handshakes whose client keeps its socket open. A refusal used to close the
// connection without handling the close's failure: 10 s later (the close timeout) the rejection was
// unhandled and the process exited. Every kind of refusal is tried against the real apps, held past
// that timeout, and the process must stay alive and keep serving.
import { Flags, MsgType } from '@cinder/protocol';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import {
  type AttackedApp,
  Attacker,
  connectFrame,
  expectServed,
  json4,
  json5,
  marshal5,
  sleep,
  startEchoServer,
  startNameServer,
} from './attack-helpers.js';

/** Longer than the transport's default close timeout (10 s), which is what used to go off. */
const HOLD_MS = 11_000;

type Cleanup = (fn: OnTestFinishedHandler) => void;

// The tests run side by side: each stops what it started when it finishes (through its own
// context's onTestFinished: the global one cannot tell concurrent tests apart).
async function track(onFinished: Cleanup, app: Promise<AttackedApp>): Promise<AttackedApp> {
  const a = await app;
  onFinished(() => a.stop());
  return a;
}

async function attacker(
  onFinished: Cleanup,
  target: Parameters<typeof Attacker.open>[0],
  version: 502 | 48 = 502,
): Promise<Attacker> {
  const a = await Attacker.open(target, version);
  onFinished(() => a.destroy());
  return a;
}

/** Sends the frame and waits for the refusal; the socket stays open (the attacker never closes). */
async function refusedAndHeld(a: Attacker, frame: Parameters<Attacker['send']>[0]): Promise<void> {
  a.send(frame);
  const reply = await a.next(5000);
  expect(reply.type).toBe(MsgType.CONNECTFAIL);
}

describe.concurrent('attack: refused CONNECT, socket held open', () => {
  it('Pyro5 json CONNECT to no.such.object, held past the close timeout: the echo server stays alive', async ({
    onTestFinished: fin,
  }) => {
    const app = await track(fin, startEchoServer());
    const a = await attacker(fin, { host: app.host, port: app.port });
    await refusedAndHeld(a, connectFrame(json5, 'no.such.object'));
    // the daemon gives up waiting for the attacker's end soon: its socket is gone (so bytes written
    // now are answered with a reset, and the next write fails), the attacker holds no slot
    await sleep(2000);
    for (let i = 0; i < 10 && !a.isClosed; i++) {
      a.write(Buffer.from('still there?'));
      await a.closesWithin(100);
    }
    expect(a.isClosed).toBe(true);
    // the Pyro4 protocol's way to the same refusal (META_ON_CONNECT asks for the object)
    const a4 = await attacker(fin, { host: app.host, port: app.port }, 48);
    await refusedAndHeld(a4, { ...connectFrame(json4, 'no.such.object'), flags: Flags.META_ON_CONNECT });
    await sleep(HOLD_MS);
    await expectServed(app);
  }, 40_000);

  it('Pyro5 json CONNECT to no.such.object, held past the close timeout: the name server stays alive', async ({
    onTestFinished: fin,
  }) => {
    const app = await track(fin, startNameServer());
    const a = await attacker(fin, { host: app.host, port: app.port });
    await refusedAndHeld(a, connectFrame(json5, 'no.such.object'));
    await sleep(HOLD_MS);
    await expectServed(app);
  }, 40_000);

  it('refused serializer and connection limit, held: the echo server stays alive', async ({
    onTestFinished: fin,
  }) => {
    const app = await track(
      fin,
      startEchoServer({ args: ['-s', 'cbor,json'], env: { CINDER_MAX_CONNECTIONS_PER_CLIENT: '2' } }),
    );
    // from another source address, so the good client (127.0.0.1) is not the one limited
    const from = { host: app.host, port: app.port, localAddress: '127.0.0.2' };
    const s = await attacker(fin, from);
    await refusedAndHeld(s, connectFrame(marshal5, 'test.echoserver'));
    const held = [await attacker(fin, from), await attacker(fin, from)];
    const over = await attacker(fin, from);
    await refusedAndHeld(over, connectFrame(json5, 'test.echoserver'));
    expect(held.every((h) => !h.isClosed)).toBe(true);
    await sleep(HOLD_MS);
    await expectServed(app);
  }, 40_000);

  it('CONNECT without the shared key to a keyed echo server, held: it stays alive', async ({
    onTestFinished: fin,
  }) => {
    const key = 'attack-suite-key-0123456789abcdef';
    const app = await track(fin, startEchoServer({ env: { CINDER_HMAC_KEY: key } }));
    const a = await attacker(fin, { host: app.host, port: app.port });
    await refusedAndHeld(a, connectFrame(json5, 'test.echoserver'));
    await sleep(HOLD_MS);
    await expectServed(app, { hmacKey: key });
  }, 40_000);
});
