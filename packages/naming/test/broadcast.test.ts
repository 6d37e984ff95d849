// Broadcast discovery on loopback: the recorded datagrams of broadcast.jsonl replayed against the
// responder (a GET_NSURI gets the URI as ISO-8859-1 text, anything else gets nothing), the
// locator finding a name server that way, the 0.0.0.0 substitution, and Pyro's rule that a name
// server bound to loopback starts no responder unless asked.
import { createSocket, type Socket } from 'node:dgram';
import { resolveConfig, URI } from '@cinder/core';
import { frameBytes, vectorScenarios } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BroadcastResponder, broadcastLocate, locateNameServer, startNameServer } from '../src/index.js';

/** Sends one datagram to 127.0.0.1:port; resolves with the first answer, or null after `waitMs`. */
async function ask(port: number, datagram: Uint8Array, waitMs = 1000): Promise<Buffer | null> {
  const socket: Socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const answer = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), waitMs);
      socket.once('message', (data) => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    socket.send(datagram, port, '127.0.0.1');
    return await answer;
  } finally {
    socket.close();
  }
}

describe('broadcast responder', () => {
  const nsUri = URI.parse('PYRO:Pyro.NameServer@127.0.0.1:39999');
  let responder: BroadcastResponder;
  beforeAll(async () => {
    responder = await BroadcastResponder.start({ uri: nsUri, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await responder?.close();
  });

  for (const [scenario, lines] of vectorScenarios('broadcast')) {
    it(`replays ${scenario}`, async () => {
      const request = lines.find((l) => l.direction === 'c2s')!;
      const reply = lines.find((l) => l.direction === 's2c')!;
      const answer = await ask(responder.port, frameBytes(request), reply.event === 'no-reply' ? 500 : 2000);
      if (reply.event === 'no-reply') {
        expect(answer).toBeNull();
        return;
      }
      // Pyro's answer, with its name server's port in place of ours.
      const expected = frameBytes(reply).toString('latin1').replace(/:\d+$/, ':39999');
      expect(answer?.toString('latin1')).toBe(expected);
    });
  }

  it('ignores near misses', async () => {
    for (const datagram of ['GET_NSURI\n', 'get_nsuri', 'GET_NSUR', '']) {
      expect(await ask(responder.port, Buffer.from(datagram, 'latin1'), 300)).toBeNull();
    }
    // …and still answers afterwards.
    expect((await ask(responder.port, Buffer.from('GET_NSURI')))?.toString('latin1')).toBe(nsUri.toString());
  });

  it('is found by broadcastLocate', async () => {
    const found = await broadcastLocate({ port: responder.port, addresses: ['127.0.0.1'], timeoutMs: 1000 });
    expect(found?.toString()).toBe(nsUri.toString());
  });

  it('gives up after its attempts when nothing answers', async () => {
    const quiet = createSocket('udp4');
    await new Promise<void>((resolve) => quiet.bind(0, '127.0.0.1', resolve));
    const port = quiet.address().port;
    try {
      const t0 = performance.now();
      expect(
        await broadcastLocate({ port, addresses: ['127.0.0.1'], timeoutMs: 100, attempts: 2 }),
      ).toBeUndefined();
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      quiet.close();
    }
  });

  it('answers for a name server bound to 0.0.0.0 with the address facing the requester', async () => {
    const wildcard = await BroadcastResponder.start({
      uri: URI.parse('PYRO:Pyro.NameServer@0.0.0.0:39998'),
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const answer = await ask(wildcard.port, Buffer.from('GET_NSURI'));
      expect(answer?.toString('latin1')).toBe('PYRO:Pyro.NameServer@127.0.0.1:39998');
      // Cached per requester: the second answer is the same.
      expect((await ask(wildcard.port, Buffer.from('GET_NSURI')))?.toString('latin1')).toBe(
        'PYRO:Pyro.NameServer@127.0.0.1:39998',
      );
    } finally {
      await wildcard.close();
    }
  });
});

describe('startNameServer and discovery', () => {
  it('starts no responder on loopback unless asked (Pyro’s rule)', async () => {
    const ns = await startNameServer({ host: '127.0.0.1', port: 0, bcPort: 0 });
    try {
      expect(ns.broadcast).toBeNull();
    } finally {
      await ns.close();
    }
  });

  it('is located by broadcast when the configured host has no name server', async () => {
    const ns = await startNameServer({
      host: '127.0.0.1',
      port: 0,
      bcHost: '127.0.0.1',
      bcPort: 0,
      broadcastOnLoopback: true,
    });
    try {
      expect(ns.broadcast).not.toBeNull();
      // nsHost points at a port where nothing listens, so only broadcast can find it.
      const config = resolveConfig(
        { nsHost: '127.0.0.1', nsPort: 1, nsBcPort: ns.broadcast!.port, broadcastAddrs: ['127.0.0.1'] },
        { useEnvironment: false },
      );
      const found = await locateNameServer({ config });
      expect(found.toString()).toBe(ns.uri.toString());
    } finally {
      await ns.close();
    }
  });
});
