// `npm run bench [-- --quick] [-- --only fanout,idle,outbound,…] [-- --reps 3]`, or `npm run bench -- --scale` (bench/scenarios/scale.mjs)
// Every figure is a ratio against a bare baseline measured in the same run, interleaved
// (baseline, ours, baseline, ours, …), reported as median (range). See docs/BENCHMARKS.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { measureIdle, measureIdleSpread, measureStorm } from './scenarios/connections.mjs';
import { measureDelivery } from './scenarios/delivery.mjs';
import { measureOutbound } from './scenarios/outbound.mjs';
import { measureEndToEnd, measureIngest } from './scenarios/webhooks.mjs';
import { measureGatewayQueries, measurePresenceQueries, measureRenewal } from './scenarios/presence.mjs';
import { runScaleCli } from './scenarios/scale.mjs';
import { measurePublish, measurePublisher } from './scenarios/publish.mjs';
import { ROOT } from './lib/harness.mjs';
import { cleanUpEngineEnvs } from './lib/targets.mjs';
import { fmt, median, ratioText, table } from './lib/stats.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const full = args.includes('--full');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined;
// `--match <text>`: only the delivery and idle rows whose label contains it (e.g. `--only fanout --match "lp ×"`, `--only idle --match "idle ws"`).
const match = args.includes('--match') ? args[args.indexOf('--match') + 1] : undefined;
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : quick ? 1 : 3;
const wants = (name) => only === undefined || only.includes(name);

/**
 * Sizes. `--quick` checks the harness end to end in well under two minutes (CI runs it);
 * the default fits in about ten minutes on 2 cores; `--full` is the whole matrix (every
 * transport through both engines at both sizes, 50,000 idle connections): ~30 minutes.
 */
const P = quick
  ? {
      fanout: { 200: { memory: ['ws', 'sio', 'sse', 'lp'], real: ['ws'] } },
      windowMs: 1500,
      latencyDeliveries: 10000,
      many: { connections: 200, channels: 40 },
      idle: [200, 1000],
      idle50k: false,
      storm: 500,
      ingestMs: 2000,
      e2e: { clients: 100, rate: 50, durationMs: 2000 },
    }
  : full
    ? {
        fanout: {
          2000: { memory: ['ws', 'sio', 'sse', 'lp'], real: ['ws', 'sio', 'sse', 'lp'] },
          10000: { memory: ['ws', 'sio', 'sse', 'lp'], real: ['ws', 'sse'] },
        },
        windowMs: 3000,
        lpWindowMs: 6000,
        latencyDeliveries: 20000,
        many: { connections: 10000, channels: 2000, windowMs: 4000 },
        idle: [2000, 10000],
        idle50k: true,
        storm: 5000,
        ingestMs: 5000,
        e2e: { clients: 1000, rate: 50, durationMs: 5000 },
      }
    : {
        fanout: { 2000: { memory: ['ws', 'sio', 'sse', 'lp'], real: ['ws'] }, 10000: { memory: ['ws'], real: [] } },
        windowMs: 2000,
        lpWindowMs: 6000,
        latencyDeliveries: 20000,
        many: { connections: 10000, channels: 2000, windowMs: 4000 },
        idle: [2000, 10000],
        idle50k: false,
        storm: 5000,
        ingestMs: 4000,
        e2e: { clients: 1000, rate: 50, durationMs: 4000 },
      };
// `--e2e-rate <webhooks/s>`: the end-to-end rows at another rate (e.g. 5: the path's latency on an unloaded machine).
if (args.includes('--e2e-rate')) {
  const rate = Number(args[args.indexOf('--e2e-rate') + 1]);
  if (!(rate > 0 && rate <= 1000)) throw new Error('--e2e-rate takes webhooks per second, 0 < rate ≤ 1000');
  P.e2e = { ...P.e2e, rate };
}

const rows = [];
const problems = [];
const started = Date.now();
const log = (...a) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s]`, ...a);

if (args.includes('--scale')) {
  // Its own run: private clusters, 100,000 connections, minutes of idle (not mixed with the ratios below).
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  process.exit((await runScaleCli(args, log)) ? 0 : 1);
}

/**
 * Runs `measure(side)` for bare and ours (or the `sides` given, bare first), interleaved
 * `reps` times. After a failed measurement only the whole repetitions before it are kept.
 */
async function compare(label, measure, sides = ['bare', 'ours']) {
  const runs = Object.fromEntries(sides.map((side) => [side, []]));
  for (let r = 0; r < reps; r++) {
    for (const side of sides) {
      log(`${label}: ${side} (${r + 1}/${reps})`);
      let result;
      try {
        result = await measure(side);
      } catch (err) {
        // One broken measurement must not lose the others: it is reported and skipped.
        problems.push(`${label} ${side}: ${err.message}`);
        return Object.fromEntries(sides.map((s) => [s, runs[s].slice(0, r)]));
      }
      log(`${label}: ${side}: ${JSON.stringify(result)}`);
      if (result.lost > 0 || result.dup > 0) problems.push(`${label} ${side}: lost ${result.lost}, duplicated ${result.dup}`);
      runs[side].push(result);
    }
  }
  return runs;
}

const ratios = (runs, key, invert = false, base = 'bare') =>
  runs.ours.map((o, i) => (invert ? runs[base][i][key] / o[key] : o[key] / runs[base][i][key]));
const med = (list, key) => median(list.map((r) => r[key]));

async function deliveryScenario(label, o) {
  if (match !== undefined && !label.includes(match)) return;
  // Latency at a fixed load well under saturation (a quarter of what one process sustains
  // here): deliveries/s fixed, so messages/s = that / subscribers per message.
  const perMessage = (o.connections * o.perConnection) / o.channels;
  const rate = Math.max(1, Math.round(P.latencyDeliveries / perMessage));
  const runs = await compare(
    label,
    (side) =>
      measureDelivery(side, { clientProcesses: 2, windowMs: P.windowMs, rate, maxOutstanding: o.connections * o.perConnection * 5, ...o }),
    o.floor === undefined ? undefined : ['bare', 'floor', 'ours'],
  );
  // `o.floor`: a second row, ours against the bare server that also stores and crosses NATS.
  for (const [base, text] of o.floor === undefined
    ? [['bare', label]]
    : [
        ['bare', label],
        ['floor', `${label} vs ${o.floor}`],
      ]) {
    rows.push([
      text,
      `${fmt(med(runs.ours, 'deliveriesPerSec'))}/s`,
      ratioText(ratios(runs, 'deliveriesPerSec', false, base)),
      ratioText(ratios(runs, 'cpuUsPerDelivery', false, base)),
      `${fmt(med(runs.ours, 'p99Ms'), 1)} ms`,
      ratioText(ratios(runs, 'p99Ms', false, base)),
      String(runs.ours.reduce((a, r) => a + r.lost + r.dup, 0)),
    ]);
  }
}

if (wants('fanout')) {
  for (const [n, engines] of Object.entries(P.fanout)) {
    for (const [engine, transports] of Object.entries(engines)) {
      for (const transport of transports) {
        const label = `fan-out ${transport} ×${fmt(Number(n))} (${engine === 'real' ? 'NATS+Redis' : 'memory'})`;
        // Long-poll over a longer window: its closed loop runs 5–12 broadcasts a second to 2,000
        // polls, and over 2 s windows its ratio moved from 0.58× to 1.08× between repetitions of one build.
        const windowMs = transport === 'lp' ? P.lpWindowMs : undefined;
        await deliveryScenario(label, {
          transport,
          engine,
          connections: Number(n),
          channels: 1,
          perConnection: 1,
          ...(windowMs ? { windowMs } : {}),
        });
      }
    }
  }
}
if ((wants('fanout') || only?.includes('sio-emit')) && P.fanout[quick ? 200 : 2000]?.memory.includes('sio')) {
  // Socket.IO against the fastest broadcast a bare socket.io server has: io.emit to everyone.
  const n = quick ? 200 : 2000;
  await deliveryScenario(`fan-out sio ×${fmt(n)} (memory) vs io.emit`, {
    transport: 'sio',
    baseline: 'sio-emit',
    engine: 'memory',
    connections: n,
    channels: 1,
    perConnection: 1,
  });
}
if (wants('pusher')) {
  // The Pusher transport (/app/<key>, events published through /v1/publish) against the bare `ws` broadcast server,
  // with /v1/ws measured in the same run (a loaded machine moves both ratios together).
  for (const n of quick ? [200] : [2000]) {
    // (--quick: the fanout rows already hold /v1/ws ×200.)
    for (const transport of quick ? ['pusher'] : ['ws', 'pusher']) {
      await deliveryScenario(`fan-out ${transport} ×${fmt(n)} (memory)`, {
        transport,
        engine: 'memory',
        connections: n,
        channels: 1,
        perConnection: 1,
      });
    }
  }
}
if (wants('many')) {
  // A longer window than the fan-out rows': a publish reaches 25 of 10,000 connections, so a window holds fewer
  // broadcasts, and 2 s of them moved the ratio by ±30 % between repetitions.
  const { connections, channels, windowMs = P.windowMs } = P.many;
  await deliveryScenario(`${fmt(connections)} ws × 5 of ${fmt(channels)} channels`, {
    transport: 'ws',
    engine: 'real',
    connections,
    channels,
    perConnection: 5,
    windowMs,
    // The same fan-out with each publish stored and crossing NATS, done bare (bench/baselines/stored-ws.mjs).
    floor: 'stored-ws',
  });
}

const connRows = [];
if (wants('idle')) {
  // Socket.IO and SSE at a fifth of the WebSocket counts: each of their connections costs the client processes more.
  for (const transport of ['ws', 'sio', 'sse']) {
    const counts = transport === 'ws' ? P.idle : P.idle.map((n) => n / 5);
    if (match !== undefined && !`idle ${transport}`.includes(match)) continue;
    const runs = await compare(`idle ${transport} memory`, (side) => measureIdle(side, { transport, counts, clientProcesses: 2 }));
    connRows.push([
      `idle ${transport}, ${fmt(counts[0])}→${fmt(counts[1])} connections`,
      `${fmt(med(runs.ours, 'bytesPerConnection') / 1024, 1)} KiB/conn (bare ${fmt(med(runs.bare, 'bytesPerConnection') / 1024, 1)})`,
      ratioText(ratios(runs, 'bytesPerConnection')),
      `${fmt(med(runs.ours, 'bytesPerConnectionAfterTraffic') / 1024, 1)} KiB/conn after traffic (bare ${fmt(med(runs.bare, 'bytesPerConnectionAfterTraffic') / 1024, 1)}): ${ratioText(ratios(runs, 'bytesPerConnectionAfterTraffic'))}`,
    ]);
  }
}
const openFileLimit = () => Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
if (wants('idle') && P.idle50k && openFileLimit() < 55_000) {
  // bench.sh raises `ulimit -n`; where even root may not (a container without CAP_SYS_RESOURCE) this cannot run.
  connRows.push([
    'idle ws, 50,000 connections (ours)',
    'not run',
    '',
    `open-file limit ${openFileLimit()} < 55,000 and could not be raised`,
  ]);
} else if (wants('idle') && P.idle50k) {
  log('idle ws: 50,000 connections on ours');
  try {
    const r = await measureIdle('ours', { counts: [10_000, 50_000], clientProcesses: 2 });
    connRows.push([
      'idle ws, 50,000 connections (ours)',
      `${fmt(r.bytesPerConnection / 1024, 1)} KiB/conn`,
      '',
      `RSS ${fmt(r.rssAtMax / 2 ** 20)} MiB, lost ${r.lost}`,
    ]);
  } catch (err) {
    problems.push(`50,000 idle connections: ${err.message}`);
  }
}
// Opt-in (`--only idle51k`, run once, ~5 minutes): 51,000 idle WebSocket connections as
// 3 gateway processes × 17,000 (one process may hold ~20,000 open files here).
if (only?.includes('idle51k')) {
  log('idle ws: 3 processes × 17,000 connections');
  try {
    const per = await measureIdleSpread({ servers: 3, perServer: 17_000, from: 2000, clientProcesses: 4, pingSeconds: 5, idleMs: 30_000 });
    for (const [i, r] of per.entries()) log(`idle51k process ${i + 1}: ${JSON.stringify(r)}`);
    connRows.push([
      'idle ws, 3 processes × 17,000 connections (ours)',
      `${fmt(median(per.map((r) => r.bytesPerConnection)) / 1024, 1)} KiB/conn (${per.map((r) => fmt(r.bytesPerConnection / 1024, 1)).join(', ')})`,
      '',
      `heartbeat (ping every 5 s): ${fmt(median(per.map((r) => r.heartbeatCpuMsPer10kPerRound)), 1)} ms CPU per ping round per 10,000 connections, ${fmt(median(per.map((r) => r.heartbeatCpuPercentPer10k)), 2)} % of a core; RSS ${per.map((r) => fmt(r.rss / 2 ** 20)).join(', ')} MiB; closed ${per[0].closed}`,
    ]);
  } catch (err) {
    problems.push(`idle 3 × 17,000: ${err.message}`);
  }
}
if (wants('storm')) {
  const runs = await compare('storm', (side) => measureStorm(side, { connections: P.storm, clientProcesses: 2 }));
  connRows.push([
    `storm: ${fmt(P.storm)} ws at once (ours with JWT)`,
    `${fmt(med(runs.ours, 'acceptedPerSec'))} accepted/s, p99 ${fmt(med(runs.ours, 'handshakeP99Ms'))} ms`,
    ratioText(ratios(runs, 'acceptedPerSec')),
    `handshake p99 ${ratioText(ratios(runs, 'handshakeP99Ms'))}`,
  ]);
}

const publishRows = [];
if (wants('publish')) {
  const o = { durationMs: P.ingestMs, connections: 32, channels: 100 };
  const runs = await compare('publish API', (side) => measurePublish(side, o));
  for (const r of runs.ours) if (r.non2xx > 0) problems.push(`publish API: ${r.non2xx} requests failed`);
  publishRows.push([
    `POST /v1/publish, ${o.connections} in flight, ${o.channels} channels (NATS+Redis)`,
    `${fmt(med(runs.ours, 'publishesPerSec'))}/s (floor ${fmt(med(runs.bare, 'publishesPerSec'))}/s), ${fmt(med(runs.ours, 'cpuUsPerPublish'))} µs CPU each (floor ${fmt(med(runs.bare, 'cpuUsPerPublish'))})`,
    ratioText(ratios(runs, 'publishesPerSec')),
    ratioText(ratios(runs, 'cpuUsPerPublish')),
    ratioText(ratios(runs, 'p99Ms')),
  ]);
}
if (wants('publish') || only?.includes('publisher')) {
  // The publisher library (libs/publisher) against the bare JetStream publish it does, same client, same in flight.
  const o = { durationMs: P.ingestMs, inFlight: 32, channels: 100 };
  const runs = await compare('publisher library', (side) => measurePublisher(side, o));
  for (const r of runs.ours) if (r.errors > 0) problems.push(`publisher library: ${r.errors} publishes failed`);
  publishRows.push([
    `publisher library → JetStream, ${o.inFlight} in flight`,
    `${fmt(med(runs.ours, 'publishesPerSec'))}/s (floor ${fmt(med(runs.bare, 'publishesPerSec'))}/s), ${fmt(med(runs.ours, 'cpuUsPerPublish'))} µs CPU each (floor ${fmt(med(runs.bare, 'cpuUsPerPublish'))})`,
    ratioText(ratios(runs, 'publishesPerSec')),
    ratioText(ratios(runs, 'cpuUsPerPublish')),
    ratioText(ratios(runs, 'p99Ms')),
  ]);
}

const hookRows = [];
if (wants('ingest')) {
  // 64 connections: enough to saturate both servers. Each of ours' requests waits ~6 ms for
  // its Redis and JetStream round trips, so at 32 (the count until 2026-12-04 17:40 UTC) ours
  // used 0.85 of a core and measured ~5,000/s, at 64 and 128 7,600–8,650/s; bare the same at all three.
  for (const provider of ['stripe', 'github']) {
    // Also against the floor of storing it once (bench/baselines/stored-ingest.mjs: the check, the dedupe lookup, one
    // awaited JetStream publish, the dedupe mark).
    const runs = await compare(`ingest ${provider}`, (side) => measureIngest(side, { provider, durationMs: P.ingestMs, connections: 64 }), [
      'bare',
      'floor',
      'ours',
    ]);
    for (const side of ['floor', 'ours'])
      for (const r of runs[side]) if (r.non2xx > 0) problems.push(`ingest ${provider} ${side}: ${r.non2xx} requests failed`);
    for (const [base, label] of [
      ['bare', `webhook ${provider} → JetStream`],
      ['floor', `webhook ${provider} → JetStream vs stored-ingest`],
    ]) {
      hookRows.push([
        label,
        `${fmt(med(runs.ours, 'requestsPerSec'))} req/s, p99 ${fmt(med(runs.ours, 'p99Ms'))} ms`,
        ratioText(ratios(runs, 'requestsPerSec', false, base)),
        ratioText(ratios(runs, 'p99Ms', false, base)),
      ]);
    }
  }
}
const e2eRows = [];
if (wants('e2e')) {
  // The single process (`npm start`: one thread does ingest, routing and fan-out), and the
  // three services as deployed (webhook-ingest, notifier, gateway in their own processes);
  // both against the same bare runs (bench/baselines/e2e-bare.mjs: verify, answer and
  // broadcast in one process), interleaved, with the same clients and load generator.
  const split = 'ours, 3 processes';
  const runs = await compare(
    'end to end',
    (side) => measureEndToEnd(side === 'bare' ? 'bare' : 'ours', { ...P.e2e, clientProcesses: 2, split: side === split }),
    ['bare', 'ours', split],
  );
  const range = (list, key) => `${fmt(Math.min(...list.map((r) => r[key])), 1)}–${fmt(Math.max(...list.map((r) => r[key])), 1)}`;
  for (const [label, ours] of [
    [`end to end: webhook → ${fmt(P.e2e.clients)} clients (½ WS, ½ SSE) at ${P.e2e.rate}/s, one process`, runs.ours],
    [
      `end to end (3 processes): webhook → ${fmt(P.e2e.clients)} clients (½ WS, ½ SSE) at ${P.e2e.rate}/s, ingest, notifier, gateway apart`,
      runs[split],
    ],
  ]) {
    const pair = { bare: runs.bare, ours };
    e2eRows.push([
      label,
      `p50 ${fmt(med(ours, 'p50Ms'), 1)} ms, p99 ${fmt(med(ours, 'p99Ms'), 1)} ms (${range(ours, 'p99Ms')})`,
      `p50 ${fmt(med(runs.bare, 'p50Ms'), 1)} ms, p99 ${fmt(med(runs.bare, 'p99Ms'), 1)} ms (${range(runs.bare, 'p99Ms')})`,
      ratioText(ratios(pair, 'p99Ms')),
      `${fmt(med(ours, 'cpuUsPerEvent'))} µs (bare ${fmt(med(runs.bare, 'cpuUsPerEvent'))}): ${ratioText(ratios(pair, 'cpuUsPerEvent'))}`,
      String(ours.reduce((a, r) => a + r.lost + r.dup, 0)),
    ]);
  }
}

// Presence: run on request (`--only presence`; `--only presence-gateway` for the 3-gateway queries alone).
const presenceRows = [];
const gatewayPresenceRows = [];
const renewalRows = [];
if (only?.includes('presence') || only?.includes('presence-gateway')) {
  try {
    log('presence queries through 3 gateways');
    gatewayPresenceRows.push(
      ...(await measureGatewayQueries(
        quick
          ? { members: 300, clientProcesses: 1, concurrency: [1], queries: 200 }
          : { members: 10_000, clientProcesses: 2, concurrency: [1, 16], queries: 2000 },
      )),
    );
  } catch (err) {
    problems.push(`presence through gateways: ${err.message}`);
  }
}
if (only?.includes('presence')) {
  try {
    log('presence queries');
    presenceRows.push(
      ...(await measurePresenceQueries(
        quick
          ? { members: [1000], concurrency: [1], queries: 500, listLimit: 1000 }
          : { members: [1000, 10_000], concurrency: [1, 16], queries: 4000, listLimit: 1000 },
      )),
    );
    log('presence lease renewal');
    renewalRows.push(
      ...(await measureRenewal(
        quick
          ? { cases: [[1, 1000]], ttlSeconds: 12, windowMs: 4000 }
          : {
              cases: [
                [1, 1000],
                [1, 10_000],
                [1, 50_000],
                [2, 10_000],
                [4, 10_000],
              ],
              ttlSeconds: 12,
              windowMs: 12_000,
            },
      )),
    );
  } catch (err) {
    problems.push(`presence: ${err.message}`);
  }
}

const outboundRows = [];
if (wants('outbound')) {
  // Deliveries to one endpoint at OUTBOUND_CONCURRENCY 10, vs a bare fetch loop at 10: to a
  // receiver that answers at once (the sender's overhead laid bare) and after 20 ms (a receiver doing work).
  const events = quick ? 500 : full ? 10_000 : 3000;
  for (const delayMs of [0, 20]) {
    const runs = await compare(`outbound, receiver ${delayMs} ms`, (side) => measureOutbound(side, { events, concurrency: 10, delayMs }));
    outboundRows.push([
      `${fmt(events)} events → 1 endpoint, 10 in flight, receiver answers in ${delayMs} ms`,
      `${fmt(med(runs.ours, 'deliveriesPerSec'))}/s (bare ${fmt(med(runs.bare, 'deliveriesPerSec'))}/s)`,
      ratioText(ratios(runs, 'deliveriesPerSec')),
      ratioText(ratios(runs, 'cpuUsPerDelivery')),
      String(runs.ours.reduce((a, r) => a + r.lost + r.dup, 0)),
    ]);
  }
}

await cleanUpEngineEnvs();

const out = [
  `Switchboard bench${quick ? ' --quick' : full ? ' --full' : ''}: ${reps} interleaved repetition(s), ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ${fmt(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${((Date.now() - started) / 60000).toFixed(1)} min`,
  '',
];
if (rows.length > 0) {
  out.push(
    table(
      [
        'delivery',
        'ours',
        'deliveries/s vs bare',
        'server CPU/delivery vs bare',
        `ours p99 @ ${fmt(P.latencyDeliveries)}/s`,
        'p99 vs bare',
        'lost+dup',
      ],
      rows,
    ),
    '',
  );
}
if (connRows.length > 0) out.push(table(['connections', 'ours', 'ratio vs its bare server', 'notes'], connRows), '');
if (publishRows.length > 0)
  out.push(
    table(
      ['publish path', 'ours', 'publishes/s vs floor', 'CPU/publish vs floor (server; the library: its process)', 'p99 vs floor'],
      publishRows,
    ),
    '',
  );
if (hookRows.length > 0)
  out.push(
    table(['webhooks', 'ours', 'throughput vs bare verify (or the floor named)', 'p99 vs bare verify (or the floor named)'], hookRows),
    '',
  );
if (e2eRows.length > 0) {
  const cpu = 'server CPU/webhook vs bare (ours: its processes, not NATS/Redis)';
  out.push(table(['end to end', 'ours p50, p99 (p99 range)', 'bare p50, p99 (p99 range)', 'p99 vs bare', cpu, 'lost+dup'], e2eRows), '');
}
if (gatewayPresenceRows.length > 0) {
  out.push(
    table(['presence query (GET /v1/presence, 3 gateways)', 'count', 'capped list (1,000 members)', 'notes'], gatewayPresenceRows),
    '',
  );
}
if (presenceRows.length > 0) out.push(table(['presence query (Redis store)', 'count', 'list of ≤1,000 members'], presenceRows), '');
if (renewalRows.length > 0) {
  out.push(
    table(
      [
        'lease renewal, idle',
        'round trips / heartbeat / gateway',
        'server commands / heartbeat',
        'server commands/s (TTL 12 s)',
        'commands/s at PRESENCE_TTL_SECONDS=30',
      ],
      renewalRows,
    ),
    '',
  );
}
if (outboundRows.length > 0) {
  out.push(table(['outbound webhooks', 'ours', 'deliveries/s vs bare fetch', 'sender CPU/delivery vs bare', 'lost+dup'], outboundRows), '');
}
out.push(problems.length === 0 ? 'No message lost or duplicated.' : `PROBLEMS:\n- ${problems.join('\n- ')}`);
const text = out.join('\n');
console.log(text);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench/results', `${quick ? 'quick' : full ? 'full' : 'default'}-${new Date().toISOString().replace(/[:.]/g, '-')}.md`),
  text + '\n',
);
process.exit(problems.length === 0 ? 0 : 1);
