// Handshake validators and their combinators, including the deadline that keeps a slow or stuck
// validator from holding a connection open.
import { AbortedError, SecurityError, TimeoutError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import {
  allOf,
  type HandshakeContext,
  type HandshakeValidator,
  requireCertificate,
  requireToken,
  runHandshakeValidator,
} from '../src/index.js';

function ctx(data: unknown, peerCertificate: HandshakeContext['peerCertificate'] = null): HandshakeContext {
  return { data, peerCertificate, remoteAddress: '127.0.0.1:40000', protocolVersion: 502 };
}

const cert = {
  subject: { CN: 'cinder-client', O: 'Cinder Test' },
  issuer: { CN: 'Cinder Test CA' },
  serialNumber: '1F',
};

describe('requireToken', () => {
  it('accepts the token as the whole handshake or in a field', async () => {
    await expect(runHandshakeValidator(requireToken('s3cret'), ctx('s3cret'))).resolves.toBeUndefined();
    await expect(
      runHandshakeValidator(requireToken('s3cret'), ctx({ token: 's3cret', user: 'x' })),
    ).resolves.toBeUndefined();
    await expect(
      runHandshakeValidator(requireToken(['old', 'new'], { field: 'key' }), ctx({ key: 'new' })),
    ).resolves.toBeUndefined();
  });

  it('refuses wrong, missing and non-string tokens with the same message', async () => {
    const v = requireToken('s3cret');
    for (const data of [
      's3cre',
      's3cret ',
      '',
      null,
      42,
      ['s3cret'],
      { token: 5 },
      { other: 's3cret' },
      undefined,
    ]) {
      await expect(runHandshakeValidator(v, ctx(data))).rejects.toThrow(
        new SecurityError('invalid handshake token'),
      );
    }
  });

  it('refuses to be configured without a token', () => {
    expect(() => requireToken([])).toThrow(SecurityError);
    expect(() => requireToken('')).toThrow(/non-empty/);
  });
});

describe('requireCertificate', () => {
  it('checks the peer certificate of the context', async () => {
    const v = requireCertificate({ subject: { CN: 'cinder-client' }, serialNumber: '001f' });
    await expect(runHandshakeValidator(v, ctx('hello', cert))).resolves.toBeUndefined();
    await expect(runHandshakeValidator(v, ctx('hello', null))).rejects.toThrow(
      'peer presented no certificate',
    );
    await expect(
      runHandshakeValidator(requireCertificate({ issuer: { CN: 'Evil CA' } }), ctx('hello', cert)),
    ).rejects.toThrow("peer certificate issuer CN is 'Cinder Test CA', expected 'Evil CA'");
  });
});

describe('allOf', () => {
  it('runs checks in order, stops at the first refusal and returns the last defined result', async () => {
    const calls: string[] = [];
    const respond: HandshakeValidator = async (c) => {
      calls.push('respond');
      return { welcome: (c.data as { user: string }).user };
    };
    const check: HandshakeValidator = () => {
      calls.push('check');
      return undefined;
    };
    const v = allOf(requireToken('t'), check, respond, check);
    await expect(runHandshakeValidator(v, ctx({ token: 't', user: 'ann' }))).resolves.toEqual({
      welcome: 'ann',
    });
    expect(calls).toEqual(['check', 'respond', 'check']);
    calls.length = 0;
    await expect(runHandshakeValidator(v, ctx({ token: 'x', user: 'ann' }))).rejects.toThrow(
      'invalid handshake token',
    );
    expect(calls).toEqual([]);
    await expect(runHandshakeValidator(allOf(), ctx('x'))).resolves.toBeUndefined();
  });
});

describe('runHandshakeValidator', () => {
  it('turns a synchronous throw into a rejection', async () => {
    const v: HandshakeValidator = () => {
      throw new SecurityError('go away');
    };
    await expect(runHandshakeValidator(v, ctx('x'))).rejects.toThrow('go away');
  });

  it('stops waiting for a stuck validator after timeoutMs, and on abort', async () => {
    const stuck: HandshakeValidator = () => new Promise(() => {});
    const started = Date.now();
    await expect(runHandshakeValidator(stuck, ctx('x'), { timeoutMs: 50 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    const controller = new AbortController();
    const pending = runHandshakeValidator(stuck, ctx('x'), { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
  });

  it('passes the validator result through', async () => {
    await expect(
      runHandshakeValidator((c) => `hi ${c.remoteAddress}`, ctx('x'), { timeoutMs: 1000 }),
    ).resolves.toBe('hi 127.0.0.1:40000');
  });
});
