// Preload: as heap-sample.cjs, but the profile holds only the objects still live at the end
// of the measured window, after a full GC: what the held polls or open connections
// keep (the young generation's survivors, which each scavenge copies), by the function that
// allocated them. Writes bench/results/heap/<pid>.live.heapprofile.
//
//   BENCH_PROFILE=1 BENCH_NODE_ARGS="--require ./bench/heap-live.cjs" bash bench/bench.sh --only fanout --match "lp ×" --reps 1
globalThis.heapSampleLive = true;
require('./heap-sample.cjs');
