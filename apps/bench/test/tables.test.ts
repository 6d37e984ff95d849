// The published tables are generated from the newest results/*.json: the checked-in root README,
// apps/bench/README.md and packages/cinder/docs/performance.md must be what `pnpm tables` writes
// today; and the tables show each figure's spread and mark what the rounds do not support.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeResults, type RunMeta } from '../src/report.js';
import type { BenchOutcome, RunRecord } from '../src/runner.js';
import {
  BEGIN,
  BENCH_README,
  END,
  newestResults,
  PERFORMANCE_DOC,
  ROOT_README,
  readResults,
  renderHeadlineTable,
  renderPerformanceDoc,
  renderReadmeBlock,
  replaceBlock,
} from '../src/tables.js';

describe('checked-in tables (regenerate: pnpm tables in apps/bench)', () => {
  const file = newestResults();
  const json = readResults(file);

  it('docs/performance.md is generated from the newest results', () => {
    expect(readFileSync(PERFORMANCE_DOC, 'utf8')).toBe(
      renderPerformanceDoc(json, `apps/bench/results/${file}`),
    );
  });

  it("the root README's and apps/bench/README.md's tables are generated from it", () => {
    const root = readFileSync(ROOT_README, 'utf8');
    expect(root).toBe(replaceBlock(root, renderReadmeBlock(json, `apps/bench/results/${file}`)));
    const bench = readFileSync(BENCH_README, 'utf8');
    expect(bench).toBe(replaceBlock(bench, renderReadmeBlock(json, `results/${file}`)));
    expect(root).toContain(`](apps/bench/results/${file})`);
  });
});

describe('rendering', () => {
  const meta: RunMeta = {
    date: '2026-12-06T20:00:00.000Z',
    mode: 'full',
    runs: 3,
    argv: ['--transport', 'tcp'],
    machine: { cpu: 'Test CPU', cores: 2, memoryMiB: 2048, os: 'linux', arch: 'x64' },
    node: 'v20.20.2',
    versions: {},
    iterations: {},
    notes: [],
  };
  const calls = (system: RunRecord['system'], serializer: string, rates: number[]): RunRecord[] =>
    rates.map((rate, run) => ({
      type: 'run',
      system,
      serializer,
      transport: 'tcp',
      scenario: 'calls',
      run,
      count: 1000,
      seconds: 1000 / rate,
      latencyUs: [1, 1, 1],
    }));
  const outcome: BenchOutcome = {
    runs: [
      ...calls('cinder', 'cbor', [900, 700, 950]),
      ...calls('raw', 'none', [1000, 1000, 1000]),
      ...calls('pyro4', 'marshal', [300, 310, 290]),
      ...calls('pyro4', 'json', [100, 100, 100]),
    ],
    rss: [],
    skipped: [],
    failed: [],
    versions: {},
    roundsDone: 3,
  };
  const json = { meta, results: computeResults(outcome), skipped: [], failed: [] };

  it('gives medians with their range, ratios within rounds, and marks unsupported ones', () => {
    const row = renderHeadlineTable(json)
      .split('\n')
      .find((l) => l.startsWith('| sequential calls/s'));
    expect(row).toBe(
      '| sequential calls/s | 900 (700–950) | — | 1,000 (1,000–1,000) | 300 (290–310) (marshal) | — | ' +
        '0.90× (0.70–0.95) ? | 3.00× (2.26–3.28) | — |',
    );
    // rows without any figure are left out
    expect(renderHeadlineTable(json)).not.toContain('transfer MiB/s');
  });

  it('replaces only the generated block, and refuses a text without one', () => {
    const text = `intro\n${BEGIN}\nold\n${END}\noutro\n`;
    expect(replaceBlock(text, `${BEGIN}\nnew\n${END}`)).toBe(`intro\n${BEGIN}\nnew\n${END}\noutro\n`);
    expect(() => replaceBlock('no markers', 'x')).toThrow(/markers/);
  });
});
