// The floor of a publish through the publisher library (libs/publisher): what its
// `publish()` must do at the least, done bare with the same client — one JetStream publish
// per event (nats.js `jetstream().publish` with `msgID`, awaited for its ack) of a
// CloudEvent of the same shape and size, with the same number in flight. No validation,
// no receipt. Run as a child process by bench/scenarios/publish.mjs (`measurePublisher`),
// which reads the one JSON line it prints; `publishLoops` is shared with the library side.
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';

/**
 * Runs `inFlight` loops of `publishOne(n)` for a warm-up and then `durationMs`; the
 * measured window's completed publishes, failures, p99 latency and this process's CPU.
 */
export async function publishLoops(publishOne, { inFlight, durationMs, warmupMs = 500 }) {
  let n = 0;
  let measuring = false;
  let stop = false;
  let count = 0;
  let errors = 0;
  const latencies = [];
  const loop = async () => {
    while (!stop) {
      const started = performance.now();
      try {
        await publishOne(n++);
        if (measuring) {
          count++;
          latencies.push(performance.now() - started);
        }
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  measuring = true;
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  measuring = false;
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  return {
    publishesPerSec: count / (wallMs / 1000),
    p99Ms: latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
    errors,
    cpuUsPerPublish: (cpu.user + cpu.system) / Math.max(1, count),
  };
}

/** The options both sides read from their environment. */
export function loopOptions(env = process.env) {
  return { inFlight: Number(env.BENCH_IN_FLIGHT), durationMs: Number(env.BENCH_DURATION_MS), channels: Number(env.BENCH_CHANNELS) };
}

if (import.meta.main) {
  const o = loopOptions();
  const nc = await connect({ servers: process.env.NATS_URL.split(','), noAsyncTraces: true });
  const js = jetstream(nc, { timeout: 5000 });
  const subject = `${process.env.EVENTS_SUBJECT_PREFIX}.bench.published`;
  const result = await publishLoops(async (n) => {
    const id = randomUUID();
    const event = {
      specversion: '1.0',
      id,
      source: 'bench',
      type: 'bench.published',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: { n },
      channels: `bench:p${n % o.channels}`,
    };
    await js.publish(subject, JSON.stringify(event), { msgID: id });
  }, o);
  await nc.drain();
  process.stdout.write(JSON.stringify(result) + '\n');
}
