import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  CinderError,
  CommunicationError,
  ConnectionClosedError,
  MessageTooLargeError,
  ProtocolError,
  RemoteError,
  SerializeError,
  TimeoutError,
} from '../src/index.js';

describe('error hierarchy', () => {
  it('gives every class a name and code that match Pyro’s hierarchy', () => {
    const e = new ConnectionClosedError('gone', { cause: new Error('socket') });
    expect(e).toBeInstanceOf(CommunicationError);
    expect(e).toBeInstanceOf(CinderError);
    expect(e.name).toBe('ConnectionClosedError');
    expect(e.code).toBe('CONNECTION_CLOSED');
    expect((e.cause as Error).message).toBe('socket');
    const s = new SerializeError('bad');
    expect(s).toBeInstanceOf(ProtocolError);
    expect(s.code).toBe('SERIALIZE');
  });

  it('reports size and limit for oversize messages', () => {
    const e = new MessageTooLargeError(2041, 1000);
    expect(e.message).toBe('message too large (2041, max=1000)');
    expect(e).toBeInstanceOf(ProtocolError);
    expect([e.size, e.limit]).toEqual([2041, 1000]);
  });

  it('normalises foreign errors with from()', () => {
    const plain = new Error('x');
    const wrapped = CinderError.from(plain);
    expect(wrapped.cause).toBe(plain);
    expect(CinderError.from(new DOMException('t', 'TimeoutError'))).toBeInstanceOf(TimeoutError);
    expect(CinderError.from(new DOMException('a', 'AbortError'))).toBeInstanceOf(AbortedError);
    expect(CinderError.from('str').message).toBe('str');
    const own = new ProtocolError('p');
    expect(CinderError.from(own)).toBe(own);
  });

  it('keeps the remote type, message and traceback of a RemoteError', () => {
    const e = new RemoteError({
      remoteType: 'builtins.ValueError',
      remoteMessage: 'bad value',
      remoteTraceback: ['Traceback (most recent call last):\n', 'ValueError: bad value\n'],
      attributes: { code: 42 },
    });
    expect(e.message).toBe('builtins.ValueError: bad value');
    expect(e.remoteStack).toContain('ValueError: bad value');
    expect(e.attributes.code).toBe(42);
    expect(e.args).toEqual(['bad value']);
  });
});
