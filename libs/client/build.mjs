// Builds the SDK: tree-shakeable ESM and CJS for bundlers and Node, two minified IIFEs for
// plain <script> tags (switchboard-client.js: global `Switchboard`, everything but WebRTC;
// switchboard-rtc.js: adds `Switchboard.RtcRoom`), and one self-contained type declaration
// file per format. Prints the browser bundles' minified and gzipped sizes (README's
// figures). The browser bundles are also copied beside the built gateway and standalone
// apps, which serve them to the inspector page.
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
const browser = { ...common, format: 'iife', platform: 'browser', minify: true };
const BUNDLES = ['switchboard-client.js', 'switchboard-rtc.js'];

rmSync(dist, { recursive: true, force: true });
await Promise.all([
  build({ ...common, format: 'esm', platform: 'neutral', outfile: join(dist, 'index.mjs') }),
  build({ ...common, format: 'cjs', platform: 'neutral', outfile: join(dist, 'index.cjs') }),
  build({ ...browser, entryPoints: [join(here, 'src/core.ts')], globalName: 'Switchboard', outfile: join(dist, BUNDLES[0]) }),
  build({ ...browser, entryPoints: [join(here, 'src/rtc-global.ts')], outfile: join(dist, BUNDLES[1]) }),
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
  for (const file of BUNDLES) copyFileSync(join(dist, file), join(dir, 'public', file));
}

for (const file of BUNDLES) {
  const min = readFileSync(join(dist, file));
  console.log(
    `@switchboard/client: ${file} ${(min.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(min).length / 1024).toFixed(1)} KiB gzipped`,
  );
}
