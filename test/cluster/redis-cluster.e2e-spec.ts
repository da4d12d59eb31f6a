import { NatsJetStreamCluster, RedisClusterSet } from '@switchboard/testing';
import { describeScaleOut } from './scale-scenarios';

describeScaleOut('scale-out on a 3-node NATS JetStream cluster and a 3+3 Redis Cluster', async () => {
  const [nats, redis] = await Promise.all([NatsJetStreamCluster.start(3), RedisClusterSet.start(3)]);
  return {
    env: { NATS_URL: nats.url, NATS_STREAM_REPLICAS: '3', REDIS_CLUSTER_NODES: redis.nodeList },
    adapter: 'ShardedRedisAdapter',
    stop: async () => {
      await Promise.all([nats.stop(), redis.stop()]);
    },
  };
});
