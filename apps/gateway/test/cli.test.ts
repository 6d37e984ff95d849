// cinder-gateway as a process: the URL line, a call through it from a Python program written the
// way Pyro's gateway documentation calls it (urllib + json), a clean stop on SIGTERM, and exit
// code 2 with a one-line message for bad usage.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Daemon, expose, params } from '@cinder/cinder';
import { locateNS, type RunningNameServer, startNameServer } from '@cinder/naming';
import { startChild, stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

@expose
class Greeter {
  @params('name')
  greet(name: string): string {
    return `hello ${name}`;
  }
  @params('n')
  fail(n: string): never {
    throw new RangeError(`bad ${n}`);
  }
}

let ns: RunningNameServer;
let daemon: Daemon;

beforeAll(async () => {
  ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
  daemon = await Daemon.start({ host: '127.0.0.1', port: 0 });
  const client = await locateNS({ host: '127.0.0.1', port: ns.uri.port!, broadcast: false });
  await client.register('http.greeter', daemon.register(new Greeter(), 'greeter'));
  await client.close();
});

afterAll(async () => {
  await stopAllChildren();
  await daemon?.close();
  await ns?.close();
});

const PYTHON_CLIENT = `
import json, sys, urllib.request, urllib.error
base = sys.argv[1]
def call(path, headers={}):
    req = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("X-Pyro-Correlation-Id"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, None, e.read().decode()
status, corr, body = call("pyro/http.greeter/greet?name=python", {"X-Pyro-Correlation-Id": "11112222-1111-2222-3333-222244449999"})
print(status, corr, json.loads(body))
status, _, body = call("pyro/http.greeter/$meta")
print(status, sorted(json.loads(body)["methods"]))
status, _, body = call("pyro/http.greeter/fail?n=7")
err = json.loads(body)
print(status, err["__exception__"], err["args"])
status, _, body = call("pyro/http.greeter/greet?name=x", {"X-Pyro-Options": "oneway"})
print(status, repr(body))
status, _, body = call("pyro/secret.thing/greet")
print(status, body)
`;

function python(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', ['-c', PYTHON_CLIENT, url], { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe('cinder-gateway', () => {
  it('prints its URL, serves a Python urllib client like Pyro’s gateway, and stops on SIGTERM', async () => {
    const child = startChild(
      main,
      ['--', '-p', '0', '-e', 'http\\.', '--ns-host', '127.0.0.1', '--ns-port', String(ns.uri.port)],
      { env: { CINDER_LOG_LEVEL: 'warn' } },
    );
    const [, url] = (await child.waitForLine(/^URL = (http:\/\/127\.0\.0\.1:\d+\/)$/, 30_000)) as unknown as [
      string,
      string,
    ];
    expect(child.lines).toEqual([`URL = ${url}`]);
    const out = (await python(url)).trim().split('\n');
    expect(out).toEqual([
      '200 11112222-1111-2222-3333-222244449999 hello python',
      "200 ['fail', 'greet']",
      "500 True ['bad 7']",
      "200 ''",
      '403 403 Forbidden - access to the requested object has been denied',
    ]);
    expect(await child.stop('SIGTERM', 5000)).toBe(0);
  });

  it('exits 2 with a one-line message for bad usage, and prints help', async () => {
    const bad = startChild(main, ['--port', 'x']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/^cinder-gateway: option --port needs an integer 0\.\.65535, got "x"\n/);
    const env = startChild(main, [], { env: { CINDER_GATEWAY_MAX_BODY_SIZE: '0' } });
    expect(await env.exited).toBe(2);
    expect(env.stderr()).toContain('CINDER_GATEWAY_MAX_BODY_SIZE');
    const help = startChild(main, ['-h']);
    expect(await help.exited).toBe(0);
    expect(help.lines[0]).toBe('Usage: cinder-gateway [options]');
  });
});
