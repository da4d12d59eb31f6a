// Server CPU per delivery of one broadcast at a time: publish one message, wait until every
// client has it, repeat. Unlike the saturating fan-out rows it isolates the per-recipient
// path (one message per frame or poll), and it stays comparable on a loaded machine, so it
// is how before → after of a delivery change is measured (docs/BENCHMARKS.md "What changed").
//
//   node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON bench/broadcast-cpu.mjs <ws|sse|lp|sio|pusher> <clients> <broadcasts> <sides>
//
// <sides>: a comma-separated order of `bare`, `ours` and `base` (ours built into
// BENCH_BASE_DIST, e.g. main's dist for a before → after), e.g. `bare,base,ours,bare,base,ours`.
// ENGINE=real runs ours on NATS+Redis (default: the memory engine); BASELINE=sio-emit picks
// the bare socket.io server that uses io.emit.
import { setTimeout as sleep } from 'node:timers/promises';
import { Clients, now, Publisher } from './lib/harness.mjs';
import { cleanUpEngineEnvs, PUBLISH_API_KEY, startBaseline, startOurs, token } from './lib/targets.mjs';

const [transport, n, k, sides] = process.argv.slice(2);
if (sides === undefined) {
  console.error('usage: broadcast-cpu.mjs <ws|sse|lp|sio|pusher> <clients> <broadcasts> <bare,ours,base,…>');
  process.exit(2);
}
const clientsN = Number(n);
const broadcasts = Number(k);
const pusher = transport === 'pusher';
const PUSHER_APP = { id: 'bench', key: 'bench-key', secret: 'bench-secret-0123456789' };

for (const side of sides.split(',')) {
  if (side === 'base') {
    if (process.env.BENCH_BASE_DIST === undefined) throw new Error('side "base" needs BENCH_BASE_DIST (another build of ours)');
    process.env.BENCH_DIST = process.env.BENCH_BASE_DIST;
  } else delete process.env.BENCH_DIST;
  const mode = side === 'bare' ? 'bare' : 'ours';
  const server =
    mode === 'ours'
      ? await startOurs(process.env.ENGINE ?? 'memory', pusher ? { PUSHER_APPS: JSON.stringify([PUSHER_APP]) } : {})
      : await startBaseline(process.env.BASELINE ?? (pusher ? 'ws' : transport));
  const clients = await Clients.start(2);
  try {
    const opened = await clients.open(
      { mode, transport: pusher && mode === 'bare' ? 'ws' : transport, base: server.url, token: await token(), pusherKey: PUSHER_APP.key },
      Array.from({ length: clientsN }, () => ['bench:c0']),
    );
    if (opened.failed) throw new Error(`${opened.failed} clients failed: ${opened.firstError}`);
    const publisher = new Publisher(server.url, mode === 'ours' ? PUBLISH_API_KEY : undefined);
    let expected = 0;
    // A broadcast that never completes (a lost message, a stuck client) fails the run after 10 s instead of hanging it.
    const broadcast = async () => {
      await publisher.publish('bench:c0');
      expected += clientsN;
      const deadline = now() + 10_000;
      for (let counted; (counted = (await clients.count()).received) < expected; await sleep(2)) {
        if (now() > deadline) throw new Error(`${side}: ${expected - counted} of ${clientsN} deliveries missing after 10 s`);
      }
    };
    for (let i = 0; i < 5; i++) await broadcast(); // warm-up
    const before = await server.probe();
    const received0 = (await clients.count()).received;
    const t0 = now();
    for (let i = 0; i < broadcasts; i++) await broadcast();
    const t1 = now();
    const after = await server.probe();
    const delivered = (await clients.count()).received - received0;
    console.log(
      `${side} ${transport} ×${clientsN}: ${((after.cpuUs - before.cpuUs) / delivered).toFixed(2)} µs server CPU per delivery (main thread ${((after.mainCpuUs - before.mainCpuUs) / delivered).toFixed(2)}), ${((t1 - t0) / broadcasts).toFixed(1)} ms per broadcast`,
    );
  } finally {
    await clients.close();
    await server.stop();
  }
}
await cleanUpEngineEnvs();
process.exit(0);
