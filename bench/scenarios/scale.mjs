// `npm run bench -- --scale [--connections 100000] [--gateways 6] [--hold-seconds 300] [--broadcasts 5]`
// 6 gateway processes on a private 3-node NATS JetStream cluster and a 3+3 Redis Cluster hold
// 100,000 idle WebSocket connections (open files are capped at 20,000 per process here, so
// gateways and clients are several processes, one client process per gateway), then a
// notifier broadcasts to one channel every connection holds. Reports memory per connection,
// heartbeat CPU while idle, deliveries/s of the broadcast and publish→deliver p50/p99.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Clients, freePort, Publisher, ROOT, ServerProcess } from '../lib/harness.mjs';
import { JWT_SECRET, PUBLISH_API_KEY, token } from '../lib/targets.mjs';

const run = promisify(execFile);

/** Private server processes this run started (killed by pid at the end). */
const owned = [];

function startProcess(bin, args) {
  const child = spawn(bin, args, { stdio: 'ignore' });
  owned.push(child);
  return child;
}

async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function natsCluster(dirs) {
  const ports = await Promise.all(Array.from({ length: 9 }, () => freePort()));
  const [client, routes, monitor] = [ports.slice(0, 3), ports.slice(3, 6), ports.slice(6)];
  const routeList = routes.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'sb-scale-nats-'));
    dirs.push(dir);
    startProcess('/usr/sbin/nats-server', [
      '-a',
      '127.0.0.1',
      '-p',
      String(client[i]),
      '-js',
      '-sd',
      dir,
      '-n',
      `n${i}`,
      '-m',
      String(monitor[i]),
      '--cluster_name',
      `sbscale${client[0]}`,
      '--cluster',
      `nats://127.0.0.1:${routes[i]}`,
      '--routes',
      routeList,
    ]);
  }
  await until('NATS cluster elects a metadata leader', 30_000, async () => {
    const leaders = await Promise.all(
      monitor.map(async (p) => (await (await fetch(`http://127.0.0.1:${p}/jsz`)).json()).meta_cluster?.leader),
    );
    return leaders[0] && leaders.every((l) => l === leaders[0]);
  });
  return client.map((p) => `nats://127.0.0.1:${p}`).join(',');
}

async function redisCluster(dirs) {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  for (const port of ports) {
    const dir = mkdtempSync(join(tmpdir(), 'sb-scale-redis-'));
    dirs.push(dir);
    startProcess('redis-server', [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
    ]);
  }
  await until('redis-servers listen', 20_000, async () => {
    for (const p of ports) await run('redis-cli', ['-p', String(p), 'ping']);
    return true;
  });
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
    timeout: 60_000,
  });
  await until('Redis Cluster state ok', 30_000, async () => {
    for (const p of ports)
      if (!/cluster_state:ok/.test((await run('redis-cli', ['-p', String(p), 'cluster', 'info'])).stdout)) return false;
    return true;
  });
  return ports.map((p) => `127.0.0.1:${p}`).join(',');
}

/** Sum of the gateways' probes: CPU µs, RSS and heap bytes. */
async function probeAll(gateways) {
  const probes = await Promise.all(gateways.map((g) => g.probe()));
  return {
    cpuUs: probes.reduce((a, p) => a + p.cpuUs, 0),
    rss: probes.reduce((a, p) => a + p.rss, 0),
    heapUsed: probes.reduce((a, p) => a + p.heapUsed, 0),
    at: Date.now(),
  };
}

export async function measureScale(o, log) {
  const dirs = [];
  const gateways = [];
  const clients = [];
  let notifier;
  const conditions = {
    ...o,
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => +l.toFixed(1)),
    started: new Date().toISOString(),
  };
  try {
    const [natsUrl, redisNodes] = await Promise.all([natsCluster(dirs), redisCluster(dirs)]);
    log(`scale: NATS ${natsUrl}, Redis Cluster ${redisNodes}`);
    const env = {
      NATS_URL: natsUrl,
      NATS_STREAM_REPLICAS: '3',
      REDIS_CLUSTER_NODES: redisNodes,
      JWT_SECRET,
      PUBLISH_API_KEY,
      MAX_CONNECTIONS: '20000',
      LOG_LEVEL: 'error',
      STARTUP_TIMEOUT_SECONDS: '60',
    };
    for (let i = 0; i < o.gateways; i++) {
      gateways.push(
        await ServerProcess.start(
          `gateway ${i}`,
          join(ROOT, 'dist/apps/gateway/main.js'),
          { ...env, INSTANCE_NAME: `scale-gw${i}` },
          '/readyz',
        ),
      );
    }
    notifier = await ServerProcess.start(
      'notifier',
      join(ROOT, 'dist/apps/notifier/main.js'),
      { ...env, INSTANCE_NAME: 'scale-notifier' },
      '/readyz',
    );
    const base = await probeAll(gateways);
    const perGateway = Math.ceil(o.connections / o.gateways);
    const jwt = await token('scale');
    const openStarted = Date.now();
    // One client process per gateway (each side of a loopback connection is one open file).
    const opened = await Promise.all(
      gateways.map(async (g, i) => {
        const c = await Clients.start(1);
        clients.push(c);
        const n = Math.min(perGateway, o.connections - i * perGateway);
        return c.open(
          { mode: 'ours', transport: 'ws', base: g.url, token: jwt, concurrency: 50, retries: 3 },
          Array.from({ length: n }, () => ['bench:scale']),
        );
      }),
    );
    const total = opened.reduce((a, r) => a + r.opened, 0);
    const failed = opened.reduce((a, r) => a + r.failed, 0);
    log(`scale: ${total} connections open (${failed} failed) in ${((Date.now() - openStarted) / 1000).toFixed(0)} s`);
    await sleep(2000);
    const held = await probeAll(gateways);
    // Idle: only heartbeats (WS pings) and the engine's periodic checks run.
    await sleep(o.holdSeconds * 1000);
    const idle = await probeAll(gateways);
    const closedWhileIdle = (await Promise.all(clients.map((c) => c.count()))).reduce((a, r) => a + r.closed, 0);
    // The broadcasts: one message at a time to the channel every connection holds; each is
    // timed from the publish until the last connection has it (deliveries/s = connections / that).
    for (const c of clients) await c.reset();
    const publisher = new Publisher(notifier.url, PUBLISH_API_KEY);
    const cpuBefore = await probeAll(gateways);
    const want = total * o.broadcasts;
    const durations = [];
    let counted = { received: 0, lost: 0, dup: 0 };
    const countAll = async () =>
      (await Promise.all(clients.map((c) => c.count()))).reduce(
        (a, r) => ({ received: a.received + r.received, lost: a.lost + r.lost, dup: a.dup + r.dup }),
        { received: 0, lost: 0, dup: 0 },
      );
    for (let i = 0; i < o.broadcasts; i++) {
      const t0 = Date.now();
      await publisher.publish('bench:scale');
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        counted = await countAll();
        if (counted.received >= total * (i + 1)) break;
        await sleep(20);
      }
      durations.push(Date.now() - t0);
      log(`scale: broadcast ${i + 1}: ${counted.received - total * i} of ${total} in ${Date.now() - t0} ms`);
      await sleep(1000);
    }
    durations.sort((a, b) => a - b);
    const medianMs = durations[Math.floor(durations.length / 2)];
    const cpuAfter = await probeAll(gateways);
    const reports = await Promise.all(clients.map((c) => c.report()));
    const p99Ms = Math.max(...reports.map((r) => r.p99Ms));
    const p50Ms = Math.max(...reports.map((r) => r.p50Ms));
    conditions.loadAverageAtEnd = loadavg().map((l) => +l.toFixed(1));
    const result = {
      conditions,
      connections: total,
      failedToOpen: failed,
      closedWhileIdle,
      rssPerConnectionBytes: Math.round((held.rss - base.rss) / total),
      heapPerConnectionBytes: Math.round((held.heapUsed - base.heapUsed) / total),
      rssAllGatewaysMiB: Math.round(held.rss / 2 ** 20),
      idleCpuPercentOfOneCore: +(((idle.cpuUs - held.cpuUs) / ((idle.at - held.at) * 1000)) * 100).toFixed(2),
      idleCpuUsPerConnectionPerMinute: +((idle.cpuUs - held.cpuUs) / total / ((idle.at - held.at) / 60_000)).toFixed(3),
      broadcasts: o.broadcasts,
      delivered: counted.received,
      expected: want,
      lost: counted.lost ?? 0,
      dup: counted.dup ?? 0,
      broadcastMsMedian: medianMs,
      broadcastMs: durations,
      deliveriesPerSec: Math.round(total / (medianMs / 1000)),
      gatewayCpuUsPerDelivery: +((cpuAfter.cpuUs - cpuBefore.cpuUs) / Math.max(1, counted.received)).toFixed(2),
      p50Ms,
      p99Ms,
    };
    return result;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled([...gateways, notifier].filter(Boolean).map((g) => g.stop()));
    for (const child of owned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sleep(500);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** `--scale` entry: runs once, prints and writes the figures. */
export async function runScaleCli(args, log) {
  const num = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
  const o = {
    connections: num('--connections', 100_000),
    gateways: num('--gateways', 6),
    holdSeconds: num('--hold-seconds', 300),
    broadcasts: num('--broadcasts', 5),
  };
  const result = await measureScale(o, log);
  const text = JSON.stringify(result, null, 2);
  console.log(text);
  writeFileSync(join(ROOT, 'bench/results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), text + '\n');
  return result.lost === 0 && result.dup === 0 && result.delivered >= result.expected;
}
