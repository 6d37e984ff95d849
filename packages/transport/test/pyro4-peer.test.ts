// Interop with a real Python Pyro4 peer (protocol 48) over TCP, Unix sockets and mutual TLS, both
// ways: a Pyro4 Proxy connecting to a Cinder listener, and a Cinder client talking to a Pyro4
// daemon. This checks what no loopback test between two Cinder ends can: that Python's framing,
// TLS settings (hostname check against IP SANs, client certificates) and ours agree.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flags, MsgType, SerializerId } from '@cinder/protocol';
import { generateTestPki, scratchDir, startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tcpTransport, tlsTransport, unixTransport } from '../src/index.js';
import type { Connection, Endpoint, Transport } from '../src/transport.js';
import { framing, message, Recorder, Tracker } from './harness.js';

const script = fileURLToPath(new URL('./fixtures/pyro4_peer.py', import.meta.url));
const python = '/usr/bin/python3';
const dir = scratchDir('pyro4');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  name: string;
  transport: () => Promise<Transport>;
  listenEndpoint: () => Endpoint;
  /** Where the Pyro4 daemon listens (host or Unix path) and the extra arguments for TLS. */
  serverWhere: () => string;
  tlsArgs: (side: 'client' | 'server') => Promise<string[]>;
}

const pki = () => generateTestPki();

const cases: Case[] = [
  {
    name: 'tcp',
    transport: async () => tcpTransport(),
    listenEndpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }),
    serverWhere: () => '127.0.0.1',
    tlsArgs: async () => [],
  },
  {
    name: 'unix',
    transport: async () => unixTransport(),
    listenEndpoint: () => ({ kind: 'unix', path: join(dir, `c${Date.now()}.sock`) }),
    serverWhere: () => join(dir, `p${Date.now()}.sock`),
    tlsArgs: async () => [],
  },
  {
    name: 'mutual tls',
    transport: async () => {
      const p = await pki();
      return tlsTransport({
        server: { cert: p.server.cert, key: p.server.key, ca: p.ca.cert, requestCert: true },
        client: { ca: p.ca.cert, cert: p.client.cert, key: p.client.key },
      });
    },
    listenEndpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }),
    serverWhere: () => '127.0.0.1',
    tlsArgs: async (side) => {
      const p = await pki();
      return side === 'client'
        ? [p.ca.certPath, p.client.certPath, p.client.keyPath]
        : [p.server.certPath, p.server.keyPath, p.ca.certPath];
    },
  },
];

function location(endpoint: Endpoint): string {
  return endpoint.kind === 'tcp' ? `${endpoint.host}:${endpoint.port}` : `./u:${endpoint.path}`;
}

describe.each(cases)('Pyro4 peer over $name', (c) => {
  const track = new Tracker();
  afterEach(async () => {
    await track.closeAll();
    await stopAllChildren();
  });

  it('a Pyro4 proxy reaches a Cinder listener, which refuses it with CONNECTFAIL', async () => {
    const transport = await c.transport();
    const seen: Array<{ type: number; version: number | undefined; serializerId: number }> = [];
    const listener = track.listener(
      await transport.listen(
        { endpoint: c.listenEndpoint(), framing: framing([502, 48]) },
        (conn: Connection) => {
          track.connection(conn);
          conn.setHandler(
            new Recorder((m) => {
              seen.push({ type: m.type, version: conn.protocolVersion, serializerId: m.serializerId });
              // A serpent-serialized Python str, as a Pyro daemon would send the reason.
              const reason = Buffer.from("# serpent utf-8 python3.2\n'go away, says cinder'");
              conn.send(message(m.seq, reason, { type: MsgType.CONNECTFAIL, serializerId: m.serializerId }));
              conn.close().catch(() => conn.destroy());
            }),
          );
        },
      ),
    );
    const uri = `PYRO:test.echo@${location(listener.endpoint)}`;
    const child = startChild(script, ['client', uri, ...(await c.tlsArgs('client'))], { command: python });
    const [line] = await child.waitForLine(/^(?:CONNECTED|REJECTED).*$/, 10_000);
    expect(line).toMatch(/^REJECTED connection to .* rejected: .*go away, says cinder/);
    expect(seen).toEqual([{ type: MsgType.CONNECT, version: 48, serializerId: SerializerId.SERPENT }]);
  });

  it('a Cinder client connects to a Pyro4 daemon and gets CONNECTOK with metadata', async () => {
    const transport = await c.transport();
    const child = startChild(script, ['server', c.serverWhere(), ...(await c.tlsArgs('server'))], {
      command: python,
    });
    const [, where] = (await child.waitForLine(/^READY (.+)$/, 10_000)) as unknown as [string, string];
    const endpoint: Endpoint = where.startsWith('./u:')
      ? { kind: 'unix', path: where.slice(4) }
      : {
          kind: 'tcp',
          host: where.slice(0, where.lastIndexOf(':')),
          port: Number(where.slice(where.lastIndexOf(':') + 1)),
        };
    const conn = track.connection(
      await transport.connect({ endpoint, framing: framing([48]), timeoutMs: 5000 }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    const connect = JSON.stringify({ handshake: 'hello from cinder', object: 'test.echo' });
    conn.send(
      message(0, connect, {
        type: MsgType.CONNECT,
        serializerId: SerializerId.JSON,
        flags: Flags.META_ON_CONNECT,
      }),
    );
    await rec.until(() => rec.messages.length > 0 || rec.closes.length > 0, 'CONNECTOK', 10_000);
    const reply = rec.messages[0]!;
    expect(reply.type).toBe(MsgType.CONNECTOK);
    const body = JSON.parse(Buffer.from(reply.payload).toString()) as {
      handshake: string;
      meta: { methods: string[] };
    };
    // Pyro4's default validateHandshake answers "hello" whatever the client sent.
    expect(body.handshake).toBe('hello');
    expect(body.meta.methods).toContain('echo');
    await conn.close();
  });
});
