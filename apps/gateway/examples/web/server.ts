// Runs the web examples on loopback: a name server, the Shop served by one daemon listening on TCP
// (registered as `http.shop`, what the gateway reaches) and on WebSocket (what the page's proxy reaches),
// cinder-gateway exposing `http.*` with CORS for the pages' origin, and a static server for the
// pages and the browser bundle. `node --conditions=@cinder/source --import <repo>/tooling/node-ts/register.mjs server.ts`
// prints the pages' URLs; the tests start it in-process.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowserBundle } from '@cinder/browser/build';
import { Daemon, locateNS, startNameServer, webSocketTransport } from '@cinder/cinder';
import { startGateway } from '../../src/index.js';
import { Shop } from './shop.js';

export interface RunningExample {
  /** The static server: `${pages}gateway.html`, `${pages}proxy.html`. */
  pages: string;
  gateway: string;
  ws: string;
  /** The Shop over TCP (the same object), for comparisons from Node. */
  tcp: string;
  /** Query string the pages read their endpoints from. */
  query: string;
  close(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

export async function startExample(
  options: { serializers?: 'all' | 'cbor'; port?: number } = {},
): Promise<RunningExample> {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const dist = mkdtempSync(join(tmpdir(), 'cinder-web-example-'));
    cleanups.push(() => rmSync(dist, { recursive: true, force: true }));
    await buildBrowserBundle({ outfile: join(dist, 'cinder.js'), serializers: options.serializers ?? 'all' });

    const files = new Map<string, string>([
      ['/', join(here, 'index.html')],
      ['/index.html', join(here, 'index.html')],
      ['/gateway.html', join(here, 'gateway.html')],
      ['/proxy.html', join(here, 'proxy.html')],
      ['/cinder.js', join(dist, 'cinder.js')],
    ]);
    const statics: Server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const file = files.get(path);
      if (!file || req.method !== 'GET') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        return;
      }
      const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => statics.listen(options.port ?? 0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => statics.close(r)));
    cleanups.push(() => statics.closeAllConnections());
    const pages = `http://127.0.0.1:${(statics.address() as { port: number }).port}/`;

    const ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
    cleanups.push(() => ns.close());
    const shop = new Shop();
    const daemon = await Daemon.start({
      listen: [
        { host: '127.0.0.1', port: 0 },
        {
          host: '127.0.0.1',
          port: 0,
          transport: webSocketTransport({
            path: '/cinder',
            allowOrigin: (o) => o === undefined || `${o}/` === pages,
          }),
        },
      ],
    });
    cleanups.push(() => daemon.close());
    const client = await locateNS({ host: '127.0.0.1', port: ns.uri.port!, broadcast: false });
    const tcpUri = daemon.register(shop, 'shop');
    await client.register('http.shop', tcpUri);
    await client.close();
    const wsUri = daemon.uriFor(shop, { transport: 'ws' });

    const gateway = await startGateway({
      port: 0,
      nameServer: { host: '127.0.0.1', port: ns.uri.port! },
      config: { gatewayExpose: 'http\\.', gatewayCors: pages.slice(0, -1) },
    });
    cleanups.push(() => gateway.close());
    const query = `?gateway=${encodeURIComponent(gateway.url)}&ws=${encodeURIComponent(wsUri)}`;
    return { pages, gateway: gateway.url, ws: wsUri, tcp: tcpUri.toString(), query, close };
  } catch (err) {
    await close();
    throw err;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample();
  console.log(`gateway page: ${example.pages}gateway.html${example.query}`);
  console.log(`proxy page:   ${example.pages}proxy.html${example.query}`);
  const stop = () => {
    example.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
