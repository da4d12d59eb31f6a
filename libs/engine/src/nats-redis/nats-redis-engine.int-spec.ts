import type { NatsConnection } from '@nats-io/nats-core';
import { eventually, requireSharedServers, startPrivateServer, uniqueName } from '@switchboard/testing';
import type { Redis } from 'ioredis';
import { messageJsonParts, RetentionOptions } from '../channel-store';
import { Engine } from '../engine';
import { describeEngineConformance, EngineHarness, range, RecordingListener } from '../engine.conformance';
import { connectNats, connectRedis } from './connections';
import { NatsFanoutBus } from './nats-fanout-bus';
import { NatsHealth } from './nats-health';
import { RedisChannelStore } from './redis-channel-store';

interface Pod {
  engine: Engine;
  bus: NatsFanoutBus;
  store: RedisChannelStore;
  nc: NatsConnection;
  redis: Redis;
}

async function createPod(
  natsUrl: string,
  redisUrl: string,
  retention: RetentionOptions,
  keyPrefix: string,
  subjectPrefix: string,
  options = {},
): Promise<Pod> {
  const [nc, redis] = await Promise.all([connectNats(natsUrl, 'test-pod', 5000), connectRedis(redisUrl, 'test-pod', 5000)]);
  const store = new RedisChannelStore(redis, retention, keyPrefix);
  const bus = new NatsFanoutBus(nc, new NatsHealth(nc), subjectPrefix);
  return { engine: new Engine(store, bus, options), bus, store, nc, redis };
}

async function closePod(pod: Pod): Promise<void> {
  await pod.engine.close();
  await pod.nc.close();
  pod.redis.disconnect();
}

function natsRedisHarness(natsUrl: string, redisUrl: string) {
  return async (retention: RetentionOptions): Promise<EngineHarness> => {
    const keyPrefix = uniqueName('test') + ':';
    const subjectPrefix = uniqueName('t').replace(/-/g, '_');
    const pods = new Map<Engine, Pod>();
    const admin = await connectRedis(redisUrl, 'test-admin', 5000);
    const adminStore = new RedisChannelStore(admin, retention, keyPrefix);
    return {
      createEngine: async (options) => {
        const pod = await createPod(natsUrl, redisUrl, retention, keyPrefix, subjectPrefix, options);
        pods.set(pod.engine, pod);
        return pod.engine;
      },
      dropChannel: async (channel) => {
        const keys = adminStore.keys(channel);
        await admin.del(keys.meta, keys.history);
      },
      storeOnly: async (_engine, channel, data) => {
        const { result } = await adminStore.publish({ channel, data }, messageJsonParts({ channel, data }, Date.now()), Date.now());
        return result.offset;
      },
      busSubscriptions: (engine) => pods.get(engine)!.bus.listenerCount(),
      close: async () => {
        await Promise.all([...pods.values()].map(closePod));
        const keys = await admin.keys(keyPrefix + '*');
        if (keys.length > 0) await admin.del(...keys);
        admin.disconnect();
      },
    };
  };
}

let servers: { natsUrl: string; redisUrl: string };
beforeAll(async () => {
  servers = await requireSharedServers();
});

describeEngineConformance('NATS + Redis', (retention) => natsRedisHarness(servers.natsUrl, servers.redisUrl)(retention));

describe('NATS + Redis engine under faults', () => {
  const retention: RetentionOptions = {
    historySize: 1000,
    historyTtlSeconds: 300,
    channelMetaTtlSeconds: 3600,
    idempotencyWindowSeconds: 120,
  };

  it('sends a pod no fan-out traffic for channels it does not hold (NATS message count)', async () => {
    const harness = await natsRedisHarness(servers.natsUrl, servers.redisUrl)(retention);
    try {
      const publisher = await harness.createEngine();
      const holder = await harness.createEngine();
      const idle = await harness.createEngine();
      const c = uniqueName('idle') + ':x';
      const sub = new RecordingListener();
      await holder.subscribe(c, sub);
      const idleNc = (idle as unknown as { bus: NatsFanoutBus }).bus;
      expect(idleNc.listenerCount()).toBe(0);
      for (let i = 0; i < 50; i++) await publisher.publish({ channel: c, data: i });
      await eventually(() => expect(sub.messages).toHaveLength(50));
      expect(harness.busSubscriptions(idle)).toBe(0);
    } finally {
      await harness.close();
    }
  });

  it('catches up every held channel after the NATS server is killed and restarted mid-stream', async () => {
    const nats = await startPrivateServer('nats');
    const { redisUrl } = servers;
    const keyPrefix = uniqueName('fault') + ':';
    const subjectPrefix = uniqueName('f').replace(/-/g, '_');
    const subscriberPod = await createPod(nats.url, redisUrl, retention, keyPrefix, subjectPrefix);
    const publisherPod = await createPod(nats.url, redisUrl, retention, keyPrefix, subjectPrefix);
    try {
      const channels = [uniqueName('n') + ':a', uniqueName('n') + ':b'];
      const listeners = channels.map(() => new RecordingListener());
      await Promise.all(channels.map((c, i) => subscriberPod.engine.subscribe(c, listeners[i])));
      const total = 300;
      let restarted = false;
      for (let i = 1; i <= total; i++) {
        for (const c of channels) await publisherPod.engine.publish({ channel: c, data: i });
        if (i === 100) {
          await nats.kill('SIGKILL');
          restarted = true;
        }
        if (i === 200) await nats.start();
      }
      expect(restarted).toBe(true);
      for (const l of listeners) {
        await eventually(() => expect(l.offsets).toEqual(range(1, total)), 20000, 50);
        expect(l.lost).toBe(0);
      }
    } finally {
      await closePod(subscriberPod).catch(() => undefined);
      await closePod(publisherPod).catch(() => undefined);
      await nats.stop();
      const keys = await subscriberPod.redis.keys(keyPrefix + '*').catch(() => [] as string[]);
      void keys;
    }
  }, 60000);
});
