// Webhook ingest (signed Stripe and GitHub requests, verified and stored on JetStream,
// vs the bare HMAC-verify endpoint) and end to end (webhook → notifier → gateway →
// WebSocket and SSE clients on the real engine, vs the bare verify-and-broadcast server).
import autocannon from 'autocannon';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clients, now, ROOT, ServerProcess, systemCpu } from '../lib/harness.mjs';
import { built, JWT_SECRET, PUBLISH_API_KEY, realEngineEnv, startBaseline, startOurs, token } from '../lib/targets.mjs';

const STRIPE_SECRET = 'whsec_bench_signing_secret';
const GITHUB_SECRET = 'bench-github-secret';

function sources() {
  return JSON.stringify([
    { name: 'stripe', provider: 'stripe', secrets: [STRIPE_SECRET], rateLimit: false },
    { name: 'gh', provider: 'github', secrets: [GITHUB_SECRET], rateLimit: false },
  ]);
}

/** A signed request of `provider`, unique id, body carrying `data`. */
export function signedRequest(provider, data = {}) {
  const id = randomUUID();
  if (provider === 'stripe') {
    const body = JSON.stringify({
      id: `evt_${id}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'pi_1', amount: 100, ...data } },
    });
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex');
    return { path: '/v1/webhooks/stripe', body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1}` } };
  }
  const body = JSON.stringify({ ref: 'refs/heads/main', after: id, repository: { full_name: 'acme/app' }, ...data });
  const secret = GITHUB_SECRET;
  return {
    path: '/v1/webhooks/gh',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': id,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
  };
}

/**
 * The load generator is one address sending only signed requests: the per-address budget for
 * unverified requests (WEBHOOK_UNVERIFIED_RATE, which refunds verified ones only after they
 * verify) would throttle its concurrency, which is that budget's job, not what is measured here.
 */
const ONE_SENDER = { WEBHOOK_UNVERIFIED_RATE: '0' };

/** Load before the measured window of the ingest rows (see measureIngest). */
const WARM_UP_MS = 1000;

/**
 * @param side 'bare' (the HMAC check alone) | 'floor' (the check and an awaited JetStream publish: stored-ingest.mjs) | 'ours'
 * @param o {provider, durationMs, connections}
 */
export async function measureIngest(side, o) {
  const secret = { WEBHOOK_SECRET: o.provider === 'stripe' ? STRIPE_SECRET : GITHUB_SECRET };
  const server =
    side === 'ours'
      ? await ServerProcess.start(
          'webhook-ingest',
          built('webhook-ingest'),
          { ...realEngineEnv(), ...ONE_SENDER, WEBHOOK_SOURCES: sources() },
          '/readyz',
        )
      : side === 'floor'
        ? await startBaseline('stored-ingest', { ...realEngineEnv(), ...secret }, [
            '--experimental-transform-types',
            '--disable-warning=ExperimentalWarning',
          ])
        : await startBaseline('hmac', secret);
  const load = (durationMs) =>
    autocannon({
      url: server.url,
      connections: o.connections,
      duration: durationMs / 1000,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const r = signedRequest(o.provider);
            return { ...req, path: r.path, headers: r.headers, body: r.body };
          },
        },
      ],
    });
  try {
    // Steady state, on both sides: a second of the same load first, so V8 has compiled the
    // request path before the window (a fresh process spends its first seconds in the
    // optimizing compiler, and ours has more code on the path than the bare server).
    await load(WARM_UP_MS);
    const before = await server.probe();
    const [systemBefore, loaderBefore] = [systemCpu(), process.cpuUsage()];
    const result = await load(o.durationMs);
    const [systemAfter, loader] = [systemCpu(), process.cpuUsage(loaderBefore)];
    const after = await server.probe();
    const ok = Math.max(1, result['2xx']);
    return {
      requestsPerSec: result['2xx'] / (o.durationMs / 1000),
      p99Ms: result.latency.p99,
      non2xx: result.non2xx + result.errors + result.timeouts,
      cpuUsPerRequest: (after.cpuUs - before.cpuUs) / ok,
      // The rest of the 2 cores' work per answered request: NATS (JetStream's store) and Redis
      // for ours, the load generator (autocannon, in this process) for both, the whole machine.
      servicesCpuUsPerRequest: (systemAfter.servicesUs - systemBefore.servicesUs) / ok,
      loaderCpuUsPerRequest: (loader.user + loader.system) / ok,
      machineCpuUsPerRequest: (systemAfter.machineUs - systemBefore.machineUs) / ok,
    };
  } finally {
    await server.stop();
  }
}

/**
 * @param side 'bare' (e2e-bare.mjs: verify, answer, broadcast in one process) | 'ours'
 * @param o {clients (half WS, half SSE), rate (webhooks/s), durationMs, clientProcesses, split}
 * @returns latency percentiles over the fixed-rate window, the server's CPU per webhook in it
 *   (µs; ours: its processes summed, NATS and Redis apart), NATS+Redis's and the whole
 *   machine's CPU per webhook, lost and duplicated deliveries
 */
export async function measureEndToEnd(side, o) {
  const channel = 'bench:e2e';
  const processes =
    side === 'ours'
      ? await startOursEndToEnd(channel, o.split)
      : [await startBaseline('e2e', { WEBHOOK_SECRET: GITHUB_SECRET, CHANNEL: channel })];
  const server = { url: processes.at(-1).url, stop: () => Promise.all(processes.map((p) => p.stop())) };
  const ingestUrl = processes[0].url;
  const clients = await Clients.start(o.clientProcesses);
  try {
    const half = Math.floor(o.clients / 2);
    const base = { mode: side, base: server.url, token: await token(), unordered: true };
    for (const transport of ['ws', 'sse']) {
      const opened = await clients.open(
        { ...base, transport },
        Array.from({ length: transport === 'ws' ? half : o.clients - half }, () => [channel]),
      );
      if (opened.failed > 0) throw new Error(`e2e: ${opened.failed} ${transport} connections failed: ${opened.firstError}`);
    }
    let s = 0;
    const send = async () => {
      const r = signedRequest('github', { s: ++s, t: now() });
      const res = await fetch(ingestUrl + r.path, { method: 'POST', headers: r.headers, body: r.body });
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    };
    // Warm-up, then measure.
    for (let i = 0; i < 20; i++) await send();
    await sleep(1000);
    // Server CPU over the window, all of ours' processes (not NATS's or Redis's) or the bare one.
    const cpu = async () => (await Promise.all(processes.map((p) => p.probe()))).reduce((a, r) => a + r.cpuUs, 0);
    const cpuBefore = await cpu();
    const systemBefore = systemCpu();
    const warm = s;
    await clients.reset();
    // At a fixed rate, each webhook on its own request: concurrent requests reach the
    // stream in any order, so clients check for repeats and the totals for losses.
    const start = now();
    const pending = [];
    for (let k = 0; now() < start + o.durationMs; k++) {
      const due = start + (k * 1000) / o.rate;
      if (due > now()) await sleep(due - now());
      pending.push(send());
    }
    await Promise.all(pending);
    const expected = s * o.clients;
    const deadline = Date.now() + 30_000;
    while ((await clients.count()).received < expected && Date.now() < deadline) await sleep(50);
    const systemAfter = systemCpu();
    const events = s - warm;
    const cpuUsPerEvent = ((await cpu()) - cpuBefore) / events;
    const report = await clients.report();
    return {
      p50Ms: report.p50Ms,
      p99Ms: report.p99Ms,
      cpuUsPerEvent,
      // NATS and Redis (ours only) and the whole machine (servers, clients, load generator,
      // everyone else's work) per webhook: how much of the 2 cores one webhook's fan-out takes.
      servicesCpuUsPerEvent: (systemAfter.servicesUs - systemBefore.servicesUs) / events,
      machineCpuUsPerEvent: (systemAfter.machineUs - systemBefore.machineUs) / events,
      events: s,
      lost: expected - report.received + report.lost,
      dup: report.dup,
    };
  } finally {
    await clients.close();
    await server.stop();
  }
}

/**
 * Ours with GitHub push events routed to `channel`. `split`: webhook-ingest, the notifier and
 * the gateway as three processes, as deployed; otherwise the single process (`npm start`),
 * where one thread does all three's work. Webhooks go to the first, clients to the last.
 */
async function startOursEndToEnd(channel, split) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, `routes:\n  - match: { type: 'github.push' }\n    channels: ['${channel}']\n`);
  const settings = { ...ONE_SENDER, WEBHOOK_SOURCES: sources(), ROUTES_CONFIG: routes };
  return split ? startDeployed(settings) : [await startOurs('real', settings)];
}

/** webhook-ingest, the notifier and the gateway, each its own process on one isolated engine environment (gateway last). */
async function startDeployed(settings) {
  const env = { ...realEngineEnv(), JWT_SECRET, PUBLISH_API_KEY, MAX_CONNECTIONS: '200000', ...settings };
  const started = [];
  try {
    for (const app of ['webhook-ingest', 'notifier', 'gateway']) started.push(await ServerProcess.start(app, built(app), env, '/readyz'));
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
  return started;
}
