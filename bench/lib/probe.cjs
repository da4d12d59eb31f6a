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
  // The main thread's share (JS and the event loop): the rest is GC helpers, the libuv pool, V8 compilers.
  const main = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : undefined;
  const mem = process.memoryUsage();
  process.stdout.write(
    `__PROBE__ ${JSON.stringify({ cpuUs: cpu.user + cpu.system, mainCpuUs: main && main.user + main.system, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, at: Date.now() })}\n`,
  );
});
