// Builds the SDK: tree-shakeable ESM and CJS for bundlers and Node, a minified IIFE for a
// plain <script> tag (global `Switchboard`), and type declarations. Prints the browser
// bundle's minified and gzipped size (README's figure). The browser bundle is also copied
// beside the built gateway and standalone apps, which serve it to the inspector page.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'src/index.ts');
const common = { entryPoints: [entry], bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning' };

await Promise.all([
  build({ ...common, format: 'esm', platform: 'neutral', outfile: join(here, 'dist/index.mjs') }),
  build({ ...common, format: 'cjs', platform: 'neutral', outfile: join(here, 'dist/index.cjs') }),
  build({
    ...common,
    format: 'iife',
    platform: 'browser',
    globalName: 'Switchboard',
    minify: true,
    outfile: join(here, 'dist/switchboard-client.js'),
  }),
]);
execFileSync(process.execPath, [join(here, '../../node_modules/typescript/bin/tsc'), '-p', join(here, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

for (const app of ['gateway', 'standalone']) {
  const dir = join(here, '../../dist/apps', app);
  if (!existsSync(dir)) continue;
  mkdirSync(join(dir, 'public'), { recursive: true });
  copyFileSync(join(here, 'dist/switchboard-client.js'), join(dir, 'public/switchboard-client.js'));
}

const min = readFileSync(join(here, 'dist/switchboard-client.js'));
console.log(
  `@switchboard/client: browser bundle ${(min.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(min).length / 1024).toFixed(1)} KiB gzipped`,
);
