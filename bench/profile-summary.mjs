// Self and inclusive time by function of a V8 CPU profile (BENCH_PROFILE=1 writes them to
// bench/results/profiles/), as % of the busy samples, over a window: from the first to the
// last sample with `marker` in its stack (e.g. `onBusMessage` for ours, `sse.mjs:7` for the
// bare SSE server's publish), so start-up and connection set-up stay out.
//
//   node bench/profile-summary.mjs <file.cpuprofile> [top=40] [marker]
import { readFileSync } from 'node:fs';

const [file, topArg, marker] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const top = Number(topArg ?? 40);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const stackOf = (id) => {
  const stack = [];
  for (; id !== undefined; id = parent.get(id)) stack.push(byId.get(id));
  return stack;
};

let [from, to] = [0, p.samples.length];
if (marker !== undefined) {
  const hits = [];
  for (let i = 0; i < p.samples.length; i++) if (stackOf(p.samples[i]).some((n) => key(n).includes(marker))) hits.push(i);
  if (hits.length === 0) throw new Error(`no sample has ${marker} in its stack`);
  [from, to] = [hits[0], hits.at(-1) + 1];
}
const self = new Map();
const inclusive = new Map();
let busy = 0;
let window = 0;
for (let i = from; i < to; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0;
  window += dt;
  const stack = stackOf(p.samples[i]);
  if (key(stack[0]).startsWith('(idle)')) continue;
  busy += dt;
  self.set(key(stack[0]), (self.get(key(stack[0])) ?? 0) + dt);
  for (const k of new Set(stack.map(key))) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
}
console.log(`window ${(window / 1e3).toFixed(0)} ms, busy ${(busy / 1e3).toFixed(0)} ms`);
for (const [title, m] of [
  ['self', self],
  ['inclusive', inclusive],
]) {
  console.log(`-- ${title} (% of busy)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(((100 * v) / busy).toFixed(1).padStart(6), k);
}
