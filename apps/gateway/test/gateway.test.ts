// cinder-gateway over real HTTP on loopback, against a real name server and daemon: every route,
// Pyro's reply shapes byte for byte, and the bad input a public endpoint gets (unknown and
// unexposed names, wrong or missing key, oversize and malformed bodies, a slow client, a slow object).
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { Daemon, expose, oneway, params, sleep } from '@cinder/cinder';
import { type RunningNameServer, startNameServer } from '@cinder/naming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayOptions, type RunningGateway, startGateway } from '../src/index.js';

const notes: string[] = [];

@expose
class Echo {
  get colour(): string {
    return 'red';
  }
  @params('message')
  echo(message: string): string {
    return message;
  }
  @params('a', 'b')
  add(a: unknown, b: unknown): unknown {
    return typeof a === 'number' && typeof b === 'number' ? a + b : `${String(a)}${String(b)}`;
  }
  @params('message')
  fail(message: string): never {
    throw new RangeError(message);
  }
  @params('ms')
  async slow(ms: string): Promise<string> {
    await sleep(Number(ms));
    return 'done';
  }
  @oneway
  @params('text')
  note(text: string): void {
    notes.push(text);
  }
  @params('text')
  remember(text: string): null {
    notes.push(text);
    return null;
  }
}

let ns: RunningNameServer;
let daemon: Daemon;
const gateways: RunningGateway[] = [];

async function gateway(config: GatewayOptions['config'] = {}, extra: GatewayOptions = {}): Promise<string> {
  const g = await startGateway({
    port: 0,
    nameServer: { host: '127.0.0.1', port: ns.uri.port! },
    config: { gatewayExpose: 'http\\.', ...config },
    ...extra,
  });
  gateways.push(g);
  return g.url;
}

beforeAll(async () => {
  ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
  daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
  const client = await import('@cinder/naming').then((m) =>
    m.locateNS({ host: '127.0.0.1', port: ns.uri.port!, broadcast: false }),
  );
  try {
    await client.register('http.echo', daemon.register(new Echo(), 'echo'));
    await client.register('http.<odd>&"name"', daemon.register(new Echo(), 'odd'));
    await client.register('private.echo', daemon.register(new Echo(), 'private'));
    await client.register('http.gone', 'PYRO:gone@127.0.0.1:1');
  } finally {
    await client.close();
  }
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await daemon?.close();
  await ns?.close();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function post(url: string, body: string, type: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': type, ...headers } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('calls through the gateway', () => {
  let url: string;
  beforeAll(async () => {
    url = await gateway();
  });

  it('GET with query parameters: 200, the json payload, a correlation id', async () => {
    const r = await get(`${url}pyro/http.echo/echo?message=hello%20there`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(r.text)).toBe('hello there');
    expect(r.headers.get('x-pyro-correlation-id')).toMatch(UUID);
  });

  it('query values are strings, as in Pyro; a repeated parameter becomes a list', async () => {
    expect(JSON.parse((await get(`${url}pyro/http.echo/add?a=1&b=2`)).text)).toBe('12');
    expect(JSON.parse((await get(`${url}pyro/http.echo/echo?message=a&message=b`)).text)).toEqual(['a', 'b']);
  });

  it('POST with a JSON object body passes typed values; a form body works as in Pyro', async () => {
    const r = await post(`${url}pyro/http.echo/add`, '{"a": 40, "b": 2}', 'application/json');
    expect([r.status, JSON.parse(r.text)]).toEqual([200, 42]);
    const f = await post(
      `${url}pyro/http.echo/echo`,
      'message=form+value',
      'application/x-www-form-urlencoded',
    );
    expect([f.status, JSON.parse(f.text)]).toEqual([200, 'form value']);
    const q = await post(`${url}pyro/http.echo/echo?message=from%20query`, '', 'text/plain');
    expect([q.status, JSON.parse(q.text)]).toEqual([200, 'from query']);
  });

  it('$meta lists methods and attributes, written as Python json.dumps writes it', async () => {
    const r = await get(`${url}pyro/http.echo/$meta`);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^\{"methods": \[("[a-z]+"(, )?)+\], "attributes": \["colour"\]\}$/);
    const meta = JSON.parse(r.text) as { methods: string[]; attributes: string[] };
    expect(new Set(meta.methods)).toEqual(new Set(['echo', 'add', 'fail', 'slow', 'note', 'remember']));
    expect(r.headers.get('x-pyro-correlation-id')).toMatch(UUID);
  });

  it('an attribute is read with GET and refuses parameters', async () => {
    expect(JSON.parse((await get(`${url}pyro/http.echo/colour`)).text)).toBe('red');
    const r = await get(`${url}pyro/http.echo/colour?x=1`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.text)).toEqual({
      __class__: 'builtins.AssertionError',
      __exception__: true,
      args: ["attribute lookup can't have query parameters"],
      attributes: {},
    });
  });

  it('X-Pyro-Options: oneway answers 200 with an empty body at once, and the call runs', async () => {
    const before = notes.length;
    const r = await get(`${url}pyro/http.echo/remember?text=one-way`, { 'X-Pyro-Options': 'oneway' });
    expect([r.status, r.text]).toEqual([200, '']);
    expect(r.headers.get('x-pyro-correlation-id')).toMatch(UUID);
    const m = await get(`${url}pyro/http.echo/note?text=declared`);
    expect([m.status, m.text]).toEqual([200, '']);
    for (let i = 0; i < 100 && notes.length < before + 2; i++) await sleep(20);
    expect(notes.slice(before).sort()).toEqual(['declared', 'one-way']);
  });

  it('echoes the caller’s correlation id (normalised like uuid.UUID) and refuses a malformed one', async () => {
    const id = '{0123456789ABCDEF0123456789ABCDEF}';
    const r = await get(`${url}pyro/http.echo/echo?message=x`, { 'X-Pyro-Correlation-Id': id });
    expect(r.headers.get('x-pyro-correlation-id')).toBe('01234567-89ab-cdef-0123-456789abcdef');
    const bad = await get(`${url}pyro/http.echo/echo?message=x`, { 'X-Pyro-Correlation-Id': 'nope' });
    expect(bad.status).toBe(500);
    expect(bad.text).toBe(
      '{"__class__": "builtins.ValueError", "__exception__": true, "args": ["badly formed hexadecimal UUID string"], "attributes": {}}',
    );
  });

  it('a remote exception is 500 with the daemon’s exception dict', async () => {
    const r = await get(`${url}pyro/http.echo/fail?message=no%20good`);
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('x-pyro-correlation-id')).toBeNull();
    const e = JSON.parse(r.text) as Record<string, unknown>;
    expect(e.__exception__).toBe(true);
    expect(e.__class__).toMatch(/^builtins\./);
    expect(e.args).toEqual(['no good']);
  });

  it('an unknown method is 500 AttributeError, as Pyro’s proxy raises it', async () => {
    const r = await get(`${url}pyro/http.echo/nothing`);
    expect(r.status).toBe(500);
    const e = JSON.parse(r.text) as Record<string, unknown>;
    expect(e.__class__).toBe('builtins.AttributeError');
    expect(String((e.args as string[])[0])).toContain("has no exposed attribute or method 'nothing'");
  });

  it('an unknown exposed name is 500 NamingError; an unreachable one 500 CommunicationError', async () => {
    const r = await get(`${url}pyro/http.nobody/echo`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.text)).toEqual({
      __class__: 'Pyro5.errors.NamingError',
      __exception__: true,
      args: ['unknown name: http.nobody'],
      attributes: {},
    });
    const gone = await get(`${url}pyro/http.gone/echo`);
    expect(gone.status).toBe(500);
    expect((JSON.parse(gone.text) as { __class__: string }).__class__).toBe(
      'Pyro5.errors.CommunicationError',
    );
  });

  it('a name outside the exposure pattern is 403 before anything is looked up', async () => {
    for (const name of ['private.echo', 'Pyro.NameServer', 'xhttp.echo']) {
      const r = await get(`${url}pyro/${name}/echo?message=x`);
      expect([r.status, r.text]).toEqual([
        403,
        '403 Forbidden - access to the requested object has been denied',
      ]);
      expect(r.headers.get('content-type')).toBe('text/plain');
    }
  });

  it('routes: / redirects to /pyro/, other paths 404, a name without method 404, PUT 405', async () => {
    const root = await get(url);
    expect([root.status, root.headers.get('location')]).toEqual([302, '/pyro/']);
    expect((await get(`${url}elsewhere`)).status).toBe(404);
    expect(await get(`${url}pyro/http.echo`)).toMatchObject({ status: 404, text: 'Error 404: Not Found' });
    const put = await fetch(`${url}pyro/http.echo/echo`, { method: 'PUT' });
    expect([put.status, await put.text()]).toEqual([405, 'Error 405: Method Not Allowed']);
    expect((await get(`${url}pyro/%E0%A4%A/echo`)).status).toBe(400);
  });

  it('the index page lists the exposed names only, escaped', async () => {
    const r = await get(`${url}pyro/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.text).toContain('>http.echo</a>');
    expect(r.text).toContain('http.&lt;odd&gt;&amp;&quot;name&quot;');
    expect(r.text).not.toContain('private.echo');
    expect(r.text).not.toContain('<odd>');
  });

  it('sends no CORS headers unless configured', async () => {
    const r = await get(`${url}pyro/http.echo/echo?message=x`);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('exposure, key and CORS settings', () => {
  it('exposes nothing by default', async () => {
    const url = await gateway({ gatewayExpose: null });
    const r = await get(`${url}pyro/http.echo/echo?message=x`);
    expect(r.status).toBe(403);
    expect((await get(`${url}pyro/`)).text).toContain('No names are exposed');
  });

  it('with a key: missing or wrong is 403; the header or $key lets the call through', async () => {
    const url = await gateway({ gatewayKey: 's3cret' });
    const refused = '403 Forbidden - incorrect gateway api key';
    expect(await get(`${url}pyro/http.echo/echo?message=x`)).toMatchObject({ status: 403, text: refused });
    expect(await get(`${url}pyro/http.echo/echo?message=x`, { 'X-Pyro-Gateway-Key': 'wrong' })).toMatchObject(
      {
        status: 403,
        text: refused,
      },
    );
    expect(await get(`${url}pyro/private.echo/echo?message=x`)).toMatchObject({ status: 403, text: refused });
    expect((await get(`${url}pyro/`)).status).toBe(403);
    const ok = await get(`${url}pyro/http.echo/echo?message=x`, { 'X-Pyro-Gateway-Key': 's3cret' });
    expect([ok.status, JSON.parse(ok.text)]).toEqual([200, 'x']);
    // $key is taken out of the parameters: echo() gets only `message`.
    const viaParam = await get(`${url}pyro/http.echo/echo?message=y&$key=s3cret`);
    expect([viaParam.status, JSON.parse(viaParam.text)]).toEqual([200, 'y']);
    const posted = await post(
      `${url}pyro/http.echo/echo`,
      '{"message": "z", "$key": "s3cret"}',
      'application/json',
    );
    expect([posted.status, JSON.parse(posted.text)]).toEqual([200, 'z']);
  });

  it('CORS: OPTIONS answers the preflight; every reply carries the allowed origin', async () => {
    const url = await gateway({ gatewayCors: 'https://example.org' });
    const pre = await fetch(`${url}pyro/http.echo/echo`, { method: 'OPTIONS' });
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://example.org');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toContain('X-Pyro-Gateway-Key');
    const r = await get(`${url}pyro/http.echo/echo?message=x`);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://example.org');
    expect(r.headers.get('access-control-expose-headers')).toBe('X-Pyro-Correlation-Id');
    expect((await get(`${url}pyro/private.echo/echo`)).headers.get('access-control-allow-origin')).toBe(
      'https://example.org',
    );
  });
});

/** One raw HTTP/1.1 exchange: the status line the server sends and whether it closed the socket. */
function rawExchange(
  url: string,
  chunks: string[],
  gapMs: number,
): Promise<{ head: string; closed: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), '127.0.0.1');
    let data = '';
    let stopped = false;
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      stopped = true;
      resolve({ head: data.split('\r\n')[0] ?? '', closed: true });
    });
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (stopped) return;
        socket.write(c);
        await sleep(gapMs);
      }
    });
    setTimeout(() => {
      if (!stopped) {
        socket.destroy();
        reject(new Error(`no close; got ${JSON.stringify(data.slice(0, 200))}`));
      }
    }, 10_000);
  });
}

describe('limits', () => {
  it('refuses a body over the size limit with 413, declared or chunked', async () => {
    const url = await gateway({ gatewayMaxBodySize: 1000 });
    const big = JSON.stringify({ message: 'x'.repeat(5000) });
    const declared = await post(`${url}pyro/http.echo/echo`, big, 'application/json');
    expect(declared.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}pyro/http.echo/echo`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(500));
      req.end();
    });
    expect(chunked).toBe(413);
    // Under the limit still works.
    const small = await post(`${url}pyro/http.echo/echo`, '{"message": "ok"}', 'application/json');
    expect(small.status).toBe(200);
  });

  it('refuses malformed JSON, a JSON non-object and an unknown body type with 400', async () => {
    const url = await gateway();
    const bad = await post(`${url}pyro/http.echo/echo`, '{"message": ', 'application/json');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Error 400: Bad Request - malformed JSON body/);
    expect((await post(`${url}pyro/http.echo/echo`, '["x"]', 'application/json')).status).toBe(400);
    expect((await post(`${url}pyro/http.echo/echo`, 'x', 'application/octet-stream')).status).toBe(400);
  });

  it('drops a client that sends its request too slowly (408, connection closed)', async () => {
    const url = await gateway({ gatewayRequestTimeoutMs: 400 });
    const start = performance.now();
    const { head, closed } = await rawExchange(
      url,
      [
        'GET /pyro/http.echo/echo?message=x HTTP/1.1\r\n',
        'Host: x\r\n',
        'X-A: 1\r\n',
        'X-B: 2\r\n',
        'X-C: 3\r\n',
      ],
      300,
    );
    expect(closed).toBe(true);
    expect(head).toMatch(/^(HTTP\/1.1 408|)/);
    expect(performance.now() - start).toBeLessThan(5000);
    // A slow body is cut off the same way.
    const slowBody = await rawExchange(
      url,
      [
        'POST /pyro/http.echo/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n',
        '{"mess',
        'age": ',
        '"slow"',
        '}',
      ],
      300,
    );
    expect(slowBody.closed).toBe(true);
    expect(slowBody.head).not.toMatch(/^HTTP\/1.1 200/);
  });

  it('a call that takes longer than the call timeout is 500 TimeoutError', async () => {
    const url = await gateway({}, { callTimeoutMs: 300 });
    const r = await get(`${url}pyro/http.echo/slow?ms=3000`);
    expect(r.status).toBe(500);
    expect((JSON.parse(r.text) as { __class__: string }).__class__).toBe('Pyro5.errors.TimeoutError');
    // The gateway still serves afterwards.
    expect((await get(`${url}pyro/http.echo/echo?message=x`)).status).toBe(200);
  });
});
