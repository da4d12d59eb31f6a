import { NatsJetStreamCluster, RedisSentinelSet } from '@switchboard/testing';
import { ScaleTestCluster } from '../support/scale-cluster';
import { runScenario } from '../support/scenario';

/**
 * Redis Sentinel failover under a running publish stream: the master is killed, the
 * sentinels promote the replica, the gateways follow it; the ledger counts what was lost
 * (announced by recovered:false, or silently: never acceptable) and what came twice.
 */
describe('scale-out faults: Redis Sentinel failover', () => {
  let nats: NatsJetStreamCluster;
  let redis: RedisSentinelSet;
  let cluster: ScaleTestCluster | undefined;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([NatsJetStreamCluster.start(3), RedisSentinelSet.start()]);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await Promise.allSettled([nats?.stop(), redis?.stop()]);
  });

  it('the master killed mid-stream: the replica is promoted and followed; nothing lost silently, nothing twice', async () => {
    const sentinels = redis.sentinelList;
    cluster = await ScaleTestCluster.start(
      3,
      { NATS_URL: nats.url, NATS_STREAM_REPLICAS: '3', REDIS_SENTINELS: sentinels, REDIS_SENTINEL_NAME: redis.masterName },
      { sentinels: sentinels.split(','), sentinelName: redis.masterName },
    );
    let promoted = 0;
    const report = await runScenario(cluster, {
      name: 'redis-sentinel-failover',
      streamMs: 16_000,
      faultAtMs: 4_000,
      fault: async () => {
        await redis.master.kill('SIGKILL');
        promoted = await redis.failedOverFrom(redis.master.port);
        // Publishing resumes on the promoted master (counted as "during the fault").
        await new Promise((r) => setTimeout(r, 3000));
      },
    });
    expect(promoted).toBe(redis.replica.port);
    expect(report.problems).toEqual([]);
    expect(report.lostSilently).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(report.publishedDuringFault).toBeGreaterThan(0);
  }, 90_000);
});
