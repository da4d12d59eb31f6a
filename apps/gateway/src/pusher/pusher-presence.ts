import type { GatewayConfig } from '@switchboard/config';
import { ChannelOptionsRule, createPresenceService, PresenceService, PresenceSnapshot } from '@switchboard/engine';
import type { Platform } from '@switchboard/platform';
import { hostname } from 'node:os';
import { PusherChannelIndex } from './pusher-channel-index';

export const PUSHER_PRESENCE = Symbol('PusherPresence');

/** The Pusher transport's presence service, when any app is configured. */
export interface PusherPresence {
  readonly service?: PresenceService;
  readonly channels?: PusherChannelIndex;
}

/**
 * The member a connection is in a public or private channel: one user for all of them, so
 * the store counts the channel's connections (Pusher's `subscription_count`, `occupied`)
 * and decides `channel.occupied` / `channel.vacated`, without a member per connection.
 */
export const CHANNEL_SUBSCRIBER = 'pusher:subscriber';

export function isPresenceChannel(channel: string): boolean {
  return channel.startsWith('presence-');
}

export function isPrivateChannel(channel: string): boolean {
  return channel.startsWith('private-');
}

/**
 * What Pusher needs of the presence store: every Pusher channel is tracked (occupancy for
 * the HTTP API's channel queries and the `channel_occupied`/`channel_vacated` webhooks),
 * `presence-` channels with their members and join/leave signals. Transitions become
 * lifecycle CloudEvents only when some app has webhooks.
 */
export function pusherChannelRules(webhooks: boolean): ChannelOptionsRule[] {
  return [
    { match: 'presence-*', presence: true, joinLeave: true, lifecycleEvents: webhooks },
    { match: '*', presence: true, joinLeave: false, lifecycleEvents: webhooks },
  ];
}

/**
 * The presence service of the Pusher transport: the same store as the gateway's presence
 * (Redis, or the process's memory store), its own lease and rules. Undefined without apps.
 */
export async function createPusherPresence(platform: Platform): Promise<PusherPresence> {
  const c = platform.config as GatewayConfig;
  if (c.PUSHER_APPS.length === 0) return {};
  const webhooks = c.PUSHER_APPS.some((app) => app.webhooks.length > 0);
  const service = await createPresenceService(
    platform.runtime,
    {
      ttlSeconds: c.PRESENCE_TTL_SECONDS,
      maxMembers: c.PRESENCE_MAX_MEMBERS,
      channelRules: pusherChannelRules(webhooks),
      redisKeyPrefix: c.REDIS_KEY_PREFIX,
      natsSubjectPrefix: c.NATS_SUBJECT_PREFIX,
      name: `${c.INSTANCE_NAME ?? hostname()}-pusher`,
    },
    platform.logger,
  );
  const channels = new PusherChannelIndex(service, platform.logger, platform.runtime.redis, `${c.REDIS_KEY_PREFIX}pusher:occupied`);
  return { service, channels };
}

/** `pusher_internal:subscription_succeeded` data of a presence channel: `{presence:{ids,hash,count}}`. */
export function presenceData(snapshot: PresenceSnapshot): string {
  const ids: string[] = [];
  const hash: Record<string, unknown> = {};
  for (const m of snapshot.members) {
    ids.push(m.user);
    hash[m.user] = m.info;
  }
  return JSON.stringify({ presence: { ids, hash, count: snapshot.count } });
}
