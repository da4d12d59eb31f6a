export * from './channel-engine';
export * from './channel-store';
export * from './engine';
export * from './engine-options';
export * from './engine.factory';
export * from './event-bus';
export * from './fanout-bus';
export * from './stored-message';
export { MemoryChannelStore } from './memory/memory-channel-store';
export { MemoryEventBus } from './memory/memory-event-bus';
export { MemoryFanoutBus } from './memory/memory-fanout-bus';
export { applyStreamReplicas, StreamReplicasError } from './nats-redis/stream-replicas';
export {
  coalesceWrites,
  connectNats,
  connectRedis,
  createRedisClient,
  describeRedisTarget,
  redactUrl,
  redisTargetFromConfig,
} from './nats-redis/connections';
export type { RedisClient, RedisTarget } from './nats-redis/connections';
export { JetStreamEventBus } from './nats-redis/jetstream-event-bus';
export { isTransientJetStreamError, retryJetStreamSetup } from './nats-redis/jetstream-setup';
export { channelSubject, NatsFanoutBus } from './nats-redis/nats-fanout-bus';
export { NatsHealth } from './nats-redis/nats-health';
export { RedisChannelStore } from './nats-redis/redis-channel-store';
export * from './presence';
