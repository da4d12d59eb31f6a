// `node_modules/.bin/node bench/cursor.mjs [--reps 301]`: the SSE / long-poll cursor
// (libs/protocol/src/cursor.ts) against the Buffer-based code it replaced, on this Node.
// encodeCursor runs per message per SSE subscriber (`id:`) and per poll answer, so it must
// not get slower. Each figure is ours ÷ Buffer's time for the same input, measured back
// to back in samples of ~2 ms (Buffer, ours, Buffer, ours, …), reported as median
// (interquartile range) of the per-sample ratios: the ratio holds while the machine's speed drifts. See docs/BENCHMARKS.md.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, table } from './lib/stats.mjs';

const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 301;

// The code as it was (commit e848eb8), kept here as the baseline.
function bufferEncodeCursor(positions) {
  let json = '{';
  let first = true;
  for (const [channel, pos] of positions) {
    if (!first) json += ',';
    first = false;
    json += JSON.stringify(channel) + ':[' + pos.offset + ',' + JSON.stringify(pos.epoch) + ']';
  }
  json += '}';
  return Buffer.from(json, 'utf8').toString('base64url');
}
const bufferDecode = (cursor) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));

const dir = mkdtempSync(join(tmpdir(), 'sb-cursor-bench-'));
const outfile = join(dir, 'cursor.mjs');
await build({
  entryPoints: [new URL('../libs/protocol/src/cursor.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  outfile,
  logLevel: 'warning',
});
const { encodeCursor, decodeBase64Url } = await import(pathToFileURL(outfile).href);
rmSync(dir, { recursive: true, force: true });
const ourDecode = (cursor) => JSON.parse(decodeBase64Url(cursor));

const position = (i) => ({ offset: 1_000_000 + i * 7919, epoch: 'mfx1k3x9Qa1b' });
const streams = {
  '1 channel (an SSE id, a poll cursor)': [['orders:42', position(0)]],
  '5 channels': Array.from({ length: 5 }, (_, i) => [`user:alice-${i}:notifications`, position(i)]),
  '128 channels (the most a stream holds)': Array.from({ length: 128 }, (_, i) => [`repo:acme/service-${i}`, position(i)]),
  '1 channel, non-ASCII epoch (UTF-8 path)': [['orders:42', { offset: 17, epoch: 'époque-µ' }]],
};

for (const [name, p] of Object.entries(streams)) {
  if (encodeCursor(p) !== bufferEncodeCursor(p)) throw new Error(`${name}: cursors differ`);
}

/** `median (p25–p75)` of per-sample ratios: a 2 ms sample now and then lands on a preempted slice. */
function spread(values) {
  const v = [...values].sort((a, b) => a - b);
  const q = (f) => v[Math.floor(f * (v.length - 1))].toFixed(2);
  return `${median(v).toFixed(2)}× (${q(0.25)}–${q(0.75)})`;
}

/** ns per call of `fn(input)` over `n` calls; the result is consumed as a send would. */
function time(fn, input, n) {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = fn(input);
    sink += typeof s === 'string' ? s.charCodeAt(s.length >> 1) : 1;
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  return sink >= 0 ? ns : NaN;
}

/** Calls per sample so that one takes about 2 ms: short samples, back to back, see the same machine. */
function calibrate(fn, input) {
  for (let i = 0; i < 3; i++) time(fn, input, 2000); // warm up (JIT)
  return Math.max(10, Math.round(2e6 / time(fn, input, 2000)));
}

const rows = [];
for (const [name, p] of Object.entries(streams)) {
  const cursor = bufferEncodeCursor(p);
  const n = calibrate(bufferEncodeCursor, p);
  const nd = calibrate(bufferDecode, cursor);
  calibrate(encodeCursor, p);
  calibrate(ourDecode, cursor);
  const enc = [];
  const dec = [];
  const oursNs = [];
  for (let r = 0; r < reps; r++) {
    const b = time(bufferEncodeCursor, p, n);
    const o = time(encodeCursor, p, n);
    enc.push(o / b);
    oursNs.push(o);
    dec.push(time(ourDecode, cursor, nd) / time(bufferDecode, cursor, nd));
  }
  rows.push([name, `${median(oursNs).toFixed(0)} ns`, spread(enc), spread(dec)]);
}
console.log(`Node ${process.version}, ${reps} interleaved repetitions; ratio = ours ÷ Buffer (below 1: faster)\n`);
console.log(table(['cursor of', 'encode, ours', 'encode ratio', 'decode ratio'], rows));
