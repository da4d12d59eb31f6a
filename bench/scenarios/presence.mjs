// Presence (`npm run bench -- --only presence`): query latency (exact count, capped member
// list) against the Redis store directly and through 3 gateway processes holding 10,000
// members, and what lease renewal costs Redis as connections and gateways grow.
import { build } from 'esbuild';
import hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clients, freePort, ROOT, ServerProcess } from '../lib/harness.mjs';
import { fmt } from '../lib/stats.mjs';
import { JWT_SECRET, realEngineEnv, token } from '../lib/targets.mjs';

/** The presence module, bundled from source (it is not an entry point of any built app). */
async function loadPresence() {
  const outfile = join(ROOT, 'node_modules/.cache/switchboard-bench/presence.cjs');
  await build({
    stdin: {
      contents: "export * from './libs/engine/src/presence'; export { MemoryEventBus } from './libs/engine/src/memory/memory-event-bus';",
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'presence-bench-entry.ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    packages: 'external',
    tsconfig: join(ROOT, 'tsconfig.json'),
    outfile,
    logLevel: 'warning',
  });
  return createRequire(import.meta.url)(outfile);
}

/** A redis-server of our own: its command counters see nothing but the measured gateways. */
async function privateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-redis-'));
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refused until the server listens
    try {
      await probe.connect();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (i > 100) throw new Error('private redis-server did not start');
      await sleep(50);
    }
  }
  return {
    url,
    stop: () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

/** `queries` calls of `fn` spread over `concurrency` loops; latency percentiles in ms. */
async function latency(fn, queries, concurrency) {
  const h = histogram();
  let left = queries;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const t = performance.now();
        await fn();
        h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
      }
    }),
  );
  return { p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000 };
}

/** Count and capped-list latency on one channel of `members` members (shared Redis at REDIS_URL). */
export async function measurePresenceQueries(o) {
  const P = await loadPresence();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const store = new P.RedisPresenceStore(redis, { keyPrefix: 'bench_presence:' });
  const rows = [];
  try {
    for (const members of o.members) {
      const channel = `room:${members}:${Date.now()}`;
      for (let i = 0; i < members; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, members - i) }, (_, k) =>
            store.join(
              'bench',
              channel,
              `c${i + k}`,
              { user: `user-${i + k}`, info: { name: `User ${i + k}`, n: i + k } },
              { outbox: false, at: Date.now() },
            ),
          ),
        );
      }
      for (const concurrency of o.concurrency) {
        const count = await latency(() => store.count(channel), o.queries, concurrency);
        const list = await latency(() => store.members(channel, o.listLimit), Math.ceil(o.queries / 4), concurrency);
        rows.push([
          `${fmt(members)} members, ${concurrency} concurrent`,
          `p50 ${fmt(count.p50Ms, 2)} / p99 ${fmt(count.p99Ms, 2)} ms`,
          `p50 ${fmt(list.p50Ms, 2)} / p99 ${fmt(list.p99Ms, 2)} ms`,
        ]);
      }
    }
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'bench_presence:*', 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
  return rows;
}

/** Commands the server ran, those inside scripts included (INFO commandstats, INFO itself excluded). */
async function serverCommands(admin) {
  let total = 0;
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
    if (m[1] !== 'info') total += Number(m[2]);
  return total;
}

/**
 * Idle cost of leases: `gateways` presence services holding `connections` entries in all,
 * over `windowMs`, on a private redis-server. PRESENCE_TTL_SECONDS is `ttlSeconds` (a
 * heartbeat every TTL/6); the figures per heartbeat hold for any TTL.
 */
export async function measureRenewal(o) {
  const P = await loadPresence();
  const server = await privateRedis();
  const admin = new Redis(server.url);
  const rows = [];
  try {
    for (const [gateways, connections] of o.cases) {
      const eventBus = new P.MemoryEventBus(
        { eventsMaxAgeSeconds: 60, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 60 },
        { eventsStream: 'EVENTS', eventsSubjectPrefix: 'events', dlqStream: 'EVENTS_DLQ', dlqSubjectPrefix: 'dlq.events' },
      );
      await eventBus.ensureStreams();
      const services = [];
      const conns = [];
      let beats = 0;
      let sent = 0;
      for (let g = 0; g < gateways; g++) {
        const redis = new Redis(server.url);
        conns.push(redis);
        const send = redis.sendCommand.bind(redis);
        redis.sendCommand = (...args) => {
          sent++;
          return send(...args);
        };
        const store = new P.RedisPresenceStore(redis, { keyPrefix: `r${gateways}x${connections}:` });
        const heartbeat = store.heartbeat.bind(store);
        store.heartbeat = (...args) => {
          beats++;
          return heartbeat(...args);
        };
        const service = new P.PresenceService(store, new P.MemoryPresenceSignalBus(), eventBus, {
          ttlMs: o.ttlSeconds * 1000,
          maxMembers: 1000,
          // Renewal does not depend on the channel options; presence alone keeps the setup quick.
          channels: new P.ChannelOptionsResolver([{ match: '*', presence: true }]),
        });
        await service.start();
        services.push(service);
        const mine = Math.floor(connections / gateways);
        for (let i = 0; i < mine; i += 500) {
          await Promise.all(
            Array.from({ length: Math.min(500, mine - i) }, (_, k) =>
              service.join(`room:${(i + k) % 1000}`, `conn-${i + k}`, { user: `user-${g}-${i + k}`, info: {} }),
            ),
          );
        }
      }
      const [b0, s0, c0, t0] = [beats, sent, await serverCommands(admin), performance.now()];
      await sleep(o.windowMs);
      const [b1, s1, c1, t1] = [beats, sent, await serverCommands(admin), performance.now()];
      const seconds = (t1 - t0) / 1000;
      const perBeat = (c1 - c0) / (b1 - b0);
      rows.push([
        `${gateways} gateway(s), ${fmt(connections)} connections`,
        fmt((s1 - s0) / (b1 - b0), 2),
        fmt(perBeat, 1),
        fmt((c1 - c0) / seconds, 1),
        fmt((perBeat * gateways * 6) / 30, 2),
      ]);
      for (const s of services) await s.close();
      for (const r of conns) r.disconnect();
      await admin.flushall();
    }
  } finally {
    admin.disconnect();
    server.stop();
  }
  return rows;
}

/**
 * The acceptance figure: `members` WebSocket connections of distinct users in one
 * channel, spread over 3 gateway processes on the shared NATS and Redis; presence queries
 * (`GET /v1/presence`, the client token) spread over the gateways while they hold them.
 * "capped list": the usual answer (exact counts, PRESENCE_MAX_MEMBERS=1000 members);
 * "count": a 4th gateway with PRESENCE_MAX_MEMBERS=1, so its answer is the counts alone.
 * The channel has presence only: join/leave to 10,000 subscribers would be 50 million
 * notices while they connect, which measures fan-out, not queries.
 */
export async function measureGatewayQueries(o) {
  const env = {
    ...realEngineEnv(),
    JWT_SECRET,
    MAX_CONNECTIONS: '200000',
    CHANNEL_CONFIG: JSON.stringify([{ match: 'room:*', presence: true }]),
  };
  const main = join(ROOT, 'dist/apps/gateway/main.js');
  const servers = [];
  const clients = await Clients.start(o.clientProcesses);
  try {
    for (let g = 0; g < 3; g++)
      servers.push(await ServerProcess.start(`gateway ${g}`, main, { ...env, INSTANCE_NAME: `bench-gw${g}` }, '/readyz'));
    const counter = await ServerProcess.start(
      'gateway (counts)',
      main,
      { ...env, INSTANCE_NAME: 'bench-gw-count', PRESENCE_MAX_MEMBERS: '1' },
      '/readyz',
    );
    servers.push(counter);
    const channel = `room:bench-${Date.now()}`;
    const tokens = await Promise.all(Array.from({ length: o.members }, (_, i) => token(`member-${i}`)));
    const connectStarted = performance.now();
    for (let g = 0; g < 3; g++) {
      const mine = tokens.filter((_, i) => i % 3 === g);
      const r = await clients.open(
        { mode: 'ours', transport: 'ws', base: servers[g].url, concurrency: 100 },
        mine.map(() => [channel]),
        mine,
      );
      if (r.failed > 0) throw new Error(`${r.failed} member connections failed: ${r.firstError}`);
    }
    const reader = await token('reader');
    const ask = async (base) => {
      const res = await fetch(`${base}/v1/presence?channel=${channel}`, { headers: { Authorization: `Bearer ${reader}` } });
      if (res.status !== 200) throw new Error(`presence query answered ${res.status}: ${await res.text()}`);
      return res.json();
    };
    // Joins are written after the subscribe reply: wait until the store has every member.
    for (let i = 0; ; i++) {
      const answer = await ask(servers[0].url);
      if (answer.count === o.members) break;
      if (i > 600) throw new Error(`presence counts ${answer.count} of ${o.members} members`);
      await sleep(100);
    }
    const joinedMs = performance.now() - connectStarted;
    let next = 0;
    const rows = [];
    for (const concurrency of o.concurrency) {
      const count = await latency(() => ask(counter.url), o.queries, concurrency);
      const list = await latency(
        async () => {
          const answer = await ask(servers[next++ % 3].url);
          const listed = Math.min(1000, o.members);
          if (answer.members.length !== listed || (answer.truncated === true) !== o.members > 1000 || answer.count !== o.members) {
            throw new Error(`unexpected presence answer: count ${answer.count}, ${answer.members.length} members`);
          }
        },
        o.queries,
        concurrency,
      );
      rows.push([
        `${fmt(o.members)} members on 3 gateways, ${concurrency} concurrent`,
        `p50 ${fmt(count.p50Ms, 2)} / p99 ${fmt(count.p99Ms, 2)} ms`,
        `p50 ${fmt(list.p50Ms, 2)} / p99 ${fmt(list.p99Ms, 2)} ms`,
        `${fmt(joinedMs / 1000, 1)} s to connect and join all`,
      ]);
    }
    return rows;
  } finally {
    await clients.close();
    for (const s of servers) await s.stop();
  }
}
