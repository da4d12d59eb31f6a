// The per-publish path on its own: publishes/s through `POST /v1/publish` (the real
// engine, no subscribers) against the floor of the same work done bare
// (bench/baselines/publish-floor.mjs: the store's publish script + one NATS publish per
// message, same clients), both driven by autocannon over many channels.
import autocannon from 'autocannon';
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
