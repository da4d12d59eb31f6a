import { EngineLogger, noopLogger } from '../engine-options';
import type { EngineRuntime } from '../engine.factory';
import { NatsHealth } from '../nats-redis/nats-health';
import { ChannelOptionsResolver, ChannelOptionsRule } from './channel-options';
import { MemoryPresenceSignalBus } from './memory/memory-presence-signal-bus';
import { MemoryPresenceStore } from './memory/memory-presence-store';
import { NatsPresenceSignalBus } from './nats-redis/nats-presence-signal-bus';
import { RedisPresenceStore } from './nats-redis/redis-presence-store';
import { PresenceMetrics, noopPresenceMetrics, PresenceService } from './presence-service';
import { PresenceSignalBus } from './presence-signal-bus';
import { PresenceStore } from './presence-store';

export interface PresenceSettings {
  /** PRESENCE_TTL_SECONDS. */
  ttlSeconds: number;
  /** PRESENCE_MAX_MEMBERS. */
  maxMembers: number;
  /** CHANNEL_CONFIG's rules. */
  channelRules: readonly ChannelOptionsRule[];
  /** REDIS_KEY_PREFIX. */
  redisKeyPrefix: string;
  /** NATS_SUBJECT_PREFIX (signals go to `<prefix>_presence.<channel>`). */
  natsSubjectPrefix: string;
  /** Names this process in holder ids (INSTANCE_NAME or the host name). */
  name?: string;
}

/** One in-process backend per runtime, so every service of a single process shares it. */
const memoryBackends = new WeakMap<EngineRuntime, { store: PresenceStore; signals: PresenceSignalBus }>();

/**
 * The presence service of a process on its engine runtime's connections (Redis and NATS,
 * or in memory), started: its lease is registered and the heartbeat runs. Close it before
 * the runtime.
 */
export async function createPresenceService(
  runtime: EngineRuntime,
  settings: PresenceSettings,
  logger: EngineLogger = noopLogger,
  metrics: PresenceMetrics = noopPresenceMetrics,
): Promise<PresenceService> {
  let backend: { store: PresenceStore; signals: PresenceSignalBus };
  if (runtime.mode === 'memory' || runtime.redis === undefined || runtime.nats === undefined) {
    backend = memoryBackends.get(runtime) ?? { store: new MemoryPresenceStore(), signals: new MemoryPresenceSignalBus() };
    memoryBackends.set(runtime, backend);
  } else {
    backend = {
      store: new RedisPresenceStore(runtime.redis, { keyPrefix: settings.redisKeyPrefix }),
      signals: new NatsPresenceSignalBus(runtime.nats, new NatsHealth(runtime.nats, logger), settings.natsSubjectPrefix, logger),
    };
  }
  const service = new PresenceService(backend.store, backend.signals, runtime.eventBus, {
    ttlMs: settings.ttlSeconds * 1000,
    maxMembers: settings.maxMembers,
    channels: new ChannelOptionsResolver(settings.channelRules),
    name: settings.name,
    logger,
    metrics,
  });
  await service.start();
  return service;
}
