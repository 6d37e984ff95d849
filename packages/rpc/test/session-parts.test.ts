// A session's parts (its own calls, the peer's calls, pushed streams) are made when first used: a
// connection opened and closed without a call — most of a daemon's when clients reconnect — makes
// none of them, and what it does without them (answer a PING, close) is as before.
import { silentLogger } from '@cinder/core';
import { createSerializers } from '@cinder/serializers';
import { type Connection, type Listener, MemoryNetwork, memoryTransport } from '@cinder/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { Capability } from '../src/capabilities.js';
import { startHeartbeat } from '../src/heartbeat.js';
import { Session } from '../src/session.js';
import type { CallServer } from '../src/session-types.js';

const framing = { versions: [502] as const, maxMessageSize: 1 << 20 };
const serializers = createSerializers({ dialect: 5 });
const cbor = serializers.byName('cbor')!;

/** The parts a session has made so far (private fields, read here only). */
function partsOf(session: Session): string[] {
  const fields = session as unknown as Record<string, unknown>;
  return ['callsPart', 'servingPart', 'streamsPart'].filter((k) => fields[k] !== undefined);
}

const opened: Session[] = [];
const listeners: Listener[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

/** A client session and the server session the memory transport accepted for it. */
async function pair(server?: CallServer): Promise<{ client: Session; served: Session }> {
  const transport = memoryTransport({ network: new MemoryNetwork() });
  const endpoint = { kind: 'tcp', host: '127.0.0.1', port: 9 } as const;
  let accept!: (session: Session) => void;
  const accepted = new Promise<Session>((resolve) => {
    accept = resolve;
  });
  const listener = await transport.listen({ endpoint, framing }, (connection: Connection) => {
    accept(new Session({ connection, serializers, logger: silentLogger, server }));
  });
  listeners.push(listener);
  const connection = await transport.connect({ endpoint, framing });
  const client = new Session({ connection, serializers, logger: silentLogger });
  const served = await accepted;
  opened.push(client, served);
  return { client, served };
}

describe('a session makes its parts when first used', () => {
  it('closes without making any, and answers a PING with only its output accounting', async () => {
    const { client, served } = await pair();
    expect(partsOf(served)).toEqual([]);
    await client.ping({ timeoutMs: 2000 });
    // the pong counts as output of the serving part (a peer that pings and never reads is paused)
    expect(partsOf(served)).toEqual(['servingPart']);
    expect(served.pendingCount).toBe(0);
    expect(served.awaitsPeer).toBe(false);
    const closed = new Promise<void>((resolve) => served.onShutdown(resolve));
    await client.close();
    await closed;
    expect(served.isClosed).toBe(true);
    expect(partsOf(served)).toEqual(['servingPart']);
    // the pinging end made its calls part (the PING waited for its pong there), nothing else
    expect(partsOf(client)).toEqual(['callsPart']);
  });

  it('serves a call once one comes, and a session closed after it fails the calls still out', async () => {
    let release!: () => void;
    const { client, served } = await pair({
      dispatch: ({ call }) =>
        call.method === 'hold' ? new Promise<string>((resolve) => (release = () => resolve('late'))) : 'hi',
    });
    const call = (method: string) =>
      client.invoke({ object: 'o', method, params: [], kwargs: {} }, { serializer: cbor, timeoutMs: 2000 });
    expect(await call('greet')).toBe('hi');
    expect(partsOf(served)).toEqual(['servingPart']);
    const held = call('hold');
    await new Promise((r) => setTimeout(r, 20));
    expect(client.awaitsPeer).toBe(true);
    expect(client.pendingCount).toBe(1);
    const failed = expect(held).rejects.toThrow('connection closed');
    await client.close();
    await failed;
    release();
  });

  it('a session whose heartbeat was started makes no part until it first waits for its peer', async () => {
    const { client } = await pair();
    // as the client handshake leaves a pipelined connection between Cinder peers
    client.multiplexed = true;
    client.capabilities = Capability.MULTIPLEX;
    startHeartbeat(client, 5000);
    expect(partsOf(client)).toEqual([]);
    expect(client.heartbeatMs).toBe(5000);
    // the first wait (a PING out) makes the calls part and lists the session for the heartbeat
    await client.ping({ timeoutMs: 2000 });
    expect(partsOf(client)).toEqual(['callsPart']);
    expect(client.heartbeatMs).toBe(0);
  });
});
