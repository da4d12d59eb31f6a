// Builds the SDK: tree-shakeable ESM and CJS for bundlers and Node, a minified IIFE for a
// plain <script> tag (global `Switchboard`), and one self-contained type declaration file
// per format. Prints the browser bundle's minified and gzipped size (README's figure). The
// browser bundle is also copied beside the built gateway and standalone apps, which serve
// it to the inspector page.
import { generateDtsBundle } from 'dts-bundle-generator';
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'src/index.ts');
const dist = join(here, 'dist');
// The protocol library (frame types, cursor, error codes) is inlined, code and types: the
// published package depends on nothing.
const alias = { '@switchboard/protocol': join(here, '../protocol/src/index.ts') };
const common = { entryPoints: [entry], bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning', alias };

rmSync(dist, { recursive: true, force: true });
await Promise.all([
  build({ ...common, format: 'esm', platform: 'neutral', outfile: join(dist, 'index.mjs') }),
  build({ ...common, format: 'cjs', platform: 'neutral', outfile: join(dist, 'index.cjs') }),
  build({
    ...common,
    format: 'iife',
    platform: 'browser',
    globalName: 'Switchboard',
    minify: true,
    outfile: join(dist, 'switchboard-client.js'),
  }),
]);

// One declaration file with no imports (the protocol's types inlined), written twice so
// `import` gets ESM types and `require` CJS types (package.json "exports"). Type errors are
// the typecheck's job (npm run typecheck), not the build's.
const [types] = generateDtsBundle([{ filePath: entry, output: { noBanner: true, exportReferencedTypes: false } }], {
  preferredConfigPath: join(here, 'tsconfig.build.json'),
});
writeFileSync(join(dist, 'index.d.mts'), types);
writeFileSync(join(dist, 'index.d.cts'), types);

for (const app of ['gateway', 'standalone']) {
  const dir = join(here, '../../dist/apps', app);
  if (!existsSync(dir)) continue;
  mkdirSync(join(dir, 'public'), { recursive: true });
  copyFileSync(join(dist, 'switchboard-client.js'), join(dir, 'public/switchboard-client.js'));
}

const min = readFileSync(join(dist, 'switchboard-client.js'));
console.log(
  `@switchboard/client: browser bundle ${(min.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(min).length / 1024).toFixed(1)} KiB gzipped`,
);
