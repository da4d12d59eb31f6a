#!/usr/bin/env node
// What `npm start` runs first: builds the single process (and the SDK bundle its inspector
// loads) only when a source is newer than the build, so an unchanged tree starts at once
// and a configuration error shows in a second or two instead of after a full rebuild.
// Like make, it compares modification times of the source files with the built file's.
// Files only: a deleted or renamed source changes the bundle only through the files that
// imported it, which then change too, while a new spec file must not cost a rebuild.
//
//   node scripts/build-if-stale.mjs            build what is stale (quiet when nothing is)
//   node scripts/build-if-stale.mjs --check    exit 1 and name what is stale, build nothing
//   --root <dir>                               another checkout (tests)
//
// `npm run build` still builds every service.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const check = args.includes('--check');
const rootIndex = args.indexOf('--root');
const root = rootIndex >= 0 ? args[rootIndex + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');

/** Files that never reach a bundle. */
const IGNORED = /(\.spec\.ts|\.int-spec\.ts|\.e2e-spec\.ts|\.conformance\.ts|\.md)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.git']);

/**
 * What `npm start` needs, each with the sources it is built from and how. The single
 * process bundles every app and lib but the SDK (its own bundle) and the publisher library.
 */
const TARGETS = [
  {
    name: 'the single process',
    output: 'dist/apps/standalone/main.js',
    inputs: ['apps', 'libs', 'tsconfig.json', 'nest-cli.json', 'package-lock.json'],
    // The console's UI is its own bundle (below), never in the single process's.
    exclude: ['libs/client', 'libs/publisher', 'apps/gateway/src/console/ui'],
    build: [join(root, 'node_modules/@nestjs/cli/bin/nest.js'), 'build', 'standalone'],
  },
  {
    name: 'the SDK bundle of the inspector',
    output: 'dist/apps/standalone/public/switchboard-client.js',
    inputs: ['libs/client', 'package-lock.json'],
    exclude: [],
    build: [join(root, 'libs/client/build.mjs')],
  },
  {
    name: 'the console',
    output: 'dist/apps/standalone/public/console/console.js',
    inputs: [
      'apps/gateway/src/console/ui',
      'apps/gateway/src/console/build.mjs',
      'libs/client/src',
      'libs/protocol/src',
      'package-lock.json',
    ],
    exclude: [],
    build: [join(root, 'apps/gateway/src/console/build.mjs')],
  },
];

/** The newest modification time of the files under `path`, and which file it is. */
function newest(path, exclude, best = { time: 0, path: '' }) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return best;
  }
  if (!stat.isDirectory()) return stat.mtimeMs > best.time ? { time: stat.mtimeMs, path } : best;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory() ? SKIPPED_DIRS.has(entry.name) || exclude.includes(relative(root, child)) : IGNORED.test(entry.name)) continue;
    best = newest(child, exclude, best);
  }
  return best;
}

/** Why `target` must be built, or undefined when its output is newer than every source. */
export function staleness(target) {
  const output = join(root, target.output);
  if (!existsSync(output)) return `${target.output} does not exist`;
  const built = statSync(output).mtimeMs;
  let source = { time: 0, path: '' };
  for (const input of target.inputs) source = newest(join(root, input), target.exclude, source);
  return source.time > built ? `${relative(root, source.path)} is newer than ${target.output}` : undefined;
}

let failed = false;
for (const target of TARGETS) {
  const reason = staleness(target);
  if (reason === undefined) continue;
  if (check) {
    process.stdout.write(`stale: ${target.name}: ${reason}\n`);
    failed = true;
    continue;
  }
  process.stdout.write(`building ${target.name} (${reason})\n`);
  const result = spawnSync(process.execPath, target.build, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    // A failed build may still have written its output: make it older than any source, so
    // the next start builds again instead of running it.
    const output = join(root, target.output);
    if (existsSync(output)) utimesSync(output, 0, 0);
    process.stderr.write(`build of ${target.name} failed\n`);
    process.exit(result.status ?? 1);
  }
  // webpack leaves an output whose content did not change untouched (compareBeforeEmit):
  // date it now, or it would look stale forever.
  const now = new Date();
  utimesSync(join(root, target.output), now, now);
}
process.exit(failed ? 1 : 0);
