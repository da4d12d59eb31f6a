/** A source's request rate: `perSecond` sustained, `burst` at once after a quiet period. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * Per-source rate limiting (GCRA, i.e. a token bucket kept as one timestamp). With Redis
 * the bucket is shared by every replica; without (memory engine) it is per process.
 */
export interface RateLimiter {
  /** Counts one request; resolves 0 when allowed, else the milliseconds until one would be. */
  take(source: string, limit: RateLimit): Promise<number>;
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

/** The in-process limiter of the memory engine (one entry per configured source). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly tats = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  take(source: string, limit: RateLimit): Promise<number> {
    const { waitMs, tat } = gcra(this.tats.get(source), this.clock(), limit);
    this.tats.set(source, tat);
    return Promise.resolve(waitMs);
  }
}
