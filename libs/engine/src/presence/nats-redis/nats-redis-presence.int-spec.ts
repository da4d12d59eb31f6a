import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import type { Redis } from 'ioredis';
import { connectNats, connectRedis } from '../../nats-redis/connections';
import { JetStreamEventBus } from '../../nats-redis/jetstream-event-bus';
import { NatsHealth } from '../../nats-redis/nats-health';
import { describePresenceConformance, PresenceHarness, readStream } from '../presence.conformance';
import { NatsPresenceSignalBus } from './nats-presence-signal-bus';
import { RedisPresenceStore } from './redis-presence-store';

/** Every "gateway" gets its own Redis and NATS connections; names are unique to this harness. */
async function natsRedisHarness(): Promise<PresenceHarness> {
  const { natsUrl, redisUrl } = await requireSharedServers();
  const id = uniqueName('pr').replace(/-/g, '_');
  const keyPrefix = `${id}:`;
  const redises: Redis[] = [];
  const ncs: NatsConnection[] = [];
  const admin = await connectNats(natsUrl, 'presence-test', 5000);
  const names = { eventsStream: `EV_${id}`, eventsSubjectPrefix: `${id}.ev`, dlqStream: `DLQ_${id}`, dlqSubjectPrefix: `${id}.dlq` };
  const eventBus = await JetStreamEventBus.create(
    admin,
    new NatsHealth(admin),
    { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
    names,
  );
  await eventBus.ensureStreams();
  return {
    createStore: async () => {
      const redis = await connectRedis(redisUrl, 'presence-test', 5000);
      redises.push(redis);
      return new RedisPresenceStore(redis, { keyPrefix });
    },
    createSignals: async () => {
      const nc = await connectNats(natsUrl, 'presence-test', 5000);
      ncs.push(nc);
      return new NatsPresenceSignalBus(nc, new NatsHealth(nc), id);
    },
    eventBus,
    events: () => readStream(eventBus, names.eventsStream),
    close: async () => {
      const jsm = await jetstreamManager(admin);
      for (const stream of [names.eventsStream, names.dlqStream]) await jsm.streams.delete(stream).catch(() => undefined);
      await admin.close();
      for (const nc of ncs) await nc.close();
      const cleaner = redises[0] ?? (await connectRedis(redisUrl, 'presence-test', 5000));
      const keys = await cleaner.keys(keyPrefix + '*');
      if (keys.length > 0) await cleaner.del(...keys);
      cleaner.disconnect();
      for (const r of redises) r.disconnect();
    },
  };
}

describePresenceConformance('Redis + NATS', natsRedisHarness);
