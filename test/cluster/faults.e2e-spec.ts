import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { eventually, isolatedEnv, NatsJetStreamCluster, RedisClusterSet, signToken, uniqueName, WsTestClient } from '@switchboard/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess } from '../support/process';
import { ScaleTestCluster } from '../support/scale-cluster';
import { runScenario } from '../support/scenario';

/**
 * Faults of a clustered deployment under a running publish stream, checked with the
 * reliability ledger (every offset once, in order; every acknowledged message delivered,
 * or the client told recovered:false): three gateway processes on a 3-node JetStream
 * cluster and a 3+3 Redis Cluster, started once for the file.
 */
describe('scale-out faults: 3 gateways, 3-node NATS JetStream cluster, 3+3 Redis Cluster', () => {
  let nats: NatsJetStreamCluster;
  let redis: RedisClusterSet;
  let cluster: ScaleTestCluster | undefined;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([NatsJetStreamCluster.start(3), RedisClusterSet.start(3)]);
  }, 60_000);
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });
  afterAll(async () => {
    await Promise.allSettled([nats?.stop(), redis?.stop()]);
  });

  const start = (): Promise<ScaleTestCluster> =>
    ScaleTestCluster.start(
      3,
      { NATS_URL: nats.url, NATS_STREAM_REPLICAS: '3', REDIS_CLUSTER_NODES: redis.nodeList },
      { clusterNodes: redis.nodeList.split(',') },
    );

  it('the JetStream metadata leader killed and restarted mid-stream: every client has every message once, in order', async () => {
    cluster = await start();
    const report = await runScenario(cluster, {
      name: 'nats-meta-leader-kill',
      streamMs: 12_000,
      faultAtMs: 4_000,
      fault: async () => {
        const leader = nats.node(await nats.metaLeader());
        await leader.kill('SIGKILL');
        await nats.metaLeader();
        await new Promise((r) => setTimeout(r, 2000));
        await leader.start();
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.notices).toBe(0);
    expect(report.lostSilently + report.lostAnnounced + report.duplicates).toBe(0);
    expect(report.publishedDuringFault).toBeGreaterThan(0);
  }, 90_000);

  it('a Redis master killed mid-stream: the replica takes over; nothing lost silently, nothing twice (losses counted)', async () => {
    cluster = await start();
    let victim: Awaited<ReturnType<RedisClusterSet['masterOf']>> | undefined;
    let onVictim = 0;
    const report = await runScenario(cluster, {
      name: 'redis-cluster-master-kill',
      streamMs: 14_000,
      faultAtMs: 4_000,
      channels: 6,
      fault: async (_c, channels) => {
        // The master holding the first channel; the others land on any shard.
        victim = await redis.masterOf(`sb:{${channels[0]}}:m`);
        for (const channel of channels) if ((await redis.masterOf(`sb:{${channel}}:m`)) === victim) onVictim++;
        await victim.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 4000));
        await victim.start();
      },
    });
    console.log(`[reliability] redis-cluster-master-kill: ${onVictim} of 6 channels on the killed master's shard`);
    expect(onVictim).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect(report.lostSilently).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(report.publishedDuringFault).toBeGreaterThan(0);
    await redis.waitHealthy();
  }, 90_000);

  it('one gateway process of three killed: its clients move to the others and miss nothing', async () => {
    cluster = await start();
    const report = await runScenario(cluster, {
      name: 'gateway-kill-1-of-3',
      streamMs: 10_000,
      faultAtMs: 3_000,
      fault: async (c) => {
        await c.killGateway(0);
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.notices).toBe(0);
    expect(report.lostSilently + report.lostAnnounced + report.duplicates).toBe(0);
    expect(report.reconnects).toBeGreaterThan(0);
  }, 60_000);

  it('webhooks while the EVENTS stream leader, the metadata leader and then the notifier are killed: every delivery stored once, no 2xx for one not stored, each routed once', async () => {
    const { sign } = await import('@octokit/webhooks-methods');
    const dir = mkdtempSync(join(tmpdir(), 'sb-scale-wh-'));
    const routes = join(dir, 'routes.yaml');
    writeFileSync(routes, 'routes:\n  - match: { type: "github.push" }\n    channels: ["wh:{data.repository.full_name}"]\n');
    const names: Record<string, string> = { ...isolatedEnv('whf') };
    delete names.REDIS_URL;
    const secret = 'scale-wh-secret';
    const env: Record<string, string> = {
      ...names,
      NATS_URL: nats.url,
      NATS_STREAM_REPLICAS: '3',
      REDIS_CLUSTER_NODES: redis.nodeList,
      ROUTES_CONFIG: routes,
      WEBHOOK_SOURCES: JSON.stringify([{ name: 'gh', provider: 'github', secrets: [secret], rateLimit: false }]),
      HISTORY_SIZE: '5000',
      // Deliveries held by a killed consumer leader come back after the ack wait.
      NOTIFIER_ACK_WAIT_SECONDS: '5',
      STARTUP_TIMEOUT_SECONDS: '20',
    };
    cluster = await ScaleTestCluster.start(1, env, { clusterNodes: redis.nodeList.split(',') });
    const ingest = await ServiceProcess.start('webhook-ingest', env);
    let notifier = await ServiceProcess.start('notifier', env);
    const nc = await connect({ servers: nats.url.split(',') });
    try {
      const repo = uniqueName('r').replace(/[^A-Za-z0-9_-]/g, '');
      const channel = `wh:${repo}`;
      const client = await WsTestClient.connect(`${cluster.wsUrls()[0]}?token=${await signToken({ sub: 'wh', channels: ['wh:*'] })}`);
      await client.request('subscribe', { channel });
      const jsm = await jetstreamManager(nc);
      let stop = false;
      let next = 0;
      let refused = 0;
      const accepted = new Set<number>();
      const send = async (n: number): Promise<number> => {
        const body = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: repo }, n });
        try {
          const res = await fetch(`${ingest.url}/v1/webhooks/gh`, {
            method: 'POST',
            headers: {
              'Content-Type': 'application/json',
              'X-GitHub-Event': 'push',
              'X-GitHub-Delivery': `${repo}-${n}`,
              'X-Hub-Signature-256': await sign(secret, body),
            },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          return res.status;
        } catch {
          return 0;
        }
      };
      // Four senders, each retrying a delivery until it is accepted (as a provider does).
      const senders = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const n = next++;
          for (;;) {
            const status = await send(n);
            if (status >= 200 && status < 300) break;
            refused++;
            await new Promise((r) => setTimeout(r, 200));
          }
          accepted.add(n);
        }
      });
      await new Promise((r) => setTimeout(r, 3000));
      const streamLeader = nats.node((await jsm.streams.info(env.EVENTS_STREAM)).cluster!.leader!);
      await streamLeader.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 3000));
      await streamLeader.start();
      await new Promise((r) => setTimeout(r, 2000));
      const metaLeader = nats.node(await nats.metaLeader());
      await metaLeader.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 3000));
      await metaLeader.start();
      await new Promise((r) => setTimeout(r, 2000));
      // The restart below is about events in flight, not elections (a notifier starting
      // mid-election waits it out: jetstream-startup.e2e-spec.ts), so it waits for a healthy cluster.
      await nats.healthy();
      // And the notifier itself, SIGKILLed with events in flight and restarted.
      notifier.kill('SIGKILL');
      await notifier.exited();
      notifier = await ServiceProcess.start('notifier', env);
      await new Promise((r) => setTimeout(r, 2000));
      stop = true;
      await Promise.all(senders);
      const total = accepted.size;
      // The stream holds each accepted delivery exactly once.
      const stored = new Map<number, number>();
      await eventually(async () => {
        stored.clear();
        const info = await jsm.streams.info(env.EVENTS_STREAM);
        const consumer = await jetstream(nc).consumers.get(env.EVENTS_STREAM);
        const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 5000 });
        let read = 0;
        for await (const m of batch) {
          const n = m.json<{ data: { n: number } }>().data.n;
          stored.set(n, (stored.get(n) ?? 0) + 1);
          if (++read === info.state.messages) break;
        }
        expect(stored.size).toBe(total);
      }, 20_000);
      expect([...accepted].filter((n) => !stored.has(n))).toEqual([]);
      expect([...stored.values()].filter((c) => c > 1)).toEqual([]);
      // The notifier routed each once: offsets 1..total, every n once.
      await eventually(() => expect(client.messages(channel)).toHaveLength(total), 30_000);
      const ns = client.messages(channel).map((m) => (m.data as { n: number }).n);
      expect(new Set(ns).size).toBe(total);
      expect(client.offsets(channel)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      console.log(
        `[reliability] jetstream-leaders-kill (webhooks): ${total} deliveries accepted, ${refused} answers that were not 2xx (retried), ` +
          `stored ${stored.size} once each, routed ${ns.length}, lost 0, duplicates 0; stream leader ${streamLeader.serverName}, meta leader ${metaLeader.serverName}, then the notifier`,
      );
      client.close();
    } finally {
      ingest.kill('SIGKILL');
      notifier.kill('SIGKILL');
      await nc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
