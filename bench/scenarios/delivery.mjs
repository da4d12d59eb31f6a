// Fan-out and many-channels: N connections of one transport, each subscribed to its
// channels; one measurement = saturating window (flow-controlled so nobody falls behind)
// then a fixed-rate window for latency, then a check that every message arrived once.
import { setTimeout as sleep } from 'node:timers/promises';
import { Clients, now, Publisher, systemCpu } from '../lib/harness.mjs';
import { PUBLISH_API_KEY, realEngineEnv, startBaseline, startOurs, token } from '../lib/targets.mjs';

const PUSHER_BENCH_KEY = 'bench-key';
const PUSHER_BENCH_APPS = JSON.stringify([{ id: 'bench', key: PUSHER_BENCH_KEY, secret: 'bench-secret-0123456789' }]);

/**
 * @param side 'bare' | 'ours' | 'floor' (`o.floor`, a bare server on the real NATS and Redis)
 * @param o {transport, engine, connections, channels (count), perConnection, windowMs, rate (msg/s), clientProcesses,
 *   baseline (the bare server, when not the transport's own: 'sio-emit'), floor ('stored-ws')}
 */
export async function measureDelivery(side, o) {
  // Pusher clients are measured against the same bare `ws` broadcast server as /v1/ws.
  const pusher = o.transport === 'pusher';
  const server =
    side === 'ours'
      ? await startOurs(o.engine, pusher ? { PUSHER_APPS: PUSHER_BENCH_APPS } : {})
      : side === 'floor'
        ? await startBaseline(o.floor, realEngineEnv())
        : await startBaseline(o.baseline ?? (pusher ? 'ws' : o.transport));
  const clients = await Clients.start(o.clientProcesses);
  try {
    const names = Array.from({ length: o.channels }, (_, i) => `bench:c${i}`);
    const subscriptions = Array.from({ length: o.connections }, (_, i) =>
      Array.from({ length: o.perConnection }, (_, k) => names[(i * o.perConnection + k) % names.length]),
    );
    const subscribers = new Map(names.map((n) => [n, 0]));
    for (const list of subscriptions) for (const c of list) subscribers.set(c, subscribers.get(c) + 1);
    const transport = pusher && side === 'bare' ? 'ws' : o.transport;
    const opened = await clients.open(
      { mode: side === 'ours' ? 'ours' : 'bare', transport, base: server.url, token: await token(), pusherKey: PUSHER_BENCH_KEY },
      subscriptions,
    );
    if (opened.failed > 0) throw new Error(`${opened.failed} of ${o.connections} ${o.transport} connections failed: ${opened.firstError}`);

    const publisher = new Publisher(server.url, side === 'ours' ? PUBLISH_API_KEY : undefined);
    let expected = 0;
    let counted = { received: 0 };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        counted = await clients.count();
        await sleep(10);
      }
    })();
    // One publish in flight per channel keeps each channel's order; `inflight` channels at once.
    const inflight = Math.min(8, names.length);
    let next = 0;
    const busy = new Set();
    const publishLoop = async (until, pace, atLeast = 0) => {
      const lanes = Array.from({ length: inflight }, async (_, lane) => {
        let sent = 0;
        while (now() < until || next < atLeast) {
          if (pace !== undefined) {
            const due = pace.start + ((sent * inflight + lane) * 1000) / pace.rate;
            if (due > now()) await sleep(due - now());
            if (now() >= until) break;
          } else if (expected - counted.received > o.maxOutstanding) {
            await sleep(1);
            continue;
          }
          let channel;
          do channel = names[next++ % names.length];
          while (busy.has(channel));
          busy.add(channel);
          expected += subscribers.get(channel);
          sent++;
          try {
            await publisher.publish(channel);
          } finally {
            busy.delete(channel);
          }
        }
      });
      await Promise.all(lanes);
    };

    // Warm-up, at least one publish on every channel (a channel's first stored publish creates
    // its history in Redis, once in the channel's life), then the saturating window.
    await publishLoop(now() + Math.min(500, o.windowMs / 2), undefined, names.length);
    await drain(clients, () => expected);
    const before = await server.probe();
    const systemBefore = systemCpu();
    const countedBefore = await clients.count();
    const receivedBefore = countedBefore.received;
    const t0 = now();
    await publishLoop(t0 + o.windowMs);
    await drain(clients, () => expected);
    const elapsed = (now() - t0) / 1000;
    const systemAfter = systemCpu();
    const after = await server.probe();
    const countedAfter = await clients.count();
    const delivered = countedAfter.received - receivedBefore;
    // Long-poll: how many messages each answer carried in the saturating window (a server that
    // answers sooner leaves more messages waiting for each re-poll; see docs/BENCHMARKS.md).
    const answers = countedAfter.answers - countedBefore.answers;

    // Fixed rate: latency.
    await clients.reset();
    const start = now();
    await publishLoop(start + o.windowMs, { start, rate: o.rate });
    await drain(clients, () => expected);
    polling = false;
    await poller;
    const report = await clients.report();
    return {
      deliveriesPerSec: delivered / elapsed,
      cpuUsPerDelivery: (after.cpuUs - before.cpuUs) / delivered,
      probeGcUsPerDelivery: (after.forcedGcCpuUs - before.forcedGcCpuUs) / delivered,
      // The server's own GC pauses in the window (part of its CPU): what its allocations and live objects cost.
      gcPauseUsPerDelivery: ((after.gcPauseMs - before.gcPauseMs) * 1000) / delivered,
      // NATS and Redis (ours with the real engine) and the whole machine, per delivery: a saturated
      // machine's deliveries/s follow the machine's CPU per delivery, not the server's alone.
      servicesCpuUsPerDelivery: (systemAfter.servicesUs - systemBefore.servicesUs) / delivered,
      machineCpuUsPerDelivery: (systemAfter.machineUs - systemBefore.machineUs) / delivered,
      p50Ms: report.p50Ms,
      p99Ms: report.p99Ms,
      lost: report.lost + Math.max(0, expected - report.received),
      dup: report.dup,
      closed: report.closed,
      published: publisher.published,
      ...(answers > 0 ? { messagesPerAnswer: Number((delivered / answers).toFixed(2)) } : {}),
    };
  } finally {
    await clients.close();
    await server.stop();
  }
}

/** Waits (bounded) until the clients hold every delivery published so far. */
async function drain(clients, expected, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const c = await clients.count();
    if (c.received >= expected()) return;
    await sleep(20);
  }
}
