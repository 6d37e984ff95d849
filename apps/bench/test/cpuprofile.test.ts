// The .cpuprofile summary, on a hand-made profile whose self and total times are known.

import { describe, expect, it } from 'vitest';
import { type CpuProfile, callersOf, renderProfileSummary, summarizeProfile } from '../src/cpuprofile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

// (root) → invoke (proxy) → write (node:net)
//        → invoke (proxy) [same function, second call site] → encode (cbor-x dependency)
//        → (idle)
const profile: CpuProfile = {
  startTime: 0,
  endTime: 100_000,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 4, 6] },
    { id: 2, callFrame: frame('invoke', 'file:///r/packages/proxy/dist/session.js', 9), children: [3] },
    { id: 3, callFrame: frame('write', 'node:net', 99) },
    { id: 4, callFrame: frame('invoke', 'file:///r/packages/proxy/dist/session.js', 9), children: [5] },
    {
      id: 5,
      callFrame: frame(
        'encode',
        'file:///r/node_modules/.pnpm/cbor-x@1.6.9/node_modules/cbor-x/encode.js',
        4,
      ),
    },
    { id: 6, callFrame: frame('(idle)') },
  ],
  // V8 charges each sample with the gap to the next one: 10 ms each here, the last one gets 0.
  samples: [3, 3, 2, 5, 6, 6],
  timeDeltas: [0, 10_000, 10_000, 10_000, 10_000, 10_000],
};

describe('summarizeProfile', () => {
  const s = summarizeProfile(profile);
  const fn = (name: string) => s.functions.find((f) => f.name.startsWith(name));

  it('charges self time per function and total time once per stack', () => {
    expect(s.totalMs).toBe(50);
    expect(s.idleMs).toBe(10);
    expect(fn('write')).toMatchObject({ name: 'write (node:net:100)', selfMs: 20, totalMs: 20 });
    expect(fn('encode')).toMatchObject({
      name: 'encode (cbor-x/encode.js:5)',
      area: 'cbor-x',
      selfMs: 10,
      totalMs: 10,
    });
    // Two call sites of one function are one entry: 10 ms of its own, 40 ms with its callees.
    expect(fn('invoke')).toMatchObject({
      name: 'invoke (packages/proxy/dist/session.js:10)',
      area: '@cinder/proxy',
      selfMs: 10,
      totalMs: 40,
    });
    expect(s.functions[0]!.name).toBe('write (node:net:100)');
  });

  it('groups self time by area and reports busy time without idle', () => {
    expect(s.areas).toEqual([
      { area: 'node:internal', selfMs: 20 },
      { area: '@cinder/proxy', selfMs: 10 },
      { area: 'cbor-x', selfMs: 10 },
      { area: 'idle', selfMs: 10 },
    ]);
    const text = renderProfileSummary('p', s, 2);
    expect(text).toMatch(/^p: 40 ms busy of 50 ms sampled/);
    expect(text).toContain(' 50.0%      20 ms  node:internal');
    const listed = text
      .split('\n')
      .slice(text.split('\n').indexOf('  top functions by self time (self, total):') + 1);
    expect(listed).toEqual([
      '     50.0%  50.0%  write (node:net:100)',
      '     25.0% 100.0%  invoke (packages/proxy/dist/session.js:10)',
    ]);
  });

  it('lists the stacks leading to a function', () => {
    expect(callersOf(profile, 'write')).toEqual([
      { stack: 'write (node:net:100) <- invoke (packages/proxy/dist/session.js:10) <- (root)', selfMs: 20 },
    ]);
    expect(callersOf(profile, 'nothing')).toEqual([]);
  });
});
