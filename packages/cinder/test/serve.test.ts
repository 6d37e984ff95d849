import { afterAll, describe, expect, it } from 'vitest';
import { connect, expose, type RunningNameServer, serve, startNameServer } from '../src/index.js';

@expose
class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}

describe('serve()', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('starts a daemon, registers objects under their names and prints their URIs', async () => {
    const lines: string[] = [];
    const { daemon, uris } = await serve(
      { 'example.greeter': new Greeter(), '': Greeter },
      { verbose: true, print: (l) => lines.push(l) },
    );
    cleanup.push(() => daemon.close());
    expect([...uris.keys()][0]).toBe('example.greeter');
    expect([...uris.keys()][1]).toMatch(/^obj_[0-9a-f]{32}$/);
    expect(lines.join('\n')).toContain(`uri = ${uris.get('example.greeter')}`);
    await using g = connect<Greeter>(uris.get('example.greeter')!);
    expect(await g.greet('you')).toBe('hello you');
  });

  it('registers the names with the name server when asked', async () => {
    const ns: RunningNameServer = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
    cleanup.push(() => ns.close());
    const nsPort = Number(ns.uri.port);
    const config = { nsHost: '127.0.0.1', nsPort };
    const { daemon } = await serve({ 'example.named': new Greeter() }, { useNameServer: true, config });
    cleanup.push(() => daemon.close());
    await using g = connect<Greeter>('PYRONAME:example.named', { config });
    expect(await g.greet('ns')).toBe('hello ns');
  });
});
