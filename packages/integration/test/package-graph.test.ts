// The workspace's package graph, as the package.json files declare it and as the sources import
// it: every runtime dependency points to a lower floor (core → protocol → serializers → transport →
// security → the engine → the client and the daemon side by side → naming → facade → apps), the
// graph with devDependencies has no cycle (pnpm only warns about one), and the client and the
// daemon never reach each other, not even from their tests (#13: each package's tests run against
// the other end made of the engine alone) — neither through package.json nor by a relative path.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@cinder/test-utils';
import { describe, expect, it } from 'vitest';

/** Floors of the published packages and the apps; a runtime dependency must point lower. */
const FLOORS: Record<string, number> = {
  core: 0,
  protocol: 1,
  serializers: 2,
  transport: 3,
  security: 4,
  rpc: 5,
  proxy: 6,
  daemon: 6,
  naming: 7,
  cinder: 8,
  browser: 8,
  bench: 9,
  echoserver: 9,
  gateway: 9,
  nameserver: 9,
  integration: 10,
};

interface Manifest {
  name: string;
  dir: string;
  dependencies: string[];
  devDependencies: string[];
  peerDependencies: string[];
}

const PREFIX = '@cinder/';

function workspaceNames(field: Record<string, string> | undefined): string[] {
  return Object.keys(field ?? {})
    .filter((name) => name.startsWith(PREFIX))
    .map((name) => name.slice(PREFIX.length));
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const entry of readdirSync(join(repoRoot, group))) {
      const dir = join(repoRoot, group, entry);
      let text: string;
      try {
        text = readFileSync(join(dir, 'package.json'), 'utf8');
      } catch {
        continue; // not a package
      }
      const json = JSON.parse(text) as {
        name: string;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      out.push({
        name: json.name.slice(PREFIX.length),
        dir,
        dependencies: workspaceNames(json.dependencies),
        devDependencies: workspaceNames(json.devDependencies),
        peerDependencies: workspaceNames(json.peerDependencies),
      });
    }
  }
  return out;
}

/** Every .ts file under `dir` (node_modules and dist left out). */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|mts|tsx)$/.test(entry)) files.push(path);
  }
  return files;
}

/** Import specifiers of a file: static, dynamic and `export … from`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
    specifiers.push(m[1]!);
  }
  return specifiers;
}

const all = manifests();
const byName = new Map(all.map((m) => [m.name, m]));

describe('the package graph', () => {
  it('knows every package on a floor, and the tooling packages are not on one', () => {
    const onFloors = all.filter((m) => !m.dir.includes(`${join(repoRoot, 'tooling')}`)).map((m) => m.name);
    expect(onFloors.sort()).toEqual(Object.keys(FLOORS).sort());
  });

  it('every runtime dependency points to a lower floor', () => {
    const upward: string[] = [];
    for (const m of all) {
      const floor = FLOORS[m.name];
      if (floor === undefined) continue; // tooling
      for (const dep of [...m.dependencies, ...m.peerDependencies]) {
        const depFloor = FLOORS[dep];
        if (depFloor === undefined || depFloor >= floor) upward.push(`${m.name} -> ${dep}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no cycle, devDependencies included', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'open') {
        cycles.push([...path.slice(path.indexOf(name)), name].join(' -> '));
        return;
      }
      state.set(name, 'open');
      const m = byName.get(name);
      for (const dep of m ? [...m.dependencies, ...m.devDependencies, ...m.peerDependencies] : []) {
        visit(dep, [...path, name]);
      }
      state.set(name, 'done');
    };
    for (const m of all) visit(m.name, []);
    expect(cycles).toEqual([]);
  });

  it.each([
    ['daemon', 'proxy'],
    ['proxy', 'daemon'],
  ])('@cinder/%s does not reach @cinder/%s: no dependency of any kind, no import', (from, to) => {
    const m = byName.get(from)!;
    expect([...m.dependencies, ...m.devDependencies, ...m.peerDependencies]).not.toContain(to);
    const other = byName.get(to)!.dir;
    const reaching: string[] = [];
    for (const file of sourceFiles(m.dir)) {
      for (const specifier of importsOf(file)) {
        const viaPackage = specifier === `${PREFIX}${to}` || specifier.startsWith(`${PREFIX}${to}/`);
        const viaPath = specifier.startsWith('.') && join(file, '..', specifier).startsWith(`${other}/`);
        if (viaPackage || viaPath) reaching.push(`${relative(repoRoot, file)}: ${specifier}`);
      }
    }
    expect(reaching).toEqual([]);
  });
});
