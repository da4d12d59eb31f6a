import { NatsJetStreamCluster, RedisClusterSet } from '@switchboard/testing';
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
});
