import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidUriError, URI } from '../src/index.js';

function state(text: string, nsPort?: number) {
  const u = URI.parse(text, { nsPort });
  return [u.protocol, u.object, u.sockname, u.host, u.port];
}

function expectInvalid(text: string, reason: string | RegExp) {
  let caught: unknown;
  try {
    URI.parse(text);
  } catch (err) {
    caught = err;
  }
  expect(caught, text).toBeInstanceOf(InvalidUriError);
  expect((caught as InvalidUriError).code).toBe('INVALID_URI');
  expect((caught as InvalidUriError).message).toMatch(reason);
}

describe('URI.parse: PYRO', () => {
  it('parses host:port', () => {
    expect(state('PYRO:obj@localhost:5555')).toEqual(['PYRO', 'obj', null, 'localhost', 5555]);
    expect(state('PYRO:Pyro.NameServer@127.0.0.1:9090')).toEqual([
      'PYRO',
      'Pyro.NameServer',
      null,
      '127.0.0.1',
      9090,
    ]);
    expect(state('PYRO:a:b@h:0')).toEqual(['PYRO', 'a:b', null, 'h', 0]);
    expect(state('PYRO:obj@h:65535')).toEqual(['PYRO', 'obj', null, 'h', 65535]);
  });

  it('upper-cases the protocol', () => {
    expect(state('pyro:obj@h:1')).toEqual(['PYRO', 'obj', null, 'h', 1]);
    expect(state('PyRoNaMe:x')).toEqual(['PYRONAME', 'x', null, null, null]);
    expect(URI.parse('pyrometa:a').toString()).toBe('PYROMETA:a');
  });

  it('parses IPv6 in brackets, with a numeric scope id', () => {
    const u = URI.parse('PYRO:obj@[::1]:3456');
    expect([u.host, u.port, u.location]).toEqual(['::1', 3456, '[::1]:3456']);
    expect(state('PYRO:obj@[fe80::1%2]:5')).toEqual(['PYRO', 'obj', null, 'fe80::1%2', 5]);
    expect(URI.parse('PYRO:obj@[FE80::AB:1]:5').toString()).toBe('PYRO:obj@[FE80::AB:1]:5');
  });

  it('refuses bad IPv6 locations', () => {
    expectInvalid('PYRO:obj@[[::1]]:5', 'invalid ipv6 address: enclosed in too many brackets');
    expectInvalid('PYRO:obj@[fe80::1%eth0]:5', 'invalid ipv6 address: the part between brackets');
    expectInvalid('PYRO:obj@[127.0.0.1]:5', 'invalid ipv6 address');
    expectInvalid('PYRO:obj@[abc]:5', 'invalid ipv6 address');
    expectInvalid('PYRO:obj@[::1:5', "invalid ipv6 address: missing ']'");
    expectInvalid('PYRO:obj@[::1]', 'missing port');
    expectInvalid('PYRO:obj@[::1]:', 'invalid port ""');
    // Pyro silently drops the junk after the port; we refuse it.
    expectInvalid('PYRO:obj@[::1]:1junk', 'invalid port "1junk"');
    expectInvalid('PYRO:obj@[::1]x', 'unexpected "x" after the ipv6 address');
  });

  it('parses Unix socket locations, with spaces and the abstract namespace', () => {
    const u = URI.parse('PYRO:obj@./u:/run/my app.sock');
    expect([u.sockname, u.host, u.port, u.isUnixSocket]).toEqual(['/run/my app.sock', null, null, true]);
    expect(u.location).toBe('./u:/run/my app.sock');
    expect(u.endpoint()).toEqual({ kind: 'unix', path: '/run/my app.sock' });
    const a = URI.parse('PYRO:obj@./u:\0abstract name');
    expect(a.sockname).toBe('\0abstract name');
    expect(a.toString()).toBe('PYRO:obj@./u:\0abstract name');
    expect(URI.parse('PYRO:obj@./u:/tmp/a@b').sockname).toBe('/tmp/a@b');
  });

  it('refuses bad Unix socket names', () => {
    expectInvalid('PYRO:obj@./u:', 'empty unix socket name');
    expectInvalid('PYRO:obj@./u:/tmp/a:b', "unix socket name must not contain ':'");
    expectInvalid('PYRO:obj@./u:\0', 'empty abstract socket name');
    expectInvalid('PYRO:obj@./u:/tmp/a\nb', 'control character in unix socket name');
    expectInvalid('PYRO:obj@./u:/tmp/\0b', 'control character in unix socket name');
  });

  it('requires a location and a port for PYRO', () => {
    expectInvalid('PYRO:obj', 'missing location');
    expectInvalid('PYRO:obj@localhost', 'missing port');
    expectInvalid('PYRO:obj@', "empty location after '@'");
  });

  it('refuses bad ports that Pyro’s int() would take', () => {
    for (const port of ['+5', ' 5', '-1', '5_0', '99999', '65536', '٣', '0x10', '5:6', '', '1e3', '123456']) {
      expectInvalid(`PYRO:obj@h:${port}`, 'invalid port');
    }
  });

  it('refuses bad hosts', () => {
    expectInvalid('PYRO:obj@:5', 'empty host');
    expectInvalid('PYRO:obj@ho st:5', 'character " " not allowed in host');
    expectInvalid('PYRO:a@b@host:1', 'character "@" not allowed in host');
    expectInvalid('PYRO:obj@a/b:1', 'character "/" not allowed in host');
    expectInvalid('PYRO:obj@a]:1', 'character "]" not allowed in host');
  });

  it('refuses empty objects, whitespace and control characters in objects', () => {
    expectInvalid('PYRO:@h:1', 'empty object');
    expectInvalid('PYRONAME:', 'empty object');
    expectInvalid('PYRO:a b@h:1', 'whitespace in object');
    expectInvalid('PYRONAME:a\u00a0b', 'whitespace in object');
    expectInvalid('PYRONAME:name\n', 'whitespace in object');
    expectInvalid('PYRONAME:a\u0001b', 'control character in object');
  });

  it('refuses unknown or missing protocols', () => {
    expectInvalid('PYROX:obj@h:1', 'unknown protocol "PYROX"');
    expectInvalid('http://x', 'missing or invalid protocol');
    expectInvalid('obj@h:1', 'missing or invalid protocol');
    expectInvalid(' PYRO:obj@h:1', 'missing or invalid protocol');
    expectInvalid('', 'missing or invalid protocol');
    expect(() => URI.parse(42 as unknown as string)).toThrow(/expected a string, got number/);
    expect(() => URI.parse(null as unknown as string)).toThrow(/got null/);
  });

  it('keeps error messages short for huge input', () => {
    let err: unknown;
    try {
      URI.parse(`PYRO:${'x'.repeat(100_000)} @h:1`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidUriError);
    expect((err as Error).message.length).toBeLessThan(250);
    expect((err as Error).message).toContain('…');
  });
});

describe('URI.parse: PYRONAME and PYROMETA', () => {
  it('parses PYRONAME with and without host and port', () => {
    expect(state('PYRONAME:my.obj')).toEqual(['PYRONAME', 'my.obj', null, null, null]);
    expect(state('PYRONAME:my.obj@nshost')).toEqual(['PYRONAME', 'my.obj', null, 'nshost', 9090]);
    expect(state('PYRONAME:my.obj@nshost:1234')).toEqual(['PYRONAME', 'my.obj', null, 'nshost', 1234]);
    expect(state('PYRONAME:my.obj@[::1]')).toEqual(['PYRONAME', 'my.obj', null, '::1', 9090]);
    expect(state('PYRONAME:my.obj@./u:/tmp/ns')).toEqual(['PYRONAME', 'my.obj', '/tmp/ns', null, null]);
  });

  it('uses the configured NS port as the default', () => {
    expect(state('PYRONAME:x@nshost', 7777)).toEqual(['PYRONAME', 'x', null, 'nshost', 7777]);
    expect(state('PYROMETA:t@nshost', 0)).toEqual(['PYROMETA', 't', null, 'nshost', 0]);
    expect(() => URI.parse('PYRONAME:x', { nsPort: 70000 })).toThrow(ConfigError);
    expect(() => URI.parse('PYRONAME:x', { nsPort: 1.5 })).toThrow(/invalid nsPort option/);
  });

  it('refuses an empty port where Pyro falls back to the default', () => {
    expectInvalid('PYRONAME:x@host:', 'invalid port ""');
    expectInvalid('PYRONAME:x@', "empty location after '@'");
  });

  it('turns PYROMETA objects into a set of tags', () => {
    const u = URI.parse('PYROMETA:meta1,meta2,meta1@host:1111');
    expect([...u.tags]).toEqual(['meta1', 'meta2']);
    expect(u.object).toBe('meta1,meta2');
    expect([u.host, u.port]).toEqual(['host', 1111]);
    expect(u.toString()).toBe('PYROMETA:meta1,meta2@host:1111');
    expect([...URI.parse('PYROMETA:a').tags]).toEqual(['a']);
    expect(URI.parse('PYRONAME:a').tags.size).toBe(0);
  });

  it('refuses PYROMETA tags with spaces (like Pyro) and empty tags', () => {
    expectInvalid('PYROMETA:a, b@host', 'whitespace in object');
    expectInvalid('PYROMETA: a', 'whitespace in object');
    expectInvalid('PYROMETA:a,,b', 'empty tag');
    expectInvalid('PYROMETA:,a', 'empty tag');
  });

  it('has no endpoint until resolved', () => {
    expect(() => URI.parse('PYRONAME:x@h:1').endpoint()).toThrow(/resolve it through the name server/);
    expect(() => URI.parse('PYROMETA:x').endpoint()).toThrow(InvalidUriError);
  });
});

describe('URI formatting and identity', () => {
  it('round-trips every form exactly', () => {
    for (const text of [
      'PYRO:obj@localhost:5555',
      'PYRO:obj@[::1]:3456',
      'PYRO:obj@[fe80::1%3]:3456',
      'PYRO:obj@./u:/tmp/with space',
      'PYRO:obj@./u:\0abs',
      'PYRONAME:n',
      'PYRONAME:n@h:9090',
      'PYRONAME:n@[::1]:9090',
      'PYROMETA:a,b,c@./u:/ns',
    ]) {
      const u = URI.parse(text);
      expect(u.toString()).toBe(text);
      expect(URI.parse(u.toString()).equals(u)).toBe(true);
      expect(String(u)).toBe(text);
    }
  });

  it('returns a URI argument unchanged', () => {
    const u = URI.parse('PYRO:x@h:1');
    expect(URI.parse(u)).toBe(u);
  });

  it('compares like Pyro, with PYROMETA tags as a set', () => {
    const u = URI.parse('PYRO:x@h:1');
    expect(u.equals(URI.parse('pyro:x@h:1'))).toBe(true);
    expect(u.equals(u)).toBe(true);
    expect(u.equals(URI.parse('PYRO:x@h:2'))).toBe(false);
    expect(u.equals(URI.parse('PYRO:y@h:1'))).toBe(false);
    expect(u.equals(URI.parse('PYRONAME:x@h:1'))).toBe(false);
    expect(u.equals('PYRO:x@h:1')).toBe(false);
    expect(URI.parse('PYROMETA:a,b').equals(URI.parse('PYROMETA:b,a'))).toBe(true);
    expect(URI.parse('PYROMETA:a,b').equals(URI.parse('PYROMETA:a,c'))).toBe(false);
    expect(URI.parse('PYROMETA:a,b').equals(URI.parse('PYROMETA:a'))).toBe(false);
    expect(URI.parse('PYRO:x@./u:/a').equals(URI.parse('PYRO:x@./u:/b'))).toBe(false);
  });

  it('is immutable, tags included', () => {
    const u = URI.parse('PYROMETA:a,b@h:1');
    expect(Object.isFrozen(u)).toBe(true);
    expect(() => {
      (u as { port: number | null }).port = 2;
    }).toThrow(TypeError);
    const tags = u.tags as Set<string>;
    expect(() => tags.add('c')).toThrow(/immutable/);
    expect(() => tags.delete('a')).toThrow(/immutable/);
    expect(() => tags.clear()).toThrow(/immutable/);
    expect([...u.tags]).toEqual(['a', 'b']);
    const tcp = URI.parse('PYRO:x@h:1');
    const ep = tcp.endpoint();
    expect(Object.isFrozen(ep)).toBe(true);
    // Built once, then shared: connecting again allocates nothing.
    expect(tcp.endpoint()).toBe(ep);
  });

  it('prints as URI<…> in util.inspect', () => {
    expect(inspect(URI.parse('PYRO:x@[::1]:1'))).toBe('URI<PYRO:x@[::1]:1>');
    expect(inspect({ u: URI.parse('PYRONAME:x') })).toBe('{ u: URI<PYRONAME:x> }');
  });

  it('gives tcp endpoints with bare IPv6 hosts', () => {
    expect(URI.parse('PYRO:x@[::1]:7').endpoint()).toEqual({ kind: 'tcp', host: '::1', port: 7 });
    expect(URI.parse('PYRO:x@h:7').endpoint()).toEqual({ kind: 'tcp', host: 'h', port: 7 });
    expect(URI.parse('PYRONAME:x').location).toBeNull();
    expect(URI.parse('PYRO:x@h:7').isUnixSocket).toBe(false);
  });
});

describe('URI.forObject', () => {
  it('builds TCP, IPv6 and Unix socket uris', () => {
    expect(URI.forObject('obj_1', { host: 'localhost', port: 5555 }).toString()).toBe(
      'PYRO:obj_1@localhost:5555',
    );
    const v6 = URI.forObject('o', { host: '::1', port: 1 });
    expect([v6.toString(), v6.host]).toEqual(['PYRO:o@[::1]:1', '::1']);
    expect(URI.forObject('o', { host: 'fe80::1%4', port: 1 }).toString()).toBe('PYRO:o@[fe80::1%4]:1');
    const unix = URI.forObject('o', { path: '\0abstract' });
    expect([unix.toString(), unix.isUnixSocket]).toEqual(['PYRO:o@./u:\0abstract', true]);
  });

  it('refuses what would not parse back', () => {
    const cases: [string, Parameters<typeof URI.forObject>[1], RegExp][] = [
      ['', { host: 'h', port: 1 }, /empty object/],
      ['a@b', { host: 'h', port: 1 }, /must not contain '@'/],
      ['a b', { host: 'h', port: 1 }, /whitespace in object/],
      ['o', { host: '', port: 1 }, /empty host/],
      ['o', { host: '[::1]', port: 1 }, /invalid ipv6 address "\[::1\]"/],
      ['o', { host: 'fe80::1%eth0', port: 1 }, /bare numeric ipv6/],
      ['o', { host: 'h', port: 65536 }, /invalid port 65536/],
      ['o', { host: 'h', port: -1 }, /invalid port -1/],
      ['o', { host: 'h', port: 1.5 }, /invalid port 1.5/],
      ['o', { host: 'h', port: '1' as unknown as number }, /invalid port string/],
      ['o', { host: 1 as unknown as string, port: 1 }, /host must be a string/],
      ['o', { path: '' }, /empty unix socket name/],
      ['o', { path: 'a:b' }, /must not contain ':'/],
      ['o', { path: 5 as unknown as string }, /socket path must be a string/],
      [7 as unknown as string, { host: 'h', port: 1 }, /object id must be a string/],
    ];
    for (const [id, loc, msg] of cases) {
      expect(() => URI.forObject(id, loc), JSON.stringify([id, loc])).toThrow(msg);
    }
  });
});

describe('Pyro state', () => {
  it('produces and reads Pyro’s (protocol, object, sockname, host, port) state', () => {
    const u = URI.parse('PYRO:printer_1@localhost:5555');
    expect(u.toPyroState()).toEqual(['PYRO', 'printer_1', null, 'localhost', 5555]);
    // As captured from a Pyro5 name server (json) and a Pyro4 one (serpent tuple).
    expect(URI.fromPyroState(['PYRO', 'printer_1', null, 'localhost', 5555]).equals(u)).toBe(true);
    const unix = URI.parse('PYRO:o@./u:/tmp/s');
    expect(unix.toPyroState()).toEqual(['PYRO', 'o', '/tmp/s', null, null]);
    expect(URI.fromPyroState(unix.toPyroState()).equals(unix)).toBe(true);
    const name = URI.parse('PYRONAME:n');
    expect(URI.fromPyroState(name.toPyroState()).equals(name)).toBe(true);
  });

  it('uses a set for PYROMETA tags and accepts a list from set-less codecs', () => {
    const m = URI.parse('PYROMETA:a,b@h:1');
    const st = m.toPyroState();
    expect(st[1]).toEqual(new Set(['a', 'b']));
    expect(st[1]).not.toBe(m.tags);
    expect(URI.fromPyroState(st).equals(m)).toBe(true);
    expect(URI.fromPyroState(['PYROMETA', ['b', 'a'], null, 'h', 1]).equals(m)).toBe(true);
  });

  it('validates network state strictly', () => {
    const bad: [unknown, RegExp][] = [
      ['PYRO:x@h:1', /expected \[protocol, object, sockname, host, port\]/],
      [['PYRO', 'x', null, 'h'], /expected \[protocol/],
      [['pyro', 'x', null, 'h', 1], /unknown protocol "pyro"/],
      [[1, 'x', null, 'h', 1], /unknown protocol number/],
      [['PYRO', 5, null, 'h', 1], /object must be a string, got number/],
      [['PYRO', ['x'], null, 'h', 1], /object must be a string, got array/],
      [['PYRO', '', null, 'h', 1], /empty object/],
      [['PYRO', 'a b', null, 'h', 1], /whitespace in object/],
      [['PYRO', 'x', null, null, null], /missing location/],
      [['PYRO', 'x', null, 'h', null], /invalid port null/],
      [['PYRO', 'x', null, 'h', 70000], /invalid port 70000/],
      [['PYRO', 'x', null, 'h', '1'], /invalid port string/],
      [['PYRO', 'x', null, 5, 1], /host must be a string, got number/],
      [['PYRO', 'x', null, '', 1], /empty host/],
      [['PYRO', 'x', null, '[::1]', 1], /invalid ipv6 address/],
      [['PYRO', 'x', '/s', 'h', 1], /a unix socket uri has no host or port/],
      [['PYRO', 'x', '/s', null, 1], /a unix socket uri has no host or port/],
      [['PYRO', 'x', 5, null, null], /sockname must be a string/],
      [['PYRO', 'x', 'a:b', null, null], /must not contain ':'/],
      [['PYRONAME', 'x', null, null, 9090], /a port without a host/],
      [['PYROMETA', 'a,b', null, null, null], /must be a set of tags, got string/],
      [['PYROMETA', [1], null, null, null], /tag must be a string, got number/],
      [['PYROMETA', ['a,b'], null, null, null], /tag must not contain ','/],
      [['PYROMETA', [' a'], null, null, null], /whitespace in object/],
      [['PYROMETA', [], null, null, null], /empty tag|at least one/],
    ];
    for (const [st, msg] of bad) {
      let err: unknown;
      try {
        URI.fromPyroState(st);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(st)).toBeInstanceOf(InvalidUriError);
      expect((err as Error).message, JSON.stringify(st)).toMatch(msg);
      expect((err as Error).message).toMatch(/^invalid uri state: /);
    }
  });
});

// Generators for valid URIs, for the property tests below.
const objectChar = fc.constantFrom(...'abcXYZ019_.-:~$!/é漢'.split(''));
const objectId = fc.string({ unit: objectChar, minLength: 1, maxLength: 12 });
const tagChar = fc.constantFrom(...'abcXYZ019_.-:~$!/é'.split(''));
const tag = fc.string({ unit: tagChar, minLength: 1, maxLength: 6 });
const hostname = fc.oneof(fc.domain(), fc.ipV4(), fc.constant('localhost'));
const ipv6 = fc
  .tuple(
    fc.array(fc.stringMatching(/^[0-9a-fA-F]{1,4}$/), { minLength: 1, maxLength: 8 }),
    fc.boolean(),
    fc.option(fc.nat(99), { nil: undefined }),
  )
  .map(([groups, compress, scope]) => {
    const addr = compress ? `${groups.join(':')}::` : `${groups.join(':')}::1`;
    return scope === undefined ? addr : `${addr}%${scope}`;
  });
const port = fc.integer({ min: 0, max: 65535 });
const sockChar = fc.constantFrom(...'abc /._-@é'.split(''));
const sockname = fc
  .tuple(fc.boolean(), fc.string({ unit: sockChar, minLength: 1, maxLength: 20 }))
  .map(([abstract, path]) => (abstract ? `\0${path}` : path));
const locationText = fc.oneof(
  fc.tuple(hostname, port).map(([h, p]) => `${h}:${p}`),
  fc.tuple(ipv6, port).map(([h, p]) => `[${h}]:${p}`),
  sockname.map((s) => `./u:${s}`),
);
const caseOf = (proto: string) =>
  fc.array(fc.boolean(), { minLength: proto.length, maxLength: proto.length }).map((upper) =>
    proto
      .split('')
      .map((c, i) => (upper[i] ? c : c.toLowerCase()))
      .join(''),
  );
const validUri = fc.oneof(
  fc.tuple(caseOf('PYRO'), objectId, locationText).map(([p, o, l]) => `${p}:${o}@${l}`),
  fc
    .tuple(caseOf('PYRONAME'), objectId, fc.option(locationText, { nil: undefined }))
    .map(([p, o, l]) => (l === undefined ? `${p}:${o}` : `${p}:${o}@${l}`)),
  fc
    .tuple(caseOf('PYROMETA'), fc.uniqueArray(tag, { minLength: 1, maxLength: 4 }), fc.option(locationText))
    .map(([p, tags, l]) => (l === null ? `${p}:${tags.join(',')}` : `${p}:${tags.join(',')}@${l}`)),
);

describe('URI properties', () => {
  it('format → parse → format is the identity on generated valid URIs', () => {
    fc.assert(
      fc.property(validUri, (text) => {
        const u = URI.parse(text);
        const formatted = u.toString();
        expect(formatted.toUpperCase().startsWith(u.protocol)).toBe(true);
        const again = URI.parse(formatted);
        expect(again.toString()).toBe(formatted);
        expect(again.equals(u)).toBe(true);
        expect(URI.fromPyroState(u.toPyroState()).equals(u)).toBe(true);
        // Original text and formatted text differ only in the protocol's case.
        expect(formatted.slice(u.protocol.length)).toBe(text.slice(u.protocol.length));
      }),
      { numRuns: 500 },
    );
  });

  it('forObject always builds a URI that parses back to itself', () => {
    const loc = fc.oneof(
      fc.record({ host: fc.oneof(hostname, ipv6), port }),
      sockname.map((path) => ({ path })),
    );
    fc.assert(
      fc.property(objectId, loc, (id, location) => {
        const u = URI.forObject(id, location);
        expect(URI.parse(u.toString()).equals(u)).toBe(true);
        expect(u.endpoint()).toEqual(
          'path' in location ? { kind: 'unix', path: location.path } : { kind: 'tcp', ...location },
        );
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary text either parses to a round-tripping URI or throws InvalidUriError', () => {
    const prefix = fc.constantFrom('PYRO:', 'pyroname:', 'PYROMETA:', 'PYROX:', '');
    const body = fc.string({ unit: fc.constantFrom(...'ab:@[]./u% \t\n0123,\0'.split('')), maxLength: 24 });
    fc.assert(
      fc.property(prefix, body, (p, b) => {
        let u: URI;
        try {
          u = URI.parse(p + b);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidUriError);
          return;
        }
        expect(URI.parse(u.toString()).equals(u)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

// Cross-check against real Pyro (Pyro4 and Pyro5 share this parser): everything we accept, Pyro
// parses to the same state; everything Pyro refuses, we refuse too.
const python = '/usr/bin/python3';
const hasPyro4 =
  existsSync(python) &&
  (() => {
    try {
      execFileSync(python, ['-c', 'import Pyro4.core'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  })();

describe.skipIf(!hasPyro4)('agreement with Pyro4’s URI parser', () => {
  it('matches Pyro on accepted input and never accepts what Pyro refuses', () => {
    const samples = [
      ...fc.sample(validUri, { numRuns: 150, seed: 42 }),
      ...fc
        .sample(
          fc.tuple(
            fc.constantFrom('PYRO:', 'pyroname:', 'PYROMETA:', 'PYROX:', 'X:'),
            fc.string({ unit: fc.constantFrom(...'ab:@[]./u%5 ,'.split('')), maxLength: 16 }),
          ),
          { numRuns: 400, seed: 7 },
        )
        .map(([p, b]) => p + b),
    ];
    const script = `
import sys, json, Pyro4.core
out = []
for s in json.load(sys.stdin):
    try:
        u = Pyro4.core.URI(s)
        obj = sorted(u.object) if u.protocol == "PYROMETA" else u.object
        out.append([u.protocol, obj, u.sockname, u.host, u.port])
    except Exception:
        out.append(None)
print(json.dumps(out))
`;
    const stdout = execFileSync(python, ['-c', script], {
      input: JSON.stringify(samples),
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    const pyro = JSON.parse(stdout.toString()) as (unknown[] | null)[];
    expect(pyro).toHaveLength(samples.length);
    let agreedAccepts = 0;
    samples.forEach((text, i) => {
      let ours: unknown[] | null;
      try {
        const u = URI.parse(text);
        ours = [
          u.protocol,
          u.protocol === 'PYROMETA' ? [...u.tags].sort() : u.object,
          u.sockname,
          u.host,
          u.port,
        ];
      } catch {
        ours = null;
      }
      if (ours !== null) {
        expect(pyro[i], `Pyro refuses or reads differently: ${JSON.stringify(text)}`).toEqual(ours);
        agreedAccepts++;
      }
    });
    expect(agreedAccepts).toBeGreaterThan(150);
  });
});
