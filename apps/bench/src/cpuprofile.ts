// Summarises V8 .cpuprofile files (written by `node --cpu-prof`, see `--cpu-prof` in main.ts): the
// functions with the most self time, and the time spent in each package, so a slow figure can be
// traced to the code that costs it. Also a CLI: `node dist/cpuprofile.js [--top N] <file>…`.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionCost {
  /** `name (where:line)`, where is a repo-relative path or a Node-internal module name. */
  name: string;
  /** Where the function lives: a workspace package (`@cinder/proxy`), `node:internal`, `(gc)`… */
  area: string;
  selfMs: number;
  /** Time with this function anywhere on the stack (recursion counted once). */
  totalMs: number;
}

export interface ProfileSummary {
  /** Sampled time, idle included. */
  totalMs: number;
  idleMs: number;
  functions: FunctionCost[];
  /** Self time per area. */
  areas: { area: string; selfMs: number }[];
}

/** A short place for a script URL: repo-relative for workspace files, the package for dependencies. */
function place(url: string): { where: string; area: string } {
  if (url === '') return { where: '', area: 'native' };
  if (url.startsWith('node:')) return { where: url, area: 'node:internal' };
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  const dep = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (dep) {
    const pkg = dep[1]!;
    if (pkg.startsWith('@cinder/')) return { where: `${pkg}/${dep[2]!}`, area: pkg };
    return { where: `${pkg}/${dep[2]!}`, area: pkg };
  }
  const ws = /\/(packages|apps|tooling)\/([^/]+)\/(.*)$/.exec(path);
  if (ws) {
    const area = ws[1] === 'packages' ? `@cinder/${ws[2]!}` : `${ws[1]!}/${ws[2]!}`;
    return { where: `${ws[1]!}/${ws[2]!}/${ws[3]!}`, area };
  }
  return { where: path, area: 'other' };
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = new Map<number, { name: string; area: string }>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    if (SPECIAL.has(f.functionName)) {
      keyOf.set(n.id, { name: f.functionName, area: f.functionName === '(idle)' ? 'idle' : f.functionName });
      continue;
    }
    const { where, area } = place(f.url);
    const fn = f.functionName === '' ? '(anonymous)' : f.functionName;
    keyOf.set(n.id, { name: where ? `${fn} (${where}:${f.lineNumber + 1})` : fn, area });
  }
  const fns = new Map<string, FunctionCost>();
  const cost = (id: number): FunctionCost => {
    const k = keyOf.get(id)!;
    let c = fns.get(k.name);
    if (!c) {
      c = { name: k.name, area: k.area, selfMs: 0, totalMs: 0 };
      fns.set(k.name, c);
    }
    return c;
  };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalMs = 0;
  let idleMs = 0;
  const seen = new Set<string>();
  for (let i = 0; i < samples.length; i++) {
    // a sample's time is the gap to the next one (V8 records the gap before each sample)
    const ms = (deltas[i + 1] ?? 0) / 1000;
    const id = samples[i]!;
    totalMs += ms;
    const self = cost(id);
    self.selfMs += ms;
    if (self.area === 'idle') idleMs += ms;
    seen.clear();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const c = cost(at);
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      c.totalMs += ms;
    }
  }
  const areas = new Map<string, number>();
  for (const f of fns.values()) areas.set(f.area, (areas.get(f.area) ?? 0) + f.selfMs);
  return {
    totalMs,
    idleMs,
    functions: [...fns.values()].filter((f) => f.name !== '(root)').sort((a, b) => b.selfMs - a.selfMs),
    areas: [...areas]
      .map(([area, selfMs]) => ({ area, selfMs }))
      .filter((a) => a.selfMs > 0)
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

/**
 * Who spends the time of the functions whose name contains `fragment`: their self time grouped by
 * the call stack leading to them (the nearest `depth` callers), most expensive first.
 */
export function callersOf(
  profile: CpuProfile,
  fragment: string,
  depth = 4,
): { stack: string; selfMs: number }[] {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const label = (n: ProfileNode) => {
    const f = n.callFrame;
    const { where } = place(f.url);
    return `${f.functionName || '(anonymous)'}${where ? ` (${where}:${f.lineNumber + 1})` : ''}`;
  };
  const stacks = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    if (!node || !label(node).includes(fragment)) continue;
    const frames: string[] = [];
    for (let at = parent.get(node.id); at !== undefined && frames.length < depth; at = parent.get(at)) {
      frames.push(label(byId.get(at)!));
    }
    const key = `${label(node)} <- ${frames.join(' <- ')}`;
    stacks.set(key, (stacks.get(key) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  }
  return [...stacks].map(([stack, selfMs]) => ({ stack, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
}

/** The summary as text: busy time, time per area, then the top functions by self time. */
export function renderProfileSummary(title: string, s: ProfileSummary, top = 25): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${((100 * ms) / (busy || 1)).toFixed(1).padStart(5)}%`;
  const lines = [
    `${title}: ${busy.toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms sampled (percentages of busy time)`,
    '  self time by area:',
  ];
  for (const a of s.areas) {
    if (a.area === 'idle') continue;
    lines.push(`    ${pct(a.selfMs)} ${a.selfMs.toFixed(0).padStart(7)} ms  ${a.area}`);
  }
  lines.push('  top functions by self time (self, total):');
  for (const f of s.functions.filter((f) => f.area !== 'idle').slice(0, top)) {
    lines.push(`    ${pct(f.selfMs)} ${pct(f.totalMs)}  ${f.name}`);
  }
  return lines.join('\n');
}

function cli(argv: string[]): void {
  let top = 25;
  let callers: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else if (argv[i] === '--callers') callers = argv[++i];
    else files.push(argv[i]!);
  }
  if (files.length === 0 || !Number.isInteger(top) || top < 1) {
    process.stderr.write(
      'usage: node dist/cpuprofile.js [--top N] [--callers <function name part>] <file.cpuprofile>…\n',
    );
    process.exitCode = 2;
    return;
  }
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    if (callers === undefined) {
      process.stdout.write(`${renderProfileSummary(file, summarizeProfile(profile), top)}\n\n`);
      continue;
    }
    process.stdout.write(`${file}: self time of "${callers}" by caller\n`);
    for (const c of callersOf(profile, callers).slice(0, top)) {
      process.stdout.write(`  ${c.selfMs.toFixed(1).padStart(8)} ms  ${c.stack}\n`);
    }
    process.stdout.write('\n');
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) cli(process.argv.slice(2));
