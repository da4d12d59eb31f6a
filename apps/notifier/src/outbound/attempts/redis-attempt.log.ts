import type { Redis } from 'ioredis';
import { AttemptLog, AttemptQuery, AttemptStatus, DeliveryAttempt, ListedAttempt } from './attempt-log';

const STATUSES: readonly AttemptStatus[] = ['succeeded', 'failed'];

/** How often one key is trimmed by age and has its expiry renewed (count is trimmed on every write). */
const AGE_TRIM_INTERVAL_MS = 1000;

/**
 * The attempts log in Redis: one stream per endpoint and status,
 * `<REDIS_KEY_PREFIX>ob:{<endpoint>}:attempts:<status>` (one hash slot per endpoint), each
 * entry one JSON field. Every write trims by count (MAXLEN); about once a second per key
 * the same pipeline also trims by age (MINID) and renews the key's expiry, so an
 * endpoint's log never outgrows its limits and a busy one costs one command per attempt.
 * Reads stop at the age limit, so an entry past it is never listed even before it is trimmed.
 */
export class RedisAttemptLog implements AttemptLog {
  private readonly trimmedAt = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly maxAgeMs: number,
    private readonly maxPerStatus: number,
  ) {}

  async record(attempt: DeliveryAttempt): Promise<void> {
    const key = this.key(attempt.endpointId, attempt.status);
    const now = Date.now();
    const pipeline = this.redis.pipeline().xadd(key, 'MAXLEN', this.maxPerStatus, '*', 'a', JSON.stringify(attempt));
    if (now - (this.trimmedAt.get(key) ?? 0) >= AGE_TRIM_INTERVAL_MS) {
      if (this.trimmedAt.size >= 100_000) this.trimmedAt.clear();
      this.trimmedAt.set(key, now);
      pipeline.xtrim(key, 'MINID', String(now - this.maxAgeMs)).pexpire(key, this.maxAgeMs);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err !== null)?.[0];
    if (failed !== undefined && failed !== null) throw failed;
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
