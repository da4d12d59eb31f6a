// Builds the console's UI (Preact, htm, uPlot and the SDK, from apps/gateway/src/console/ui)
// into one script and one stylesheet: dist/console/, copied beside the built gateway and
// single process, which serve them under /console/assets/. Nothing is fetched at run time.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../../..');
const out = join(root, 'dist/console');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, 'ui/main.ts')],
  outfile: join(out, 'console.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  alias: {
    '@switchboard/client': join(root, 'libs/client/src/index.ts'),
    '@switchboard/protocol': join(root, 'libs/protocol/src/index.ts'),
  },
});
// uPlot's own stylesheet, then ours (which overrides its colors for the themes).
const css = [join(root, 'node_modules/uplot/dist/uPlot.min.css'), join(here, 'ui/console.css')]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');
writeFileSync(join(out, 'console.css'), css);

for (const app of ['gateway', 'standalone']) {
  const dir = join(root, 'dist/apps', app);
  if (!existsSync(dir)) continue;
  mkdirSync(join(dir, 'public/console'), { recursive: true });
  for (const file of ['console.js', 'console.css']) copyFileSync(join(out, file), join(dir, 'public/console', file));
}
console.log(`console: ${(readFileSync(join(out, 'console.js')).length / 1024).toFixed(1)} KiB script`);
