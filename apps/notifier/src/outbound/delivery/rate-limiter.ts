import type { RedisClient } from '@switchboard/engine';

/**
 * Per-endpoint attempt rate (`rateLimitPerSecond`), shared by every replica: a GCRA bucket
 * that allows a second's worth of attempts at once, then one per 1/rate s.
 */
export interface RateLimiter {
  /** Takes one attempt's place now and resolves 0, or resolves how many ms to wait before asking again. */
  acquire(endpointId: string, perSecond: number): Promise<number>;
}

/** GCRA state update: returns the wait (0 = allowed and counted). Shared by both implementations. */
function gcra(tat: number, now: number, perSecond: number): { wait: number; tat: number } {
  const interval = 1000 / perSecond;
  const tolerance = interval * (Math.max(1, Math.floor(perSecond)) - 1);
  const start = Math.max(tat, now);
  if (start - now > tolerance) return { wait: Math.ceil(start - now - tolerance), tat };
  return { wait: 0, tat: start + interval };
}

/** The limiter of one process (the single process without Redis). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly tats = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  acquire(endpointId: string, perSecond: number): Promise<number> {
    const now = this.now();
    const result = gcra(this.tats.get(endpointId) ?? now, now, perSecond);
    if (result.wait === 0) this.tats.set(endpointId, result.tat);
    if (this.tats.size > 100_000) for (const [k, t] of this.tats) if (t < now) this.tats.delete(k);
    return Promise.resolve(result.wait);
  }
}

/** The same GCRA on the Redis clock, one key per endpoint, so the rate holds across replicas. */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then return math.ceil(tat - now - tolerance) end
local nexttat = tat + interval
redis.call('SET', KEYS[1], tostring(nexttat), 'PX', math.ceil(nexttat - now) + 1000)
return 0
`;

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  async acquire(endpointId: string, perSecond: number): Promise<number> {
    const interval = 1000 / perSecond;
    const tolerance = interval * (Math.max(1, Math.floor(perSecond)) - 1);
    const wait = await this.redis.eval(GCRA_SCRIPT, 1, `${this.keyPrefix}ob:{${endpointId}}:rate`, String(interval), String(tolerance));
    return Number(wait);
  }
}

export { gcra as gcraStep };
