// Preloaded into every server under test (`node --expose-gc --require bench/lib/probe.cjs …`),
// ours and the baselines alike: on SIGUSR2 it collects garbage (twice, so finalizers run)
// and prints one line the bench reads: CPU time used so far and memory after GC.
//
// The CPU it reports leaves out its own collections: a full GC of a heap holding 10,000
// connections costs 100–250 ms, which is the probe's doing, not the workload's, and would
// otherwise land in whichever window the probe ends (the collections the workload's own
// garbage triggers stay in).
'use strict';
const mainCpu = () => {
  if (typeof process.threadCpuUsage !== 'function') return undefined;
  const t = process.threadCpuUsage();
  return t.user + t.system;
};
const totalCpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
let forced = 0;
let forcedMain = 0;
// The workload's own GC pauses (main thread, ms), the probe's forced collections left out.
const { PerformanceObserver, constants } = require('node:perf_hooks');
let gcPauseMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) gcPauseMs += e.duration;
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') {
    const [cpu0, main0] = [totalCpu(), mainCpu()];
    global.gc();
    global.gc();
    forced += totalCpu() - cpu0;
    if (main0 !== undefined) forcedMain += mainCpu() - main0;
  }
  const cpuUs = totalCpu() - forced;
  // The main thread's share (JS and the event loop): the rest is GC helpers, the libuv pool, V8 compilers.
  const main = mainCpu();
  const mem = process.memoryUsage();
  // Committed memory of each V8 heap space: what the heap holds in RSS beyond `heapUsed`.
  const spaces = {};
  for (const s of require('node:v8').getHeapSpaceStatistics()) spaces[s.space_name] = s.physical_space_size;
  process.stdout.write(
    `__PROBE__ ${JSON.stringify({ cpuUs, mainCpuUs: main && main - forcedMain, forcedGcCpuUs: forced, gcPauseMs, rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers, spaces, at: Date.now() })}\n`,
  );
});
