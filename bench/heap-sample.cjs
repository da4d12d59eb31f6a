// Preload for a server under test: samples every allocation, those already collected
// included, over the measured window — from the harness's first probe (SIGUSR2, just
// before the window) to its next one (just after) — and writes
// bench/results/heap/<pid>.heapprofile, which `bench/heap-summary.mjs` reads. For
// allocation work (what a poll or a delivery allocates), where a CPU profile shows only
// the garbage collector's share:
//
//   BENCH_PROFILE=1 BENCH_NODE_ARGS="--require ./bench/heap-sample.cjs" node bench/broadcast-cpu.mjs lp 2000 40 ours
//
// (BENCH_PROFILE=1: the harness lets the server exit by itself, so the write is not cut short.)
const inspector = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

// bench/heap-live.cjs: only what is still live when the window ends, after a full GC (the
// harness runs servers with --expose-gc). bench/heap-survivors.cjs: what no scavenge
// collected (the young generation's survivors, copied and promoted, dead later or not).
const live = globalThis.heapSampleLive === true;
const survivors = globalThis.heapSampleSurvivors === true;
const session = new inspector.Session();
session.connect();
let probes = 0;
process.on('SIGUSR2', () => {
  probes++;
  if (probes === 1) {
    session.post('HeapProfiler.enable');
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 2048,
      includeObjectsCollectedByMajorGC: !live,
      includeObjectsCollectedByMinorGC: !live && !survivors,
    });
  } else if (probes === 2) {
    if (live) global.gc();
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err) throw err;
      const dir = join(__dirname, 'results', 'heap');
      mkdirSync(dir, { recursive: true });
      const suffix = live ? '.live' : survivors ? '.survivors' : '';
      writeFileSync(join(dir, `${process.pid}${suffix}.heapprofile`), JSON.stringify(result.profile));
    });
  }
});
