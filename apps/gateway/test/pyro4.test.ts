// A Python Pyro4 daemon behind the gateway: it registers in Cinder's name server (over protocol
// 48), the gateway's 502 handshake is answered in protocol 48, and the gateway talks 48 to it from
// then on — $meta, a call, an attribute, a Python exception in Pyro4's JSON shape, oneway.
import { type ChildProcess, spawn } from 'node:child_process';
import { type RunningNameServer, startNameServer } from '@cinder/cinder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayArgs, type RunningGateway, startGateway } from '../src/index.js';

const PYRO4_DAEMON = `
import sys, Pyro4
@Pyro4.expose
class Calc(object):
    def __init__(self):
        self.ticks = 0
    def add(self, a, b):
        return int(a) + int(b)
    def fail(self):
        raise ValueError("nope")
    @Pyro4.oneway
    def tick(self):
        self.ticks += 1
    def count(self):
        return self.ticks
    @property
    def name(self):
        return "calc4"
d = Pyro4.Daemon(host="127.0.0.1", port=0)
uri = d.register(Calc(), "calc")
ns = Pyro4.locateNS(host="127.0.0.1", port=int(sys.argv[1]))
ns.register("http.calc4", uri)
ns._pyroRelease()
print("READY", uri, flush=True)
d.requestLoop()
`;

let ns: RunningNameServer;
let python: ChildProcess | undefined;
let gateway: RunningGateway;

beforeAll(async () => {
  ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
  const child = spawn('/usr/bin/python3', ['-c', PYRO4_DAEMON, String(ns.uri.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  python = child;
  let err = '';
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Pyro4 daemon did not start: ${err}`)), 20_000);
    child.stdout.on('data', (d) => {
      if (String(d).includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`Pyro4 daemon exited (${code}): ${err}`)));
  });
  gateway = await startGateway({
    port: 0,
    nameServer: { host: '127.0.0.1', port: ns.uri.port! },
    config: { gatewayExpose: 'http\\.' },
  });
}, 40_000);

afterAll(async () => {
  await gateway?.close();
  python?.kill();
  await ns?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${gateway.url}pyro/${path}`, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: await r.text() };
}

describe('a Pyro4 daemon behind the gateway', () => {
  it('serves $meta, calls, attributes and Pyro4 exceptions over protocol 48', async () => {
    const meta = await get('http.calc4/$meta');
    expect(meta.status).toBe(200);
    const parsed = JSON.parse(meta.body) as { methods: string[]; attributes: string[] };
    // Pyro4 keeps them in Python sets: any order
    expect(parsed.methods.sort()).toEqual(['add', 'count', 'fail', 'tick']);
    expect(parsed.attributes).toEqual(['name']);
    expect(await get('http.calc4/add?a=40&b=2')).toEqual({ status: 200, body: '42' });
    expect(await get('http.calc4/name')).toEqual({ status: 200, body: '"calc4"' });
    const failed = await get('http.calc4/fail');
    expect(failed.status).toBe(500);
    const error = JSON.parse(failed.body) as Record<string, unknown>;
    expect(error).toMatchObject({ __class__: 'builtins.ValueError', __exception__: true, args: ['nope'] });
  });

  it('oneway calls reach it', async () => {
    const before = Number((await get('http.calc4/count')).body);
    for (let i = 0; i < 3; i++) {
      expect(await get('http.calc4/tick', { 'X-Pyro-Options': 'oneway' })).toEqual({ status: 200, body: '' });
    }
    await expect
      .poll(async () => Number((await get('http.calc4/count')).body), { timeout: 5000 })
      .toBe(before + 3);
  });

  it('with protocol 502 forced, the Pyro4 daemon is a communication error', async () => {
    const strict = await startGateway({
      port: 0,
      protocol: 502,
      nameServer: { host: '127.0.0.1', port: ns.uri.port! },
      config: { gatewayExpose: 'http\\.' },
    });
    try {
      const r = await fetch(`${strict.url}pyro/http.calc4/add?a=1&b=2`, {
        signal: AbortSignal.timeout(15_000),
      });
      expect(r.status).toBe(500);
      expect(await r.text()).toMatch(/invalid protocol version: 48/);
    } finally {
      await strict.close();
    }
  });
});

describe('cinder-gateway --protocol', () => {
  it('takes 502, 48 or auto and refuses anything else', () => {
    for (const [arg, want] of [
      ['48', 48],
      ['502', 502],
      ['auto', 'auto'],
    ] as const) {
      const plan = parseGatewayArgs(['--protocol', arg], {});
      expect(plan !== 'help' && plan.options.protocol).toBe(want);
    }
    for (const bad of ['4', 'toString', '']) {
      expect(() => parseGatewayArgs(['--protocol', bad], {})).toThrow(/--protocol needs 502, 48 or auto/);
    }
  });
});
