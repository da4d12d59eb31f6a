import type { Redis } from 'ioredis';
import { RateLimit, RateLimiter } from './rate-limiter';

/** GCRA on the Redis clock (replicas' clocks may differ): returns the wait in ms, 0 = allowed. */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
return 0
`;

interface Commands {
  sbWebhookRateTake(key: string, intervalMs: number, toleranceMs: number): Promise<number>;
}

/** The rate limiter shared by every webhook-ingest replica: one key per source. */
export class RedisRateLimiter implements RateLimiter {
  private readonly commands: Commands;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand('sbWebhookRateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  async take(source: string, limit: RateLimit): Promise<number> {
    const interval = 1000 / limit.perSecond;
    return Number(
      await this.commands.sbWebhookRateTake(`${this.keyPrefix}webhook:{${source}}:rate`, interval, (limit.burst - 1) * interval),
    );
  }
}
