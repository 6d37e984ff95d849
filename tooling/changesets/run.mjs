#!/usr/bin/env node
// Runs the changesets CLI with its folder in tooling/changesets/pending: the CLI only reads
// `<workspace root>/.changeset`, and the top level of the repository is fixed, so `.changeset` is a
// link that exists only while the command runs (and is ignored by git).
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const link = join(root, '.changeset');
const cli = fileURLToPath(new URL('./node_modules/@changesets/cli/bin.js', import.meta.url));

if (existsSync(link) && !lstatSync(link).isSymbolicLink()) {
  console.error(
    'tooling/changesets: a real .changeset folder exists at the top level; move its files to tooling/changesets/pending',
  );
  process.exit(1);
}
rmSync(link, { force: true });
symlinkSync(join('tooling', 'changesets', 'pending'), link, 'dir');
let status = 1;
try {
  status =
    spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' }).status ?? 1;
} finally {
  rmSync(link, { force: true });
}
process.exit(status);
