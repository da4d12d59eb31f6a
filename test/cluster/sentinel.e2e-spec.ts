import { NatsJetStreamCluster, RedisSentinelSet } from '@switchboard/testing';
import { describeScaleOut } from './scale-scenarios';

describeScaleOut('scale-out on a 3-node NATS JetStream cluster and Redis Sentinel (1 master, 1 replica, 3 sentinels)', async () => {
  const [nats, redis] = await Promise.all([NatsJetStreamCluster.start(3), RedisSentinelSet.start()]);
  return {
    env: { NATS_URL: nats.url, NATS_STREAM_REPLICAS: '3', REDIS_SENTINELS: redis.sentinelList, REDIS_SENTINEL_NAME: redis.masterName },
    adapter: 'RedisAdapter',
    stop: async () => {
      await Promise.all([nats.stop(), redis.stop()]);
    },
  };
});
