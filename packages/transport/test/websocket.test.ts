// The WebSocket transport (`ws:` and `wss:`, the `ws` package on both sides here): the compliance
// suite over real loopback sockets, plus what is specific to WebSockets (the HTTP side of the
// endpoint, paths, origins, text messages).
import { createServer as createNetServer, type Socket } from 'node:net';
import { generateTestPki } from '@cinder/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocket } from 'ws';
import { type TlsClientOptions, type TlsServerOptions, webSocketTransport } from '../src/index.js';
import type { Endpoint } from '../src/transport.js';
import { type ComplianceTarget, transportCompliance } from './compliance.js';
import { framing, message, Recorder, Tracker, within } from './harness.js';

const pkiPromise = generateTestPki();

/** A TCP server that accepts and then says nothing: the HTTP upgrade never completes. */
async function silentServer(track: Tracker): Promise<Endpoint> {
  const server = track.server(createNetServer());
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { kind: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port };
}

/** A raw byte stream over a WebSocket (each write one binary message), as the raw-socket tests need. */
function rawWebSocket(url: string, track: Tracker, options: Record<string, unknown> = {}): Promise<Socket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  const duplex = createWebSocketStream(ws) as unknown as Socket;
  duplex.on('error', () => {});
  track.socket(duplex);
  return within(
    new Promise((resolve) => ws.once('open', () => resolve(duplex))),
    5000,
    'raw WebSocket connect',
  );
}

async function wsTarget(secure: boolean): Promise<ComplianceTarget> {
  const pki = await pkiPromise;
  const server: TlsServerOptions = { cert: pki.server.cert, key: pki.server.key };
  const client: TlsClientOptions = { ca: pki.ca.cert };
  const transport = secure ? webSocketTransport({ server, client }) : webSocketTransport();
  return {
    server: transport,
    client: transport,
    listenEndpoint: () => ({ kind: 'tcp', host: '127.0.0.1', port: 0 }),
    rawConnect: (endpoint, track) => {
      if (endpoint.kind !== 'tcp') throw new Error('tcp endpoint expected');
      const scheme = secure ? 'wss' : 'ws';
      return rawWebSocket(
        `${scheme}://127.0.0.1:${endpoint.port}/`,
        track,
        secure ? { ca: pki.ca.cert } : {},
      );
    },
    stalled: silentServer,
    streamOnly: true,
  };
}

transportCompliance('ws', () => wsTarget(false));
transportCompliance('wss', () => wsTarget(true));

describe('websocket specifics', () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());

  async function echoListener(transport: ReturnType<typeof webSocketTransport>) {
    const recs: Recorder[] = [];
    const listener = track.listener(
      await transport.listen(
        { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 }, framing: framing([502]) },
        (conn) => {
          track.connection(conn);
          const rec = new Recorder((m) => {
            if (!conn.closed) conn.send({ ...m, type: 5 });
          });
          conn.setHandler(rec);
          recs.push(rec);
        },
      ),
    );
    const port = (listener.endpoint as { port: number }).port;
    return { listener, port, recs };
  }

  it('answers plain HTTP with 426, a wrong path with 404, a refused origin with 403', async () => {
    const transport = webSocketTransport({
      path: '/cinder',
      allowOrigin: (o) => o === 'https://good.example',
    });
    const { port } = await echoListener(transport);
    const plain = await fetch(`http://127.0.0.1:${port}/cinder`);
    expect(plain.status).toBe(426);
    const refused = (url: string, origin?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, origin ? { origin } : {});
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          resolve(101);
          ws.close();
        });
        ws.on('error', () => {});
      });
    expect(await refused(`ws://127.0.0.1:${port}/other`, 'https://good.example')).toBe(404);
    expect(await refused(`ws://127.0.0.1:${port}/cinder`, 'https://evil.example')).toBe(403);
    expect(await refused(`ws://127.0.0.1:${port}/cinder`, 'https://good.example')).toBe(101);
  });

  it('drops a peer that sends a text message', async () => {
    const { port } = await echoListener(webSocketTransport());
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await within(new Promise((r) => ws.once('open', r)), 5000, 'open');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('hello');
    expect(await within(closed, 5000, 'close')).not.toBe(1000);
  });

  it('carries a frame split over several messages, and several frames in one', async () => {
    const transport = webSocketTransport();
    const { port, recs } = await echoListener(transport);
    const client = await transport.connect({
      endpoint: { kind: 'tcp', host: '127.0.0.1', port },
      framing: framing([502]),
      timeoutMs: 5000,
    });
    track.connection(client);
    const rec = new Recorder();
    client.setHandler(rec);
    for (let i = 0; i < 50; i++) client.send(message(i, 'x'.repeat(i * 100)));
    await rec.messagesAtLeast(50, 5000);
    expect(rec.messages.map((m) => m.seq)).toEqual([...Array(50).keys()]);
    expect(recs[0]!.messages.length).toBe(50);
    await expect(
      transport.connect({ endpoint: { kind: 'unix', path: '/tmp/x' }, framing: framing([502]) }),
    ).rejects.toThrow(/cannot use a unix endpoint/);
  });
});
