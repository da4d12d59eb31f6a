// The per-publish path on its own: publishes/s through `POST /v1/publish` (the real
// engine, no subscribers) against the floor of the same work done bare
// (bench/baselines/publish-floor.mjs: the store's publish script + one NATS publish per
// message, same clients), both driven by autocannon over many channels; and publishes/s
// through the publisher library (libs/publisher) against its floor, the bare JetStream
// publish it does (bench/baselines/publisher-floor.mjs), each in a child process of its own.
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loopOptions, publishLoops } from '../baselines/publisher-floor.mjs';
import { ROOT } from '../lib/harness.mjs';
import { PUBLISH_API_KEY, realEngineEnv, startBaseline, startOurs } from '../lib/targets.mjs';

/** @param o {durationMs, connections, channels} */
export async function measurePublish(side, o) {
  const env = realEngineEnv();
  const server = side === 'ours' ? await startOurs('real', env) : await startBaseline('publish', env);
  try {
    let n = 0;
    const request = {
      method: 'POST',
      path: side === 'ours' ? '/v1/publish' : '/floor',
      headers: { 'content-type': 'application/json', ...(side === 'ours' ? { authorization: `Bearer ${PUBLISH_API_KEY}` } : {}) },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ channel: `bench:p${n++ % o.channels}`, data: { n } }) }),
    };
    // Warm-up (script load, JIT), then the measured window.
    await autocannon({ url: server.url, connections: o.connections, duration: 0.5, requests: [request] });
    const before = await server.probe();
    const result = await autocannon({ url: server.url, connections: o.connections, duration: o.durationMs / 1000, requests: [request] });
    const after = await server.probe();
    const ok = result['2xx'];
    return {
      publishesPerSec: ok / (o.durationMs / 1000),
      p99Ms: result.latency.p99,
      non2xx: result.non2xx + result.errors + result.timeouts,
      cpuUsPerPublish: (after.cpuUs - before.cpuUs) / Math.max(1, ok),
    };
  } finally {
    await server.stop();
  }
}

/**
 * Publishes/s through `createPublisher(...).publish()` (the built library, libs/publisher/dist)
 * with `o.inFlight` awaited publishes in flight, or (side 'bare') the same JetStream
 * publishes done bare. Both publish into a stream of their own, made as the platform makes
 * EVENTS (file storage, 2-minute duplicate window), deleted afterwards.
 * @param o {durationMs, inFlight, channels}
 */
export async function measurePublisher(side, o) {
  const env = realEngineEnv();
  const nc = await connect({ servers: env.NATS_URL.split(',') });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: env.EVENTS_STREAM,
    subjects: [`${env.EVENTS_SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    duplicate_window: 120 * 1e9,
    max_age: 3600 * 1e9,
  });
  try {
    const file = side === 'ours' ? fileURLToPath(import.meta.url) : join(ROOT, 'bench/baselines/publisher-floor.mjs');
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/results/profiles')}`] : [];
    const child = spawn(process.execPath, ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', ...profile, file], {
      env: {
        ...process.env,
        ...env,
        BENCH_IN_FLIGHT: String(o.inFlight),
        BENCH_DURATION_MS: String(o.durationMs),
        BENCH_CHANNELS: String(o.channels),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`publisher ${side} exited with ${code}`);
    return JSON.parse(out.trim().split('\n').pop());
  } finally {
    await jsm.streams.delete(env.EVENTS_STREAM).catch(() => undefined);
    await nc.close();
  }
}

// The library side of measurePublisher, in its own process. BENCH_PUBLISHER_DIST=<another build of
// libs/publisher/dist> measures that one (the "before" of a before → after comparison).
if (import.meta.main) {
  const { createPublisher } = await import(join(process.env.BENCH_PUBLISHER_DIST ?? join(ROOT, 'libs/publisher/dist'), 'index.js'));
  const o = loopOptions();
  const publisher = await createPublisher({
    servers: process.env.NATS_URL.split(','),
    source: 'bench',
    subjectPrefix: process.env.EVENTS_SUBJECT_PREFIX,
  });
  const result = await publishLoops(
    (n) => publisher.publish({ type: 'bench.published', data: { n }, channels: [`bench:p${n % o.channels}`] }),
    o,
  );
  await publisher.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}
