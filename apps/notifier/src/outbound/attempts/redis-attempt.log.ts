import type { Redis } from 'ioredis';
import { AttemptLog, AttemptQuery, AttemptStatus, DeliveryAttempt, ListedAttempt } from './attempt-log';

const STATUSES: readonly AttemptStatus[] = ['succeeded', 'failed'];

/**
 * The attempts log in Redis: one stream per endpoint and status,
 * `<REDIS_KEY_PREFIX>ob:{<endpoint>}:attempts:<status>` (one hash slot per endpoint), each
 * entry one JSON field. Every record trims by count (MAXLEN) and age (MINID) and renews
 * the key's expiry, in one pipelined round trip, so an endpoint's log never outgrows its limits.
 */
export class RedisAttemptLog implements AttemptLog {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly maxAgeMs: number,
    private readonly maxPerStatus: number,
  ) {}

  async record(attempt: DeliveryAttempt): Promise<void> {
    const key = this.key(attempt.endpointId, attempt.status);
    const minId = String(Date.now() - this.maxAgeMs);
    await this.redis
      .pipeline()
      .xadd(key, 'MAXLEN', this.maxPerStatus, '*', 'a', JSON.stringify(attempt))
      .xtrim(key, 'MINID', minId)
      .pexpire(key, this.maxAgeMs)
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err !== null)?.[0];
        if (failed !== undefined && failed !== null) throw failed;
      });
  }

  async list(endpointId: string, query: AttemptQuery): Promise<ListedAttempt[]> {
    const statuses = query.status === undefined ? STATUSES : [query.status];
    const end = query.before === undefined ? '+' : `(${query.before}`;
    const start = String(Date.now() - this.maxAgeMs);
    const pages = await Promise.all(statuses.map((s) => this.redis.xrevrange(this.key(endpointId, s), end, start, 'COUNT', query.limit)));
    const merged: Array<[string, string]> = [];
    for (const page of pages) for (const [id, fields] of page) merged.push([id, fields[1]]);
    merged.sort((a, b) => compareIds(b[0], a[0]));
    return merged.slice(0, query.limit).map(([id, json]) => ({ id, ...(JSON.parse(json) as DeliveryAttempt) }));
  }

  async removeEndpoint(endpointId: string): Promise<void> {
    await this.redis.del(...STATUSES.map((s) => this.key(endpointId, s)));
  }

  private key(endpointId: string, status: AttemptStatus): string {
    return `${this.keyPrefix}ob:{${endpointId}}:attempts:${status}`;
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}
