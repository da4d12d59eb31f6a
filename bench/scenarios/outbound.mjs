// Outbound webhooks: the notifier delivering N stored events to one endpoint (signed,
// queued on JetStream, attempts logged in Redis) against a bare loop of `fetch` with the
// same concurrency, both to the same bare receiver process, measured at the receiver.
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isolatedEnv } from '../../libs/testing/src/isolated-env.ts';
import { freePort, ROOT, ServerProcess } from '../lib/harness.mjs';
import { built, realEngineEnv } from '../lib/targets.mjs';

const ADMIN_API_KEY = 'bench-admin-key';
const TICK_US = 1e6 / 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s on Linux

/**
 * CPU time (µs, user + system) used so far by the processes `pids` (BENCH_SERVER_PIDS: the
 * nats-server and redis-server the notifier talks to, when they are the bench's own; on
 * shared servers other users' work would be counted too). undefined when none are given.
 */
function serversCpuUs(pids) {
  if (pids.length === 0) return undefined;
  return pids.map((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  });
}

async function stats(receiver) {
  return (await fetch(`${receiver.url}/stats`)).json();
}

async function waitForCount(receiver, n, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(receiver);
    if (s.count >= n) return s;
    if (Date.now() > deadline) throw new Error(`receiver got ${s.count} of ${n} deliveries in ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

/** Stores `n` CloudEvents of type bench.event on the notifier's EVENTS stream. */
async function storeEvents(env, n) {
  const nc = await connect({ servers: env.NATS_URL });
  try {
    const js = jetstream(nc);
    const pending = [];
    for (let i = 0; i < n; i++) {
      const event = { specversion: '1.0', id: `bench-${i}`, source: 'bench', type: 'bench.event', data: { i, pad: 'x'.repeat(200) } };
      pending.push(js.publish(`${env.EVENTS_SUBJECT_PREFIX}.bench.event`, JSON.stringify(event)));
      if (pending.length >= 500) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  } finally {
    await nc.close();
  }
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * BENCH_PRIVATE_SERVERS=1: a nats-server (JetStream, its own store) and a redis-server of the
 * run's own, so their CPU per delivery can be counted (BENCH_SERVER_PIDS is set to them).
 */
async function privateServers() {
  const [natsPort, redisPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-outbound-'));
  const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', dir], { stdio: 'ignore' });
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const stop = () => {
    nats.kill();
    redis.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; !(await listening(natsPort)) || !(await listening(redisPort)); i++) {
    if (i > 50) {
      stop();
      throw new Error('private nats-server / redis-server not listening after 5 s');
    }
    await sleep(100);
  }
  return {
    env: isolatedEnv('bench', { natsUrl: `nats://127.0.0.1:${natsPort}`, redisUrl: `redis://127.0.0.1:${redisPort}` }),
    pids: [String(nats.pid), String(redis.pid)],
    stop,
  };
}

/**
 * @param side 'bare' | 'ours'
 * @param o {events, concurrency, delayMs}
 * @returns {deliveriesPerSec, cpuUsPerDelivery, dup, lost}
 */
export async function measureOutbound(side, o) {
  const receiver = await ServerProcess.start('receiver', join(ROOT, 'bench/baselines/webhook-receiver.mjs'), {
    DELAY_MS: String(o.delayMs),
  });
  try {
    if (side === 'bare') {
      const loop = await ServerProcess.start('bare fetch loop', join(ROOT, 'bench/baselines/fetch-loop.mjs'), {
        TARGET_URL: `${receiver.url}/hook`,
        N: String(o.events),
        CONCURRENCY: String(o.concurrency),
      });
      try {
        const before = await loop.probe();
        const res = await fetch(`${loop.url}/start`, { method: 'POST' });
        if (res.status !== 200) throw new Error(`fetch loop: ${await res.text()}`);
        const after = await loop.probe();
        const s = await waitForCount(receiver, o.events, 10_000);
        return {
          deliveriesPerSec: (s.count - 1) / ((s.lastAt - s.firstAt) / 1000),
          cpuUsPerDelivery: (after.cpuUs - before.cpuUs) / s.count,
          lost: 0,
          dup: 0,
        };
      } finally {
        await loop.stop();
      }
    }

    // Ours: register the endpoint and store the events with delivery off, then start the
    // delivery engine and time the receiver from its first request to its last.
    const servers = process.env.BENCH_PRIVATE_SERVERS ? await privateServers() : undefined;
    try {
      return await deliverBacklog(receiver, o, servers);
    } finally {
      servers?.stop();
    }
  } finally {
    await receiver.stop();
  }
}

async function deliverBacklog(receiver, o, servers) {
  const env = {
    ...(servers?.env ?? realEngineEnv()),
    ADMIN_API_KEY,
    OUTBOUND_ALLOW_HTTP: 'true',
    OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
    OUTBOUND_CONCURRENCY: String(o.concurrency),
  };
  const main = built('notifier');
  const setup = await ServerProcess.start('notifier (setup)', main, { ...env, OUTBOUND_ENABLED: 'false' }, '/readyz');
  try {
    const res = await fetch(`${setup.url}/v1/endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}/hook`, events: ['bench.*'] }),
    });
    if (res.status !== 201) throw new Error(`endpoint not created: ${res.status} ${await res.text()}`);
    await storeEvents(env, o.events);
  } finally {
    await setup.stop();
  }
  const pids = servers?.pids ?? (process.env.BENCH_SERVER_PIDS ?? '').split(',').filter(Boolean);
  const notifier = await ServerProcess.start('notifier', main, env, '/readyz');
  try {
    const before = await notifier.probe();
    const serversBefore = serversCpuUs(pids);
    // Delivery starts before /readyz answers: CPU from here on is divided by the deliveries from here on.
    const startCount = (await stats(receiver)).count;
    const s = await waitForCount(receiver, o.events, 120_000);
    const serversAfter = serversCpuUs(pids);
    const after = await notifier.probe();
    return {
      deliveriesPerSec: (s.count - 1) / ((s.lastAt - s.firstAt) / 1000),
      cpuUsPerDelivery: (after.cpuUs - before.cpuUs) / Math.max(1, s.count - startCount),
      // One figure per server pid (BENCH_SERVER_PIDS, or the private nats-server then redis-server).
      ...(serversBefore === undefined
        ? {}
        : Object.fromEntries(
            serversBefore.map((b, i) => [`server${i}CpuUsPerDelivery`, (serversAfter[i] - b) / Math.max(1, s.count - startCount)]),
          )),
      lost: o.events - s.distinct,
      dup: s.count - s.distinct,
    };
  } finally {
    await notifier.stop();
  }
}
