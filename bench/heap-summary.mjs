// Bytes allocated by function (self) in a sampling heap profile written by
// bench/heap-sample.cjs, largest first; with a function name, the call paths that allocate
// under it instead.
//
//   node bench/heap-summary.mjs <file.heapprofile> [top=30] [function]
import { readFileSync } from 'node:fs';

const [file, topArg, target] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const top = Number(topArg ?? 30);
const key = (f) => `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
const bytes = new Map();
let total = 0;
const walk = (node, path) => {
  const k = key(node.callFrame);
  total += node.selfSize;
  if (target === undefined) bytes.set(k, (bytes.get(k) ?? 0) + node.selfSize);
  else if (k.startsWith(target + ' ') && node.selfSize > 0) {
    const via = path.slice(-4).join(' < ');
    bytes.set(via, (bytes.get(via) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, [...path, k]);
};
walk(profile.head, []);
console.log(`allocated (sampled) ${(total / 1048576).toFixed(1)} MiB`);
for (const [k, v] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * v) / total).toFixed(1).padStart(5)} % ${(v / 1024).toFixed(0).padStart(8)} KiB  ${k}`);
}
