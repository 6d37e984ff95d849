// Shared keys: parsing, redaction, configuration/environment precedence, and byte-for-byte
// agreement with Python Pyro4's key handling so protocol-48 HMAC peers share a key string.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import {
  HMAC_KEY_ENV,
  keyFromConfig,
  MAX_KEY_LENGTH,
  parseKey,
  SharedKey,
  sharedKeyWarning,
} from '../src/index.js';

const PYTHON = '/usr/bin/python3';

describe('parseKey', () => {
  it('encodes strings as UTF-8 and copies bytes', () => {
    expect(Buffer.from(parseKey('sécret').bytes)).toEqual(Buffer.from('sécret', 'utf8'));
    const raw = new Uint8Array([0, 1, 2, 255]);
    const key = parseKey(raw);
    raw[0] = 9;
    expect([...key.bytes]).toEqual([0, 1, 2, 255]);
    expect(key.length).toBe(4);
    expect(key.secret.symmetricKeySize).toBe(4);
  });

  it('refuses empty, oversized and non-string keys with a ConfigError', () => {
    expect(() => parseKey('')).toThrow(ConfigError);
    expect(() => parseKey(new Uint8Array(0))).toThrow(/empty/);
    expect(() => parseKey('x'.repeat(MAX_KEY_LENGTH + 1))).toThrow(/4097 bytes long/);
    expect(() => parseKey(42 as unknown as string)).toThrow(ConfigError);
    expect(parseKey('x'.repeat(MAX_KEY_LENGTH)).length).toBe(MAX_KEY_LENGTH);
  });

  it('never shows the key in strings, JSON or util.inspect', () => {
    const key = parseKey('TOPSECRETVALUE');
    const texts = [
      String(key),
      JSON.stringify({ key }),
      inspect(key),
      inspect({ config: { hmacKey: key } }),
      `${key}`,
    ];
    for (const text of texts) {
      expect(text).not.toContain('TOPSECRET');
      expect(text).toContain('redacted');
    }
  });

  it('compares keys in constant time', () => {
    expect(parseKey('abc').equals(parseKey('abc'))).toBe(true);
    expect(parseKey('abc').equals(parseKey('abd'))).toBe(false);
    expect(parseKey('abc').equals(parseKey('abcd'))).toBe(false);
  });

  it('gives the same bytes as Python Pyro4 for the same key string', () => {
    const keyText = 'sécret 🔑 key\twith tab';
    const script = [
      'import os, Pyro4.core',
      "p = Pyro4.core.Proxy('PYRO:x@localhost:1')",
      "p._pyroHmacKey = os.environ['KEY']",
      'print(p._pyroHmacKey.hex())',
    ].join('\n');
    const out = execFileSync(PYTHON, ['-c', script], {
      env: { KEY: keyText },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(out.trim()).toBe(Buffer.from(parseKey(keyText).bytes).toString('hex'));
  });

  it('produces the key bytes a captured Pyro4 HMAC frame was signed with', () => {
    // HMAC-SHA1 over the payload, then the other annotations in sorted order (Pyro4 message.py).
    const url = new URL('../../../tooling/test-utils/vectors/pyro4-hmac-json.jsonl', import.meta.url);
    const lines = readFileSync(url, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const frames = lines.filter(
      (l) =>
        typeof l.hmac_key === 'string' &&
        l.annotations?.HMAC &&
        typeof l.payload_text === 'string' &&
        !l.malformed,
    );
    expect(frames.length).toBeGreaterThan(5);
    let checked = 0;
    for (const line of frames.slice(0, 20)) {
      const header = line.header as { flags: number };
      if (header.flags & 0x02) continue; // compressed payloads: the MAC covers the compressed bytes
      const h = createHmac('sha1', parseKey(line.hmac_key as string).bytes);
      h.update(Buffer.from(line.payload_text as string, 'utf8'));
      const annotations = line.annotations as Record<string, string>;
      for (const id of Object.keys(annotations).sort())
        if (id !== 'HMAC') h.update(Buffer.from(annotations[id]!, 'hex'));
      expect(h.digest('hex')).toBe(annotations.HMAC);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describe('keyFromConfig', () => {
  it('prefers the configuration, then CINDER_HMAC_KEY, else no key', () => {
    expect(keyFromConfig({ hmacKey: 'from-config' }, { [HMAC_KEY_ENV]: 'from-env' })?.bytes).toEqual(
      Buffer.from('from-config'),
    );
    expect(keyFromConfig({ hmacKey: null }, { [HMAC_KEY_ENV]: 'from-env' })?.bytes).toEqual(
      Buffer.from('from-env'),
    );
    expect(keyFromConfig({}, { CINDER_HMAC_KEY: 'x' })).toBeInstanceOf(SharedKey);
    expect(keyFromConfig({ hmacKey: null }, {})).toBeNull();
    expect(keyFromConfig({})).toBeNull();
  });

  it('treats empty values as "no key", and passes a SharedKey through', () => {
    expect(keyFromConfig({ hmacKey: '' }, { CINDER_HMAC_KEY: '' })).toBeNull();
    expect(keyFromConfig({ hmacKey: '' }, { CINDER_HMAC_KEY: 'env' })?.bytes).toEqual(Buffer.from('env'));
    const key = parseKey('k');
    expect(keyFromConfig({ hmacKey: key })).toBe(key);
    expect(keyFromConfig({ hmacKey: new Uint8Array([1, 2]) })?.length).toBe(2);
  });
});

describe('sharedKeyWarning', () => {
  it('warns about short keys only', () => {
    expect(sharedKeyWarning(parseKey('secret'))).toMatch(/only 6 bytes/);
    expect(sharedKeyWarning(parseKey('0123456789abcdef'))).toBeNull();
  });
});
