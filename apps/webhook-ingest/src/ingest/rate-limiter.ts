/** A request rate: `perSecond` sustained, `burst` at once after a quiet period. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * Rate limiting by key (GCRA, i.e. a token bucket kept as one timestamp). The ingest keeps
 * two: one bucket per source (verified deliveries) and one per client address (every
 * request, before its body is read). With Redis the buckets are shared by every replica;
 * without (memory engine) they are per process.
 */
export interface RateLimiter {
  /** Counts one request; resolves 0 when allowed, else the milliseconds until one would be. */
  take(key: string, limit: RateLimit): Promise<number>;
  /** Gives back one request taken earlier (never more than a full bucket). */
  refund(key: string, limit: RateLimit): Promise<void>;
}

/**
 * The GCRA step: given the stored "theoretical arrival time", returns the wait (0 = allowed)
 * and the new TAT. Shared by the memory limiter and mirrored by the Redis script.
 */
export function gcra(tat: number | undefined, now: number, limit: RateLimit): { waitMs: number; tat: number } {
  const interval = 1000 / limit.perSecond;
  const start = Math.max(tat ?? now, now);
  const waitMs = start - (limit.burst - 1) * interval - now;
  if (waitMs > 0) return { waitMs, tat: start };
  return { waitMs: 0, tat: start + interval };
}

/** Buckets the in-process limiter keeps at most; full buckets (nothing taken) are dropped first. */
export const MEMORY_LIMITER_MAX_KEYS = 100_000;

/**
 * The in-process limiter of the memory engine. A bucket whose TAT has passed is full, the
 * same as no bucket, so those are dropped when the map is full; past that the least
 * recently used go (a client among more than MEMORY_LIMITER_MAX_KEYS busy ones may then get
 * a fresh bucket: memory stays bounded).
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly tats = new Map<string, number>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly maxKeys = MEMORY_LIMITER_MAX_KEYS,
  ) {}

  take(key: string, limit: RateLimit): Promise<number> {
    const now = this.clock();
    const { waitMs, tat } = gcra(this.tats.get(key), now, limit);
    this.set(key, tat, now);
    return Promise.resolve(waitMs);
  }

  refund(key: string, limit: RateLimit): Promise<void> {
    const tat = this.tats.get(key);
    if (tat !== undefined) this.set(key, tat - 1000 / limit.perSecond, this.clock());
    return Promise.resolve();
  }

  /** Buckets currently kept. */
  get size(): number {
    return this.tats.size;
  }

  private set(key: string, tat: number, now: number): void {
    this.tats.delete(key);
    if (tat <= now) return;
    // Re-inserted: the map's order is least recently used first.
    this.tats.set(key, tat);
    if (this.tats.size <= this.maxKeys) return;
    for (const [k, t] of this.tats) if (t <= now) this.tats.delete(k);
    for (const k of this.tats.keys()) {
      if (this.tats.size <= this.maxKeys) break;
      this.tats.delete(k);
    }
  }
}
