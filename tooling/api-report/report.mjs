#!/usr/bin/env node
// API reports: the public surface of every published entry point (each `exports` path of a package
// with `publishConfig`), written by api-extractor from the built `.d.ts` into `<package>/api/*.api.md`.
// The reports are checked in, so a change of a public API shows in review.
//
//   node tooling/api-report/report.mjs            compare with the checked-in reports (exit 1 on a difference)
//   node tooling/api-report/report.mjs --update   rewrite the reports (`pnpm api:update` builds first)
//   ... [package-dir…]                             only these packages (e.g. packages/rpc)
//
// api-extractor brings its own TypeScript (the repository's is the native 7.x, without the JS API).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const update = args.includes('--update');
const only = args.filter((a) => !a.startsWith('--')).map((a) => a.replace(/\/$/, ''));

/** Published package directories: those with publishConfig (private workspace packages have none). */
function publishedPackages() {
  const dirs = [];
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const dir = `${group}/${name}`;
      let pkg;
      try {
        pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      if (pkg.private || !pkg.publishConfig) continue;
      if (only.length > 0 && !only.includes(dir)) continue;
      dirs.push({ dir, pkg });
    }
  }
  return dirs;
}

/** [report name, .d.ts path] for each typed export of the package. */
function entryPoints({ pkg }) {
  const unscoped = pkg.name.replace(/^@[^/]+\//, '');
  const exportsMap = pkg.publishConfig.exports ?? pkg.exports;
  const entries = [];
  for (const [subpath, target] of Object.entries(exportsMap)) {
    if (target === null || typeof target !== 'object' || typeof target.types !== 'string') continue;
    const suffix = subpath === '.' ? '' : `-${subpath.slice(2).replace(/[^a-z0-9]+/gi, '-')}`;
    entries.push([`${unscoped}${suffix}`, target.types]);
  }
  return entries;
}

const silent = { logLevel: 'none' };
const messages = {
  compilerMessageReporting: { default: { logLevel: 'error' } },
  // Findings about the API (a type used but not exported, a missing release tag…) go into the
  // report, where a reviewer sees them, rather than failing the run.
  extractorMessageReporting: {
    default: { logLevel: 'none', addToApiReportFile: true },
    'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
    // TSDoc is being written; a comment added should not change a report.
    'ae-undocumented': { logLevel: 'none', addToApiReportFile: false },
  },
  tsdocMessageReporting: { default: silent },
};

const temp = mkdtempSync(join(tmpdir(), 'cinder-api-report-'));
const changed = [];
let failed = false;
try {
  for (const entry of publishedPackages()) {
    const packageDir = join(root, entry.dir);
    if (update) mkdirSync(join(packageDir, 'api'), { recursive: true });
    for (const [reportName, types] of entryPoints(entry)) {
      const config = ExtractorConfig.prepare({
        configObject: {
          projectFolder: packageDir,
          mainEntryPointFilePath: join(packageDir, types),
          compiler: {
            overrideTsconfig: {
              compilerOptions: {
                target: 'ES2022',
                lib: ['ES2023'],
                module: 'NodeNext',
                moduleResolution: 'NodeNext',
                types: ['node'],
                typeRoots: [join(root, 'node_modules/@types')],
                strict: true,
                skipLibCheck: true,
              },
              files: [join(packageDir, types)],
            },
          },
          apiReport: {
            enabled: true,
            reportFolder: join(packageDir, 'api'),
            reportTempFolder: temp,
            reportFileName: `${reportName}.api.md`,
          },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          messages,
        },
        configObjectFullPath: join(packageDir, 'api-extractor.json'),
        packageJsonFullPath: join(packageDir, 'package.json'),
      });
      const result = Extractor.invoke(config, {
        localBuild: update,
        messageCallback: (message) => {
          if (message.logLevel === 'error') {
            console.error(`${entry.dir} (${types}): ${message.text}`);
            failed = true;
          }
          message.handled = true;
        },
      });
      const report = relative(root, join(packageDir, 'api', `${reportName}.api.md`));
      if (result.apiReportChanged) changed.push(report);
      if (result.errorCount > 0) failed = true;
    }
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}

if (changed.length > 0) {
  if (update) console.log(`api-report: updated ${changed.join(', ')}`);
  else {
    console.error(
      `api-report: the public API differs from the checked-in report(s): ${changed.join(', ')}\n` +
        'If the change is meant, run `pnpm api:update` and commit the reports.',
    );
    failed = true;
  }
} else console.log('api-report: every report matches the built API');
process.exitCode = failed ? 1 : 0;
