import type { NatsConnection } from '@nats-io/nats-core';
import { eventually, requireSharedServers, uniqueName } from '@switchboard/testing';
import type { Redis } from 'ioredis';
import { RetentionOptions } from '../channel-store';
import { Engine } from '../engine';
import { RecordingListener } from '../engine.conformance';
import { connectNats, connectRedis } from './connections';
import { NatsFanoutBus } from './nats-fanout-bus';
import { NatsHealth } from './nats-health';
import { RedisChannelStore } from './redis-channel-store';

/** Keys under `prefix`, counted with SCAN (never KEYS on the shared server). */
async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', prefix + '*', 'COUNT', 5000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

describe('Redis channel store: reads of never-published channels', () => {
  const retention: RetentionOptions = {
    historySize: 100,
    historyTtlSeconds: 2,
    channelMetaTtlSeconds: 3600,
    idempotencyWindowSeconds: 120,
  };
  const keyPrefix = uniqueName('reads') + ':';
  let nc: NatsConnection;
  let redis: Redis;
  let engine: Engine;

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    [nc, redis] = await Promise.all([connectNats(natsUrl, 'read-retention', 5000), connectRedis(redisUrl, 'read-retention', 5000)]);
    const bus = new NatsFanoutBus(nc, new NatsHealth(nc), uniqueName('rr').replace(/-/g, '_'));
    // No quiet-channel check: it would read held channels on its own.
    engine = new Engine(new RedisChannelStore(redis, retention, keyPrefix), bus, { syncIntervalMs: 0 });
  });
  afterAll(async () => {
    await engine?.close();
    const keys = redis ? await scanKeys(redis, keyPrefix) : [];
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await nc?.close();
  });

  it('leaves no key of 100,000 reads of random names once HISTORY_TTL_SECONDS has passed; a published channel keeps its metadata', async () => {
    // A counter, not random names: 100,000 random names would now and then repeat one.
    const base = uniqueName('r');
    let n = 0;
    const name = (): string => `${base}:${n++}`;
    let created = 0;
    // Stream starts and WS subscribes.
    for (let i = 0; i < 500; i++) {
      const listener = new RecordingListener();
      const subscription = await engine.subscribe(name(), listener);
      if (listener.outcome!.created) created++;
      subscription.unsubscribe();
    }
    // Poll resumes.
    for (let i = 0; i < 500; i++) if ((await engine.history(name(), { offset: 0, epoch: 'old' })).created) created++;
    // Polls without a cursor, 1,000 channels a request.
    for (let i = 0; i < 99; i++) {
      const positions = await engine.positions(Array.from({ length: 1000 }, name));
      created += positions.filter((p) => p.created).length;
    }
    expect(created).toBe(100_000);
    const published = name();
    const { epoch } = await engine.publish({ channel: published, data: 1 });

    // Each read-only key lives HISTORY_TTL_SECONDS after its read; then only the published channel's metadata is left.
    await eventually(async () => expect(await scanKeys(redis, keyPrefix)).toEqual([`${keyPrefix}{${published}}:m`]), 20_000, 500);
    expect(await redis.ttl(`${keyPrefix}{${published}}:m`)).toBeGreaterThan(retention.channelMetaTtlSeconds - 60);
    expect(await engine.positions([published], { create: false })).toEqual([{ offset: 1, epoch }]);
  }, 120_000);
});
