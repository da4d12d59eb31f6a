// Idle memory per connection (a slope between two connection counts, after GC, and again
// after traffic) and a connection storm (everyone at once, token auth on ours).
import { setTimeout as sleep } from 'node:timers/promises';
import { Clients, Publisher } from '../lib/harness.mjs';
import { PUBLISH_API_KEY, startBaseline, startOurs, token } from '../lib/targets.mjs';

/**
 * Loopback source addresses, past 20,000 connections: one address reaches one server port
 * from ~28k ephemeral ports. Below that none is bound (a bound source port must be free of
 * TIME_WAIT sockets too, which earlier scenarios leave by the thousand).
 */
const addresses = (n) => (n <= 20_000 ? undefined : Array.from({ length: Math.ceil(n / 20_000) }, (_, i) => `127.0.1.${i + 1}`));

/**
 * Both servers of the idle rows run with V8's young generation at one fixed size. By
 * default V8 grows it with the allocation rate, up to a 64 MiB new space here, and
 * where in a run it grows differs per server: between 2,000 and 10,000 connections it
 * added 3.7–4.8 KiB "per connection" to bare `ws` and 6.0 to ours, and between 10,000 and
 * 18,000 3.9 to bare and nothing to ours (already grown). A bounded, one-off size is not a
 * cost per connection; pinned, the slope is what each connection holds.
 */
const PINNED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/**
 * Connections open 100 at a time per client process, so the figure is what connections
 * hold, not the allocator's high-water mark from a burst of handshakes (the storm
 * scenario is the burst: 500 at a time left ours ~3 KiB/conn more RSS, not heap).
 * @param o {counts: [n1, n2], clientProcesses, transport ('ws' default, 'sio', 'sse': against its own bare server)}
 */
export async function measureIdle(side, o) {
  const transport = o.transport ?? 'ws';
  const server =
    side === 'ours' ? await startOurs('memory', {}, PINNED_YOUNG_GENERATION) : await startBaseline(transport, {}, PINNED_YOUNG_GENERATION);
  const clients = await Clients.start(o.clientProcesses);
  try {
    const [n1, n2] = o.counts;
    const options = {
      mode: side,
      transport,
      base: server.url,
      token: await token(),
      addresses: addresses(n2),
      concurrency: 100,
      retries: 2,
    };
    const base = await server.probe();
    let opened = await clients.open(
      options,
      Array.from({ length: n1 }, () => ['bench:idle']),
    );
    if (opened.failed > 0) throw new Error(`idle: ${opened.failed} connections failed: ${opened.firstError}`);
    await sleep(500);
    const at1 = await server.probe();
    opened = await clients.open(
      options,
      Array.from({ length: n2 - n1 }, () => ['bench:idle']),
    );
    if (opened.failed > 0) throw new Error(`idle: ${opened.failed} connections failed: ${opened.firstError}`);
    await sleep(500);
    const at2 = await server.probe();
    // Traffic: 20 messages to everyone, then idle again.
    const publisher = new Publisher(server.url, side === 'ours' ? PUBLISH_API_KEY : undefined);
    for (let i = 0; i < 20; i++) await publisher.publish('bench:idle');
    const deadline = Date.now() + 60_000;
    while ((await clients.count()).received < 20 * n2 && Date.now() < deadline) await sleep(50);
    const counted = await clients.count();
    await sleep(500);
    const after = await server.probe();
    return {
      bytesPerConnection: (at2.rss - at1.rss) / (n2 - n1),
      heapPerConnection: (at2.heapUsed - at1.heapUsed) / (n2 - n1),
      bytesPerConnectionAfterTraffic: (after.rss - base.rss) / n2,
      rssAtMax: at2.rss,
      // Where the RSS slope goes, per connection: V8's committed heap (by space), buffers outside it, the rest (native).
      perConnection: slopes(at1, at2, n2 - n1),
      connections: n2,
      lost: 20 * n2 - counted.received + counted.lost,
      closed: counted.closed,
    };
  } finally {
    await clients.close();
    await server.stop();
  }
}

/** The growth between two probes, in bytes per connection: RSS, V8's committed heap by space, `external` and the rest. */
function slopes(a, b, n) {
  const per = (x, y) => Math.round((y - x) / n);
  const spaces = Object.fromEntries(
    Object.keys(b.spaces ?? {})
      .map((k) => [k, per(a.spaces[k] ?? 0, b.spaces[k])])
      .filter(([, v]) => v !== 0),
  );
  const heapTotal = per(a.heapTotal, b.heapTotal);
  const external = per(a.external, b.external);
  const rss = per(a.rss, b.rss);
  return {
    rss,
    heapUsed: per(a.heapUsed, b.heapUsed),
    heapTotal,
    spaces,
    external,
    arrayBuffers: per(a.arrayBuffers, b.arrayBuffers),
    native: rss - heapTotal - external,
  };
}

/** @param o {connections, clientProcesses} — all connections opened at once. */
export async function measureStorm(side, o) {
  const server = side === 'ours' ? await startOurs('memory') : await startBaseline('ws');
  const clients = await Clients.start(o.clientProcesses);
  try {
    // Ours verifies a distinct token per client (as in production), not one cached token.
    const tokens = side === 'ours' ? await Promise.all(Array.from({ length: o.connections }, (_, i) => token(`u${i}`))) : undefined;
    const opened = await clients.open(
      { mode: side, transport: 'ws', base: server.url, addresses: addresses(o.connections), concurrency: o.connections },
      Array.from({ length: o.connections }, () => ['bench:storm']),
      tokens,
    );
    return {
      acceptedPerSec: opened.opened / (opened.elapsedMs / 1000),
      handshakeP50Ms: opened.handshakeP50Ms,
      handshakeP99Ms: opened.handshakeP99Ms,
      failed: opened.failed,
    };
  } finally {
    await clients.close();
    await server.stop();
  }
}

/**
 * Idle connections spread over several gateway processes (one process may hold ~20,000
 * open files here): `o.servers` processes × `o.perServer` WebSocket connections, opened
 * `o.clientProcesses` client processes wide. Per process: memory per connection (the slope
 * between `o.from` connections and all of them, after GC) and the heartbeat's CPU over an
 * idle window at WS_PING_SECONDS=`o.pingSeconds`, per 10,000 connections and per ping round.
 */
export async function measureIdleSpread(o) {
  const servers = [];
  const clients = await Clients.start(o.clientProcesses);
  try {
    for (let i = 0; i < o.servers; i++) servers.push(await startOurs('memory', { WS_PING_SECONDS: String(o.pingSeconds) }));
    const jwt = await token();
    const open = async (server, n) => {
      const opened = await clients.open(
        { mode: 'ours', transport: 'ws', base: server.url, token: jwt, concurrency: 100, retries: 2 },
        Array.from({ length: n }, () => ['bench:idle']),
      );
      if (opened.failed > 0) throw new Error(`idle spread: ${opened.failed} connections failed: ${opened.firstError}`);
    };
    const at1 = [];
    for (const server of servers) {
      await open(server, o.from);
      await sleep(500);
      at1.push(await server.probe());
    }
    for (const server of servers) await open(server, o.perServer - o.from);
    await sleep(1000);
    const at2 = await Promise.all(servers.map((s) => s.probe()));
    // Idle: nothing but the heartbeat (pings, pongs, the silence check) for the window.
    await sleep(o.idleMs);
    const at3 = await Promise.all(servers.map((s) => s.probe()));
    const counted = await clients.count();
    const rounds = o.idleMs / 1000 / o.pingSeconds;
    return servers.map((_, i) => ({
      bytesPerConnection: (at2[i].rss - at1[i].rss) / (o.perServer - o.from),
      heapPerConnection: (at2[i].heapUsed - at1[i].heapUsed) / (o.perServer - o.from),
      rss: at2[i].rss,
      heartbeatCpuMsPer10kPerRound: (at3[i].cpuUs - at2[i].cpuUs) / 1000 / rounds / (o.perServer / 10_000),
      heartbeatCpuPercentPer10k: (((at3[i].cpuUs - at2[i].cpuUs) / (o.idleMs * 1000)) * 100) / (o.perServer / 10_000),
      closed: counted.closed,
    }));
  } finally {
    await clients.close();
    for (const s of servers) await s.stop();
  }
}
