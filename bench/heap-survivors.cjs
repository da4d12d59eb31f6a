// Preload: as heap-sample.cjs, but the profile leaves out what a scavenge collected: what
// survived the young generation (copied, then promoted), whether a full GC collected it
// later or not, by the function that allocated it. What makes scavenges slow and the old
// generation grow. Writes bench/results/heap/<pid>.survivors.heapprofile.
//
//   BENCH_PROFILE=1 BENCH_NODE_ARGS="--require ./bench/heap-survivors.cjs" node bench/run.mjs --only fanout --match "lp ×2,000 (memory)" --reps 1
globalThis.heapSampleSurvivors = true;
require('./heap-sample.cjs');
