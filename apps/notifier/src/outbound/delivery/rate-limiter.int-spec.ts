import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { RedisRateLimiter } from './rate-limiter';

describe('RedisRateLimiter', () => {
  let redis: Redis;
  const prefix = uniqueName('rl') + ':';

  beforeAll(async () => {
    redis = new Redis((await requireSharedServers()).redisUrl);
  });
  afterAll(async () => {
    const keys = await redis.keys(prefix + '*');
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('shares one budget between limiters (replicas) of the same endpoint', async () => {
    const a = new RedisRateLimiter(redis, prefix);
    const b = new RedisRateLimiter(redis, prefix);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).acquire('ep_x', 4)));
    expect(results.filter((w) => w === 0)).toHaveLength(4);
    for (const w of results.filter((w) => w > 0)) expect(w).toBeLessThanOrEqual(250);
    expect(await a.acquire('ep_other', 4)).toBe(0);
  });
});
