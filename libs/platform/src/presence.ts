import { loadChannelConfig, type CommonConfig } from '@switchboard/config';
import { createPresenceService, type PresenceService } from '@switchboard/engine';
import { presenceMetrics } from '@switchboard/observability';
import { hostname } from 'node:os';
import type { Platform } from './platform';

/** The settings presence reads (the gateway's and the notifier's config have them). */
export type PresenceConfig = CommonConfig & { CHANNEL_CONFIG?: string; PRESENCE_TTL_SECONDS: number; PRESENCE_MAX_MEMBERS: number };

const services = new WeakMap<Platform, Promise<PresenceService>>();

/**
 * The process's presence service (one per platform: in the single process the gateway and
 * the notifier share it), started on first use. Close it before the runtime.
 */
export function presenceService(platform: Platform<PresenceConfig>): Promise<PresenceService> {
  let service = services.get(platform);
  if (service === undefined) {
    const c = platform.config;
    const channelRules = loadChannelConfig(c.CHANNEL_CONFIG);
    // Lifecycle events go to EVENTS: a gateway deployed before any notifier must not find
    // it missing (its transitions would wait in the outbox, join/leave with them).
    const streams = channelRules.some((r) => r.lifecycleEvents) ? platform.runtime.eventBus.ensureStreams() : Promise.resolve();
    service = streams.then(() =>
      createPresenceService(
        platform.runtime,
        {
          ttlSeconds: c.PRESENCE_TTL_SECONDS,
          maxMembers: c.PRESENCE_MAX_MEMBERS,
          channelRules,
          redisKeyPrefix: c.REDIS_KEY_PREFIX,
          natsSubjectPrefix: c.NATS_SUBJECT_PREFIX,
          name: c.INSTANCE_NAME ?? hostname(),
        },
        platform.logger.child({ component: 'presence' }),
        presenceMetrics(platform.metrics),
      ),
    );
    services.set(platform, service);
  }
  return service;
}
