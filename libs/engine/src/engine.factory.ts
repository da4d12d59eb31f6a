import type { NatsConnection } from '@nats-io/nats-core';
import { RetentionOptions } from './channel-store';
import { Engine } from './engine';
import { EngineLogger, EngineMetrics, noopLogger, noopMetrics } from './engine-options';
import { EventBus, EventBusNames, EventBusRetention } from './event-bus';
import { MemoryChannelStore } from './memory/memory-channel-store';
import { MemoryEventBus } from './memory/memory-event-bus';
import { MemoryFanoutBus } from './memory/memory-fanout-bus';
import { connectNats, connectRedis, RedisClient, RedisTarget } from './nats-redis/connections';
import { JetStreamEventBus } from './nats-redis/jetstream-event-bus';
import { NatsFanoutBus } from './nats-redis/nats-fanout-bus';
import { NatsHealth } from './nats-redis/nats-health';
import { RedisChannelStore } from './nats-redis/redis-channel-store';

/** Messages a long-polled channel's feed keeps for polls a few behind (EngineOptions.recentMessages). */
const RECENT_MESSAGES = 8;

export interface EngineSettings {
  /** With both the engine runs on NATS + Redis; without, in memory. */
  natsUrl?: string;
  redis?: RedisTarget;
  redisKeyPrefix: string;
  natsSubjectPrefix: string;
  retention: RetentionOptions;
  eventBusNames: EventBusNames;
  eventBusRetention: EventBusRetention;
  streamReplicas: number;
  maxMessageBytes: number;
  gapWaitMs: number;
  syncIntervalMs: number;
  startupTimeoutMs: number;
  /** Client name shown by NATS and Redis. */
  clientName: string;
}

/** The engine and event bus of one process, with the connections they share. */
export interface EngineRuntime {
  readonly mode: 'memory' | 'nats-redis';
  readonly engine: Engine;
  readonly eventBus: EventBus;
  readonly nats?: NatsConnection;
  readonly redis?: RedisClient;
  /** Backend reachability by name: `nats` and `redis`, or `memory`. */
  readiness(): Record<string, boolean>;
  close(): Promise<void>;
}

export async function createEngineRuntime(
  settings: EngineSettings,
  logger: EngineLogger = noopLogger,
  metrics: EngineMetrics = noopMetrics,
): Promise<EngineRuntime> {
  const engineOptions = {
    maxMessageBytes: settings.maxMessageBytes,
    gapWaitMs: settings.gapWaitMs,
    syncIntervalMs: settings.syncIntervalMs,
    recentMessages: Math.min(RECENT_MESSAGES, settings.retention.historySize),
    logger,
    metrics,
  };
  if (settings.natsUrl === undefined || settings.redis === undefined) {
    const engine = new Engine(new MemoryChannelStore(settings.retention), new MemoryFanoutBus(), engineOptions);
    const eventBus = new MemoryEventBus(settings.eventBusRetention, settings.eventBusNames);
    await eventBus.ensureStreams();
    return {
      mode: 'memory',
      engine,
      eventBus,
      readiness: () => ({ memory: engine.isReady() }),
      close: async () => {
        await eventBus.close();
        await engine.close();
      },
    };
  }
  const [nats, redis] = await Promise.all([
    connectNats(settings.natsUrl, settings.clientName, settings.startupTimeoutMs, logger),
    connectRedis(settings.redis, settings.clientName, settings.startupTimeoutMs, logger),
  ]);
  try {
    const health = new NatsHealth(nats, logger);
    const store = new RedisChannelStore(redis, settings.retention, settings.redisKeyPrefix);
    const engine = new Engine(store, new NatsFanoutBus(nats, health, settings.natsSubjectPrefix, logger), engineOptions);
    const eventBus = await JetStreamEventBus.create(
      nats,
      health,
      settings.eventBusRetention,
      settings.eventBusNames,
      { replicas: settings.streamReplicas, setupTimeoutMs: settings.startupTimeoutMs },
      logger,
    );
    return {
      mode: 'nats-redis',
      engine,
      eventBus,
      nats,
      redis,
      readiness: () => ({ nats: health.isConnected(), redis: redis.status === 'ready' }),
      close: async () => {
        await eventBus.close();
        await engine.close();
        await nats.drain().catch(() => nats.close());
        redis.disconnect();
      },
    };
  } catch (err) {
    await nats.close();
    redis.disconnect();
    throw err;
  }
}
