// Preloaded into every server under test (`node --expose-gc --require bench/lib/probe.cjs …`),
// ours and the baselines alike: on SIGUSR2 it collects garbage (twice, so finalizers run)
// and prints one line the bench reads: CPU time used so far and memory after GC.
'use strict';
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  process.stdout.write(
    `__PROBE__ ${JSON.stringify({ cpuUs: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, at: Date.now() })}\n`,
  );
});
