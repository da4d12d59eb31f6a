import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { attemptLogConformance } from './attempt-log.conformance';
import { RedisAttemptLog } from './redis-attempt.log';

let redis: Redis;

beforeAll(async () => {
  const { redisUrl } = await requireSharedServers();
  redis = new Redis(redisUrl);
});
afterAll(() => redis.quit());

attemptLogConformance('Redis', async (maxAgeMs, maxPerStatus) => {
  const prefix = uniqueName('att') + ':';
  return {
    log: new RedisAttemptLog(redis, prefix, maxAgeMs, maxPerStatus),
    dispose: async () => {
      const keys = await redis.keys(prefix + '*');
      if (keys.length > 0) await redis.del(...keys);
    },
  };
});
