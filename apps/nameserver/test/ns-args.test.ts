// cinder-ns's log level: --log-level wins, then CINDER_LOG_LEVEL (the configuration item's
// variable), then `info` (a server says what it does, although the library default is silent).
import { describe, expect, it } from 'vitest';
import { parseNsArgs } from '../src/ns-cli.js';

const levelOf = (argv: string[], env: Record<string, string>) => {
  const plan = parseNsArgs(argv, env);
  if (plan === 'help') throw new Error('unexpected help');
  return plan.logLevel;
};

describe('cinder-ns log level', () => {
  it('is info by default', () => {
    expect(levelOf([], {})).toBe('info');
  });

  it('follows CINDER_LOG_LEVEL', () => {
    expect(levelOf([], { CINDER_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(levelOf([], { CINDER_LOG_LEVEL: 'silent' })).toBe('silent');
  });

  it('takes --log-level over CINDER_LOG_LEVEL', () => {
    expect(levelOf(['--log-level', 'debug'], { CINDER_LOG_LEVEL: 'warn' })).toBe('debug');
  });

  it('refuses the misspelt CINDER_LOGLEVEL like any unknown CINDER_* variable', () => {
    expect(() => parseNsArgs([], { CINDER_LOGLEVEL: 'warn' })).toThrow(/CINDER_LOGLEVEL/);
  });
});
