import type { PresenceService, PresenceTransition } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import type { Redis } from 'ioredis';

/**
 * The occupied channels, cluster-wide, for `GET /apps/<id>/channels`: the presence store
 * decides `channel.occupied` / `channel.vacated` exactly once per transition, and the
 * process that decided it records it here (a Redis set shared by every gateway; a Set with
 * the memory engine). Listing re-checks each name against the store's exact count, so a
 * record left behind by a gateway that died between the two writes is dropped on read.
 */
export class PusherChannelIndex {
  private readonly local = new Set<string>();

  constructor(
    private readonly presence: PresenceService,
    private readonly logger: Logger,
    private readonly redis?: Redis,
    private readonly key = 'sb:pusher:occupied',
  ) {
    presence.onTransition((t) => this.record(t));
  }

  /** Occupied channels whose name starts with `prefix`, each with its exact counts. */
  async occupied(prefix = ''): Promise<Array<{ channel: string; users: number; connections: number }>> {
    const names = this.redis === undefined ? [...this.local] : await this.redis.smembers(this.key);
    const result: Array<{ channel: string; users: number; connections: number }> = [];
    await Promise.all(
      names
        .filter((n) => n.startsWith(prefix))
        .map(async (channel) => {
          const count = await this.presence.count(channel);
          if (count.connections > 0) result.push({ channel, users: count.count, connections: count.connections });
          else if (this.redis !== undefined) await this.redis.srem(this.key, channel);
          else this.local.delete(channel);
        }),
    );
    return result.sort((a, b) => (a.channel < b.channel ? -1 : 1));
  }

  private record(t: PresenceTransition): void {
    if (t.type !== 'channel.occupied' && t.type !== 'channel.vacated') return;
    const add = t.type === 'channel.occupied';
    if (this.redis === undefined) {
      if (add) this.local.add(t.channel);
      else this.local.delete(t.channel);
      return;
    }
    (add ? this.redis.sadd(this.key, t.channel) : this.redis.srem(this.key, t.channel)).catch((err: unknown) =>
      this.logger.warn({ err, channel: t.channel }, 'pusher channel index not updated'),
    );
  }
}
